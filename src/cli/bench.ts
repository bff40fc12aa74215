/**
 * `ringwal bench`: the main job (`npm start`). A durable workload, then its recovery:
 *
 * 1. append N standard entries (src/cli/standard-entry.ts) with K in flight, each
 *    acknowledged per the sync mode (`'always'`: once fdatasync'd), timing every ack;
 * 2. close, then reopen the directory as a restart after a crash would (the recovery scan);
 * 3. read every entry back and check LSNs are gapless and each entry is the one appended.
 *
 * Progress goes to stderr; the summary (throughput, ack-latency percentiles and histogram,
 * group commits, recovery) to stdout, or with --json only the summary as JSON. Exit 1 if the
 * check fails.
 */

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import type { WalMetrics } from '../metrics.js';
import { openWal } from '../open.js';
import type { SyncMode } from '../options.js';
import { readWal } from '../reader/read-wal.js';
import { segmentsAmong } from '../segment/naming.js';
import { integerIn } from './args.js';
import type { Context } from './context.js';
import { CliError, EXIT } from './errors.js';
import { type Bucket, histogramLines, logHistogram, type Percentiles, percentiles } from './latency.js';
import { openLogDir } from './log-dir.js';
import { bytesText, count, printJson } from './output.js';
import { clock, Progress } from './progress.js';
import { standardEntry } from './standard-entry.js';

/** Ack latencies are kept one float32 each (4 bytes): 100 million entries take 400 MB. */
const MAX_ENTRIES = 100_000_000;

export interface BenchOptions {
  entries: number;
  inFlight: number;
  sync: SyncMode;
  dir?: string;
  keep?: boolean;
  json?: boolean;
  quiet?: boolean;
}

export interface BenchSummary {
  node: string;
  dir: string;
  kept: boolean;
  entries: number;
  inFlight: number;
  sync: SyncMode;
  append: { seconds: number; entriesPerSecond: number };
  ackLatencyMs: Percentiles & { histogram: Bucket[] };
  commits: {
    groupCommits: number;
    entriesPerCommit: number;
    fdatasyncs: number;
    fdatasyncMeanMs: number;
    fdatasyncMaxMs: number;
  };
  onDisk: { bytes: number; segments: number };
  recovery: { reopenMs: number; lastLsn: number; readEntries: number; readSeconds: number };
  check: { ok: boolean; mismatches: number; message: string };
}

export function benchCommand(ctx: Context): Command {
  return new Command('bench')
    .description('a durable workload, then its recovery and a read-back check, with progress and a summary')
    .addOption(
      new Option('--entries <n>', 'entries to append').argParser(integerIn(1, MAX_ENTRIES)).default(200_000),
    )
    .addOption(
      new Option('--in-flight <n>', 'appends awaiting their ack at once')
        .argParser(integerIn(1, 1_000_000))
        .default(1024),
    )
    .addOption(
      new Option('--sync <mode>', "the log's sync mode")
        .choices(['always', 'interval', 'none'])
        .default('always'),
    )
    .option(
      '--dir <path>',
      'write the log here and keep it (an empty or new directory, or an existing log to append to)',
    )
    .option('--keep', 'keep the temporary log directory')
    .option('--quiet', 'no progress on stderr')
    .addOption(new Option('--json', 'print only the summary, as JSON, on stdout'))
    .addHelpText(
      'after',
      `
Example:
  $ ringwal bench --entries 50000
  $ ringwal bench --in-flight 1 --entries 2000 --json | jq .ackLatencyMs

Progress goes to stderr: a bar on a terminal, otherwise one line a second.
With --sync always (the default) every entry is fdatasync'd before its ack.`,
    )
    .action(async (options: BenchOptions) => {
      ctx.what = 'bench';
      const summary = await bench(ctx, options);
      if (options.json) printJson(ctx.out, summary);
      else ctx.out.print(summaryText(summary));
      ctx.exitCode = summary.check.ok ? EXIT.OK : EXIT.FOUND;
    });
}

/** The directory to write: --dir (created if missing; an existing one must be empty or a log), or a new temporary one. */
function benchDir(options: BenchOptions): { dir: string; keep: boolean } {
  if (options.dir === undefined) {
    return { dir: fs.mkdtempSync(path.join(os.tmpdir(), 'ringwal-bench-')), keep: options.keep === true };
  }
  const dir = path.resolve(options.dir);
  let stat: fs.Stats | null = null;
  try {
    stat = fs.statSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new CliError(`--dir ${options.dir}: ${(e as Error).message}`);
  }
  if (stat && !stat.isDirectory()) throw new CliError(`--dir ${options.dir}: not a directory`);
  if (stat && fs.readdirSync(dir).length > 0) {
    try {
      openLogDir(dir);
    } catch (e) {
      throw new CliError(`--dir ${options.dir}: ${(e as Error).message}; give a new, empty or log directory`);
    }
  }
  return { dir, keep: true };
}

