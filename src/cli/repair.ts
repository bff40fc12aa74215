/**
 * `ringwal repair DIR --mode point-in-time|skip-corrupt`: applies a recovery mode offline, by
 * opening the log in that mode and closing it: the code path of `openWal`, which copies what
 * it cuts next to the segment before cutting (docs/FORMAT.md "Recovery modes"). It takes the
 * lock like any open, so it refuses while another process has the log open. `--break-lock`
 * passes `breakLock: true`: for a lock whose holder cannot be judged from here (another host,
 * another PID namespace without kernel locks); openWal still refuses it while the holder is
 * provably alive.
 *
 * `--dry-run` runs the same recovery code (`recoverOnOpen`, then `resumeCheckpoint`, as the
 * writer does on open) over a file system that reads the real files and changes none
 * (src/cli/dry-run-fs.ts), without the lock. The readers could not predict it: they never
 * report a torn tail (for them it is the end of a live log), and in skip-corrupt mode they
 * report damage in sealed segments that open never reads.
 */
import { Command, Option } from 'commander';
import { ErrorCode, WalError } from '../errors.js';
import { openWal } from '../open.js';
import type { CorruptionReport } from '../reader/policy.js';
import { recoverOnOpen } from '../recovery/open-scan.js';
import { resumeCheckpoint } from '../writer/resume.js';
import { jsonOption } from './args.js';
import type { Context } from './context.js';
import { DryRunFileSystem } from './dry-run-fs.js';
import { CliError } from './errors.js';
import { lockStatus, lockText, openLogDir } from './log-dir.js';
import { count, printJson, printWarning } from './output.js';

export const REPAIR_MODES = ['point-in-time', 'skip-corrupt'] as const;
export type RepairMode = (typeof REPAIR_MODES)[number];

export interface RepairResult {
  dir: string;
  mode: RepairMode;
  dryRun: boolean;
  /** LSN of the last entry kept: appends go on after it. */
  lastLsn: number;
  /** Every drop, as open reports it (`wal.recoveryReport.corruptions`): what was cut or left, and where the bytes are kept. */
  reports: CorruptionReport[];
  /** --dry-run: each file change open would make (copies, truncations, renames, draft removals). */
  changes?: string[];
}

export function repairCommand(ctx: Context): Command {
  return new Command('repair')
    .description('apply a recovery mode offline (open in that mode, close); keeps a copy of whatever it cuts')
    .argument('<dir>', 'the log directory')
    .addOption(
      new Option(
        '--mode <mode>',
        'point-in-time: cut the log at the first damage; skip-corrupt: keep every readable entry',
      )
        .choices(REPAIR_MODES)
        .makeOptionMandatory(),
    )
    .option('--dry-run', 'report what would be cut, kept and renamed; change nothing, take no lock')
    .option(
      '--break-lock',
      'take over a lock whose holder cannot be judged from here (e.g. another host); refused while it is provably alive',
    )
    .addOption(jsonOption('the result'))
    .addHelpText(
      'after',
      `
Example:
  $ ringwal repair ./data/wal --mode point-in-time --dry-run
  $ ringwal repair ./data/wal --mode point-in-time

Stop the process that writes the log first: repair refuses a log that is open (WAL_LOCKED).
A lock left by another host (a shared disk moved over) needs --break-lock, once you have
made sure nothing there writes the log any more.
Nothing is deleted: bytes cut from a segment are kept in <segment>.torn-<offset> or
<segment>.broken-<offset>, whole segments renamed to <segment>.broken, in the log directory.
skip-corrupt only sets aside a torn or headerless tail; other damage is left in place, and
readers must read with recovery 'skip-corrupt' to pass it.`,
    )
    .action(
      async (
        dir: string,
        options: { mode: RepairMode; dryRun?: boolean; breakLock?: boolean; json?: boolean },
      ) => {
        ctx.what = `repair ${dir}`;
        const result = options.dryRun
          ? dryRun(ctx, dir, options.mode)
          : await repair(dir, options.mode, options.breakLock === true);
        if (options.json) printJson(ctx.out, result);
        else ctx.out.print(repairText(result));
      },
    );
}

async function repair(dir: string, mode: RepairMode, breakLock: boolean): Promise<RepairResult> {
  const log = openLogDir(dir);
  let wal: Awaited<ReturnType<typeof openWal>>;
  try {
    wal = await openWal(log.path, { recovery: mode, flushOnExit: false, breakLock });
  } catch (e) {
    if (e instanceof WalError && e.code === ErrorCode.LOCKED) {
      const holder = e.holder
        ? `process ${e.holder.pid}${e.holder.host ? ` on host ${JSON.stringify(e.holder.host)}` : ''}${e.holder.since ? ` since ${e.holder.since}` : ''}`
        : 'another process';
      // openWal suggests `{ breakLock: true }` only where the holder cannot be judged from here.
      const advice = e.message.includes('{ breakLock: true }')
        ? 'stop it first (repair works on a closed log), or pass --break-lock once sure nothing there writes it'
        : 'stop it first (repair works on a closed log)';
      throw new CliError(`${ErrorCode.LOCKED}: the log is open in ${holder}; ${advice}. ${e.message}`);
    }
    throw e;
  }
  const { lastLsn, corruptions } = wal.recoveryReport;
  await wal.close();
  return { dir: log.path, mode, dryRun: false, lastLsn, reports: corruptions };
}

function dryRun(ctx: Context, dir: string, mode: RepairMode): RepairResult {
  const log = openLogDir(dir);
  const lock = lockStatus(log.path);
  if (lock.state === 'alive' || lock.state === 'unknown') {
    printWarning(
      ctx.io,
      ctx.what,
      `lock ${lockText(lock)}: repair itself would refuse; what is being written now may show as a torn tail`,
    );
  }
  const fsys = new DryRunFileSystem();
  const state = recoverOnOpen(fsys, log.path, mode);
  resumeCheckpoint(fsys, log.path, mode, state);
  return {
    dir: log.path,
    mode,
    dryRun: true,
    lastLsn: state.lastLsn,
    reports: state.corruptions,
    changes: fsys.changes,
  };
}

export function repairText(r: RepairResult): string {
  const lines: string[] = [];
  for (const c of r.reports) {
    const lsns = c.lsns ? ` (LSN ${c.lsns.from} to ${c.lsns.to ?? 'the end'})` : '';
    lines.push(
      `${c.segment} ${c.offset} ${c.kind}, ${count(c.bytes)} bytes${lsns}: ${c.reason}`,
      `  ${r.dryRun ? 'to do' : 'done'}: ${c.action}`,
    );
  }
  const end = r.lastLsn > 0 ? `LSN ${r.lastLsn}` : 'no entry (an empty log)';
  if (r.reports.length === 0) {
    lines.push(`nothing to cut in ${r.mode} mode: the log ends at ${end}`);
    if (r.mode === 'skip-corrupt') {
      lines.push(
        "(skip-corrupt reads sealed segments' headers only; 'ringwal verify' finds damage that readers in this mode skip)",
      );
    }
  } else if (r.dryRun) {
    lines.push(`dry run (${r.mode}): nothing was changed; after a repair the log would end at ${end}`);
  } else if (r.reports.every((c) => c.action.startsWith('left in place'))) {
    lines.push(`repaired (${r.mode}): nothing was cut; the log ends at ${end}`);
  } else {
    lines.push(`repaired (${r.mode}): the log ends at ${end}; cut bytes are kept in ${r.dir}`);
  }
  return `${lines.join('\n')}\n`;
}
