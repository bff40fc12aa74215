/**
 * `ringwal dump DIR`: entries as NDJSON (`{"lsn":…,"ts":…,"value":…}`, values mapped to JSON as
 * src/cli/json-value.ts says), as a table, or as `lines`: each value alone on its line, a
 * string as it is (so a log of text lines, such as `ringwal/pino`'s, comes back as written). It reads with readWal, so it is safe on a live
 * log. Output respects the pipe: it waits when the reader is slow and, when the reader goes
 * away (`| head -1`), stops reading the log and exits quietly.
 */
import { Command, Option } from 'commander';
import { RECOVERY_MODES, type RecoveryMode } from '../reader/policy.js';
import { readWal } from '../reader/read-wal.js';
import { integerIn, MAX_LSN } from './args.js';
import type { Context } from './context.js';
import { CliError, usageError } from './errors.js';
import { jsonText } from './json-value.js';
import { openLogDir } from './log-dir.js';
import { printWarning } from './output.js';

export interface DumpOptions {
  from?: number;
  to?: number;
  limit?: number;
  format: 'ndjson' | 'table' | 'lines';
  json?: boolean;
  recovery: RecoveryMode;
}

export function dumpCommand(ctx: Context): Command {
  return new Command('dump')
    .description(
      'print entries (lsn, ts, value) as NDJSON or a table, or their values as lines; safe on a live log',
    )
    .argument('<dir>', 'the log directory')
    .addOption(new Option('--from <lsn>', 'first LSN to print').argParser(integerIn(1, MAX_LSN)))
    .addOption(new Option('--to <lsn>', 'last LSN to print').argParser(integerIn(1, MAX_LSN)))
    .addOption(new Option('--limit <n>', 'print at most this many entries').argParser(integerIn(0, MAX_LSN)))
    .addOption(
      new Option('--format <format>', 'output format')
        .choices(['ndjson', 'table', 'lines'])
        .default('ndjson'),
    )
    .addOption(
      new Option('--recovery <mode>', 'what to do with damage, as readWal: stop with an error, or pass it')
        .choices(RECOVERY_MODES)
        .default('tolerate-tail'),
    )
    .addOption(
      new Option('--json', 'the same as --format ndjson: one JSON object per line, nothing else on stdout'),
    )
    .addHelpText(
      'after',
      `
Example:
  $ ringwal dump ./data/wal --from 100 --limit 10
  $ ringwal dump ./data/wal | jq -c 'select(.value.op == "set") | .value.key'
  $ ringwal dump ./data/wal --format table --to 20
  $ ringwal dump ./logs --format lines | pino-pretty

Each NDJSON line is {"lsn":N,"ts":MS,"value":V}; ts is milliseconds since the epoch. Values
the JSON cannot hold are shown as: Buffer/Uint8Array {"$buffer":"<base64>"}, BigInt "123",
Date "2026-12-07T08:51:53.946Z", NaN/Infinity "NaN"/"Infinity"/"-Infinity", undefined null.
--format lines prints each value alone on its line: a string as it is (the lines a
ringwal/pino destination stored come back exactly as pino wrote them), anything else as JSON.
Damage ends the dump with WAL_CORRUPT (exit 1) unless --recovery says otherwise
(point-in-time: stop there; skip-corrupt: skip it); each skip is a warning on stderr.`,
    )
    .action(async (dir: string, options: DumpOptions) => {
      ctx.what = `dump ${dir}`;
      if (options.json && options.format !== 'ndjson')
        throw usageError(`--json and --format ${options.format} contradict each other`);
      if (options.from !== undefined && options.to !== undefined && options.from > options.to) {
        throw usageError(`--from ${options.from} is after --to ${options.to}`);
      }
      await dump(ctx, dir, options.json ? { ...options, format: 'ndjson' } : options);
    });
}

async function dump(ctx: Context, dir: string, options: DumpOptions): Promise<void> {
  const log = openLogDir(dir);
  const out = ctx.out;
  const to = options.to ?? Number.POSITIVE_INFINITY;
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  if (limit === 0) return;
  const table = options.format === 'table';
  const lines = options.format === 'lines';
  // A terminal row is cut to the terminal's width; a pipe or a file gets whole values.
  const width = table && ctx.io.stdoutIsTTY && ctx.io.columns ? ctx.io.columns : Number.POSITIVE_INFINITY;
  const lsnWidth = Math.max(8, Number.isFinite(to) ? String(to).length : 0);
  if (table) out.print(`${'LSN'.padStart(lsnWidth)}  ${'time'.padEnd(24)}  value\n`);
  let printed = 0;
  const entries = readWal(log.path, {
    fromLsn: options.from ?? 1,
    recovery: options.recovery,
    onCorruption: (r) => printWarning(ctx.io, ctx.what, `${r.segment} ${r.offset} ${r.reason}: ${r.action}`),
  });
  // Leaving this loop early (a full count, --to, a reader gone) returns the generator, which
  // closes the segment it was reading: nothing more of the log is read.
  for await (const entry of entries) {
    if (entry.lsn > to || out.closed) break;
    let line: string;
    if (table) {
      line = `${String(entry.lsn).padStart(lsnWidth)}  ${new Date(entry.ts).toISOString().padEnd(24)}  ${jsonText(entry.value)}`;
      if (line.length > width) line = `${line.slice(0, Math.max(0, width - 1))}…`;
    } else if (lines) {
      line = typeof entry.value === 'string' ? entry.value : jsonText(entry.value);
    } else {
      line = `{"lsn":${entry.lsn},"ts":${entry.ts},"value":${jsonText(entry.value)}}`;
    }
    const wait = out.write(`${line}\n`);
    if (wait) await wait;
    if (++printed >= limit) break;
  }
  if (out.failure) throw new CliError(`cannot write to stdout: ${out.failure.message}`);
}