async function bench(ctx: Context, options: BenchOptions): Promise<BenchSummary> {
  const { dir, keep } = benchDir(options);
  const say = (line: string) => {
    if (!options.json) ctx.out.print(`${line}\n`);
  };
  const progress = (label: string, total: number, done: () => number) =>
    options.quiet ? null : new Progress(ctx.err, ctx.io.stderrIsTTY, label, total, done).start();
  // Ctrl-C (or a kill) must not leave a temporary log of perhaps gigabytes behind: signals
  // end the process without running the `finally` below.
  const interrupted = (signal: NodeJS.Signals): void => {
    fs.rmSync(dir, { recursive: true, force: true });
    ctx.io.stderr.write(`\nringwal: bench: interrupted (${signal}); removed ${dir}\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  const cleanUpOnSignal = !keep && ctx.io.ownsProcess;
  if (cleanUpOnSignal) for (const signal of SIGNALS) process.once(signal, interrupted);
  try {
    const { entries, inFlight, sync } = options;
    say(
      `ringwal bench: ${count(entries)} entries, ${count(inFlight)} in flight, sync '${sync}', Node ${process.version}`,
    );
    say(`directory: ${dir}`);

    // A temporary log the bin removes when interrupted has nothing to flush at exit.
    const wal = await openWal(dir, { sync, flushOnExit: !cleanUpOnSignal });
    const startLsn = wal.lastLsn;
    const latencies = new Float32Array(entries);
    let acked = 0;
    const appendProgress = progress('append ', entries, () => acked);
    const t0 = performance.now();
    let metrics: WalMetrics;
    try {
      await new Promise<void>((resolve, reject) => {
        let issued = 0;
        const issue = (): void => {
          const i = issued++;
          const started = performance.now();
          wal.append(standardEntry(i)).then(() => {
            latencies[i] = performance.now() - started;
            acked++;
            if (issued < entries) issue();
            else if (acked === entries) resolve();
          }, reject);
        };
        for (let k = 0; k < Math.min(inFlight, entries); k++) issue();
      });
    } finally {
      appendProgress?.stop();
      metrics = wal.metrics();
      await wal.close().catch(() => {});
    }
    const writeSeconds = (performance.now() - t0) / 1000;
    latencies.sort();

    const r0 = performance.now();
    const reopened = await openWal(dir);
    const reopenMs = performance.now() - r0;
    const lastLsn = reopened.lastLsn;
    await reopened.close();
    let read = 0;
    let mismatches = 0;
    let expectedLsn = 1;
    const readProgress = progress('read   ', lastLsn, () => read);
    try {
      for await (const entry of readWal(dir)) {
        if (entry.lsn !== expectedLsn++) mismatches++;
        if (entry.lsn > startLsn) {
          const want = (standardEntry(entry.lsn - startLsn - 1) as { key: string }).key;
          if ((entry.value as { key?: unknown } | null)?.key !== want) mismatches++;
        }
        read++;
      }
    } finally {
      readProgress?.stop();
    }
    const readSeconds = (performance.now() - r0) / 1000;

    const segments = segmentsAmong(dir, fs.readdirSync(dir));
    const bytes = segments.reduce((sum, s) => sum + fs.statSync(s.path).size, 0);
    const ok = mismatches === 0 && read === lastLsn && lastLsn === startLsn + entries;
    const p = percentiles(latencies);
    const syncs = Math.max(1, metrics.syncs);
    return {
      node: process.version,
      dir,
      kept: keep,
      entries,
      inFlight,
      sync,
      append: { seconds: round(writeSeconds, 3), entriesPerSecond: Math.round(entries / writeSeconds) },
      ackLatencyMs: {
        p50: round(p.p50, 4),
        p90: round(p.p90, 4),
        p99: round(p.p99, 4),
        p999: round(p.p999, 4),
        max: round(p.max, 4),
        histogram: logHistogram(latencies),
      },
      commits: {
        groupCommits: metrics.writes,
        entriesPerCommit: round(entries / Math.max(1, metrics.writes), 1),
        fdatasyncs: metrics.syncs,
        fdatasyncMeanMs: round(metrics.syncMsTotal / syncs, 4),
        fdatasyncMaxMs: round(metrics.syncMsMax, 3),
      },
      onDisk: { bytes, segments: segments.length },
      recovery: {
        reopenMs: round(reopenMs, 1),
        lastLsn,
        readEntries: read,
        readSeconds: round(readSeconds, 3),
      },
      check: {
        ok,
        mismatches,
        message: ok
          ? 'every acknowledged entry read back, LSNs gapless'
          : `FAILED: ${mismatches} mismatches; read ${read} entries, last LSN ${lastLsn}, expected ${startLsn + entries}`,
      },
    };
  } finally {
    for (const signal of SIGNALS) process.off(signal, interrupted);
    if (!keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export function summaryText(s: BenchSummary): string {
  const lat = s.ackLatencyMs;
  const ms = (n: number) => n.toFixed(3);
  const lines = [
    '',
    'summary',
    `  appended     ${count(s.entries)} entries in ${clock(s.append.seconds)} = ${count(s.append.entriesPerSecond)} ${s.sync === 'always' ? 'durable ' : ''}entries/s`,
    `  ack latency  p50 ${ms(lat.p50)} ms, p90 ${ms(lat.p90)} ms, p99 ${ms(lat.p99)} ms, p99.9 ${ms(lat.p999)} ms, max ${ms(lat.max)} ms`,
    ...histogramLines(lat.histogram, s.entries).map((line) => `    ${line}`),
    `  commits      ${count(s.commits.groupCommits)} group commits (${s.commits.entriesPerCommit} entries each), ${count(s.commits.fdatasyncs)} fdatasyncs: mean ${ms(s.commits.fdatasyncMeanMs)} ms, max ${s.commits.fdatasyncMaxMs.toFixed(1)} ms`,
    `  on disk      ${bytesText(s.onDisk.bytes)} in ${s.onDisk.segments} segment${s.onDisk.segments === 1 ? '' : 's'}${s.kept ? ` (kept in ${s.dir})` : ''}`,
    `  recovery     reopen ${s.recovery.reopenMs.toFixed(1)} ms (last LSN ${s.recovery.lastLsn}); read ${count(s.recovery.readEntries)} entries in ${clock(s.recovery.readSeconds)}`,
    `  check        ${s.check.ok ? 'OK: ' : ''}${s.check.message}`,
  ];
  return `${lines.join('\n')}\n`;
}
