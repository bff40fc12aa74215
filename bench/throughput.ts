/**
 * `npm run bench`: whole-process throughput and latency of durable appends, with the
 * baselines measured in the same run (the machine is shared and noisy; compare ratios).
 *
 * Workload: the standard entry (bench/entry.ts), with 1, 64 and 1024 appends in flight;
 * each acknowledgement issues the next append. For each: entries/s, ack latency p50/p99,
 * main-thread CPU µs per entry (from /proc/self/task/<tid>/schedstat, the main thread
 * only), the event loop's idle µs per entry (waiting, not working) and event-loop delay
 * p99/max. Baselines: (a) the ceiling, creating and encoding the
 * same entries while writing nothing; (b) a minimal main-thread group commit
 * (bench/baseline.ts); (c) a bare 4 KiB write + fdatasync, for latency.
 *
 *   npm run bench -- [--rounds N] [--seconds S]
 *
 * Each configuration runs `rounds` times, interleaved; the median round is reported, and each
 * ratio both as the ratio of medians and as the median of the rounds' own ratios (the two
 * runs of a ratio follow each other, seconds apart, so this pairing cancels drift). Every
 * run is a process of its own (after a short warm-up in that process): run one after another
 * in one process, configurations disturbed each other's JIT and GC state (ringwal at 1024 in
 * flight measured 345k/s after the others, 572k/s alone; see docs/BENCHMARKS.md). The
 * exceptions are on purpose: two configurations pair runs that take 0.2 s turns in one process
 * (ringwal and the ceiling; rotating and not), because this host's speed swings ~2x within
 * seconds (takeTurns).
 */

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Packr } from 'msgpackr';
import { openWal, type Wal, type WalOptions } from '../src/index.js';
import { MainThreadGroupCommit } from './baseline.js';
import { standardEntry } from './entry.js';
import { appendTurn, ceiling, closedLoop, percentile, type Result, takeTurns } from './measure.js';

function numberArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const ROUNDS = numberArg('rounds', 3);
const onlyAt = process.argv.indexOf('--only');
/** Runs only the configurations whose name contains this text (for profiling one of them). */
const ONLY = onlyAt > 0 ? process.argv[onlyAt + 1] : null;
const SECONDS = numberArg('seconds', 2);
const childAt = process.argv.indexOf('--child');
/** Set in a child process: the one configuration it measures. */
const CHILD = childAt > 0 ? process.argv[childAt + 1] : null;
const optionsAt = process.argv.indexOf('--options');
/** Options (JSON) added to every ringwal configuration, for trying settings: `--options '{"ringBytes":262144}'`. */
const EXTRA_OPTIONS_JSON = optionsAt > 0 ? process.argv[optionsAt + 1] : '{}';
const EXTRA_OPTIONS = JSON.parse(EXTRA_OPTIONS_JSON) as WalOptions;
const dirAt = process.argv.indexOf('--dir');
const ROOT = dirAt > 0 ? process.argv[dirAt + 1] : fs.mkdtempSync(path.join(os.tmpdir(), 'ringwal-bench-'));
/** How long a child runs its configuration before measuring it (JIT warm-up). */
const WARMUP_SECONDS = 0.3;
/** How long the configuration being run runs (the warm-up, then SECONDS). */
let runSeconds = SECONDS;

/** Directories made by this process's runs, removed once it has measured. */
const made: string[] = [];
function freshDir(): string {
  const dir = fs.mkdtempSync(path.join(ROOT, 'run-'));
  made.push(dir);
  return dir;
}

async function ringwal(inFlight: number, options: WalOptions = {}): Promise<Result> {
  const wal = await openWal(freshDir(), { ...EXTRA_OPTIONS, ...options });
  const result = await closedLoop((i) => wal.append(standardEntry(i)), inFlight, runSeconds);
  await wal.close();
  return result;
}

/** The fast path: bursts of `burst` appendNoWait calls, one waitFor per burst. */
async function ringwalFastPath(burst: number): Promise<Result> {
  const wal = await openWal(freshDir(), EXTRA_OPTIONS);
  let i = 0;
  const result = await closedLoop(
    async () => {
      let last = 0;
      for (let k = 0; k < burst; k++) last = wal.appendNoWait(standardEntry(i++));
      await wal.waitFor(last);
    },
    2,
    runSeconds,
  );
  await wal.close();
  // closedLoop counted bursts; report per entry.
  return {
    ...result,
    entriesPerSec: result.entriesPerSec * burst,
    cpuUsPerEntry: result.cpuUsPerEntry / burst,
    idleUsPerEntry: result.idleUsPerEntry / burst,
  };
}

async function baseline(inFlight: number): Promise<Result> {
  const fd = fs.openSync(path.join(freshDir(), 'baseline.log'), 'w');
  const log = new MainThreadGroupCommit(fd);
  const result = await closedLoop((i) => log.append(standardEntry(i)), inFlight, runSeconds);
  fs.closeSync(fd);
  return result;
}

/**
 * The ceiling again, inside the same closed loop as the logs: create + encode, then a promise
 * that is already resolved. What a log that wrote nothing would reach with one promise per
 * entry; the gap between this and ringwal is what the log itself costs.
 */
async function closedLoopCeiling(inFlight: number): Promise<Result> {
  const packr = new Packr({ useRecords: false });
  return closedLoop(
    (i) => {
      packr.pack(standardEntry(i));
      return Promise.resolve(i);
    },
    inFlight,
    runSeconds,
  );
}

/** Runs `body` with logs open in fresh directories, one per entry of `options`; closes them after. */
async function withWals<T>(options: WalOptions[], body: (wals: Wal[]) => Promise<T>): Promise<T> {
  const wals = await Promise.all(options.map((o) => openWal(freshDir(), { ...EXTRA_OPTIONS, ...o })));
  try {
    return await body(wals);
  } finally {
    await Promise.all(wals.map((w) => w.close()));
  }
}

/** A bare 4 KiB write + fdatasync, appending to a file: the floor for 1-in-flight latency. */
function bareWriteSync(): Result {
  const fd = fs.openSync(path.join(freshDir(), 'bare.dat'), 'w');
  const block = Buffer.alloc(4096, 7);
  const latencies: number[] = [];
  const t0 = performance.now();
  let position = 0;
  while (performance.now() - t0 < runSeconds * 1000) {
    const started = performance.now();
    fs.writeSync(fd, block, 0, block.length, position);
    fs.fdatasyncSync(fd);
    position += block.length;
    latencies.push((performance.now() - started) * 1000);
  }
  fs.closeSync(fd);
  const sorted = Float64Array.from(latencies).sort();
  const seconds = (performance.now() - t0) / 1000;
  return {
    entriesPerSec: latencies.length / seconds,
    p50Us: percentile(sorted, 0.5),
    p99Us: percentile(sorted, 0.99),
    cpuUsPerEntry: 0,
    idleUsPerEntry: 0,
    eldP99Ms: 0,
    eldMaxMs: 0,
  };
}

const CEILING_TURNS = 'ringwal 1024 / ceiling, 0.2 s turns';
const ROTATION_TURNS = 'rotating 1 MiB / not, 1024, 0.2 s turns';

/**
 * In run order. The runs compared by a ratio follow each other, so each round gives a ratio of
 * two runs seconds apart: the machine's load drifts 2-4x over minutes.
 */
const CONFIGS: [string, () => Promise<Result> | Result][] = [
  ['ceiling: create + encode', () => ceiling(runSeconds)],
  ['ringwal append, 1024 in flight', () => ringwal(1024)],
  [CEILING_TURNS, () => withWals([{}], ([wal]) => takeTurns(appendTurn(wal, 1024), ceiling, runSeconds))],
  ['baseline group commit, 1024 in flight', () => baseline(1024)],
  ['ceiling in the closed loop, 1024', () => closedLoopCeiling(1024)],
  ['ringwal append, 1024 in flight, no prealloc', () => ringwal(1024, { preallocate: false })],
  ['ringwal appendNoWait, bursts of 1024', () => ringwalFastPath(1024)],
  ['ringwal append, 1024, rotating every 1 MiB', () => ringwal(1024, { segmentBytes: 1024 * 1024 })],
  [
    ROTATION_TURNS,
    () =>
      withWals([{ segmentBytes: 1024 * 1024 }, {}], ([rotating, plain]) =>
        takeTurns(appendTurn(rotating, 1024), appendTurn(plain, 1024), runSeconds),
      ),
  ],
  ['bare 4 KiB write + fdatasync', bareWriteSync],
  ['ringwal append, 1 in flight', () => ringwal(1)],
  ['ringwal append, 1 in flight, no prealloc', () => ringwal(1, { preallocate: false })],
  ['baseline group commit, 1 in flight', () => baseline(1)],
  ['baseline group commit, 64 in flight', () => baseline(64)],
  ['ringwal append, 64 in flight', () => ringwal(64)],
];

function median(results: Result[]): Result {
  const sorted = [...results].sort((a, b) => a.entriesPerSec - b.entriesPerSec);
  return sorted[Math.floor(sorted.length / 2)];
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** In a child process: warm up, measure the configuration once, print the result as JSON. */
async function child(name: string): Promise<void> {
  const run = CONFIGS.find(([n]) => n === name)![1];
  runSeconds = WARMUP_SECONDS;
  await run();
  runSeconds = SECONDS;
  const result = await run();
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
  console.log(JSON.stringify(result));
}

function runInChild(name: string): Result {
  const out = execFileSync(
    process.execPath,
    [
      fileURLToPath(import.meta.url),
      ...['--child', name, '--seconds', String(SECONDS), '--dir', ROOT, '--options', EXTRA_OPTIONS_JSON],
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return JSON.parse(out.trim().split('\n').at(-1)!) as Result;
}

async function main(): Promise<void> {
  if (CHILD) {
    await child(CHILD);
    return;
  }
  console.log(
    `ringwal bench: Node ${process.version}, ${os.cpus().length} cores, ${SECONDS} s per run (each in a fresh process, after ${WARMUP_SECONDS} s of warm-up), ${ROUNDS} rounds, dir ${ROOT}`,
  );
  const all = new Map<string, Result[]>();
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [name, run] of CONFIGS) {
      if (ONLY && !name.includes(ONLY)) continue;
      void run;
      const result = runInChild(name);
      if (!all.has(name)) all.set(name, []);
      all.get(name)!.push(result);
      process.stdout.write(
        `  round ${round}: ${name.padEnd(40)} ${fmt(result.entriesPerSec).padStart(10)} /s\n`,
      );
    }
  }
  const med = new Map([...all].map(([name, results]) => [name, median(results)]));
  console.log('\nmedian of rounds');
  console.log(
    `${'configuration'.padEnd(40)} ${'entries/s'.padStart(10)} ${'p50 µs'.padStart(9)} ${'p99 µs'.padStart(9)} ${'CPU µs/e'.padStart(9)} ${'idle µs/e'.padStart(9)} ${'ELD p99'.padStart(8)} ${'ELD max'.padStart(8)}`,
  );
  for (const [name, r] of med) {
    console.log(
      `${name.padEnd(40)} ${fmt(r.entriesPerSec).padStart(10)} ${fmt(r.p50Us, 1).padStart(9)} ${fmt(r.p99Us, 1).padStart(9)} ${fmt(r.cpuUsPerEntry, 2).padStart(9)} ${fmt(r.idleUsPerEntry, 3).padStart(9)} ${fmt(r.eldP99Ms, 2).padStart(8)} ${fmt(r.eldMaxMs, 2).padStart(8)}`,
    );
  }
  if (ONLY) return;
  type Field = 'entriesPerSec' | 'p50Us';
  /**
   * A ratio two ways: of the medians, and the median of each round's own ratio (with the
   * range), which pairs runs seconds apart and so cancels most of the machine's drift.
   */
  const ratio = (label: string, a: string, b: string, field: Field, goal = ''): void => {
    const of = (name: string) => med.get(name)![field];
    const rounds = all
      .get(a)!
      .map((r, k) => r[field] / all.get(b)![k][field])
      .sort((x, y) => x - y);
    const x = (n: number) => `${n.toFixed(2)}x`;
    console.log(
      `  ${label} = ${x(of(a) / of(b))} of medians; per round ${x(rounds[Math.floor(rounds.length / 2)])} (${x(rounds[0])}-${x(rounds.at(-1)!)})${goal ? `  (goal ${goal})` : ''}`,
    );
  };
  /** A turn-taking run's ratio of its two sides, per round (median and range). */
  const turnsRatio = (label: string, name: string, goal: string): void => {
    const rounds = all
      .get(name)
      ?.map((r) => r.entriesPerSec / r.otherPerSec!)
      .sort((x, y) => x - y);
    if (!rounds) return;
    const x = (n: number) => `${n.toFixed(2)}x`;
    console.log(
      `  ${label} = per round ${x(rounds[Math.floor(rounds.length / 2)])} (${x(rounds[0])}-${x(rounds.at(-1)!)})  (goal ${goal})`,
    );
  };
  const r1024 = 'ringwal append, 1024 in flight';
  console.log('\nratios (same run)');
  ratio(
    '1024 in flight: ringwal / baseline group commit',
    r1024,
    'baseline group commit, 1024 in flight',
    'entriesPerSec',
    '>= 1.2x',
  );
  ratio(
    '1024 in flight: ringwal / create+encode ceiling',
    r1024,
    'ceiling: create + encode',
    'entriesPerSec',
    '>= 0.7x',
  );
  turnsRatio(
    '1024 in flight: ringwal / create+encode ceiling, taking turns in one process',
    CEILING_TURNS,
    '>= 0.7x',
  );
  ratio(
    '1 in flight: ringwal p50 / bare 4 KiB write+fdatasync p50',
    'ringwal append, 1 in flight',
    'bare 4 KiB write + fdatasync',
    'p50Us',
    '<= 1.5x',
  );
  ratio(
    '1 in flight: p50 with preallocation / without',
    'ringwal append, 1 in flight',
    'ringwal append, 1 in flight, no prealloc',
    'p50Us',
  );
  ratio(
    '1024 in flight: with preallocation (adaptive) / without',
    r1024,
    'ringwal append, 1024 in flight, no prealloc',
    'entriesPerSec',
  );
  ratio(
    '64 in flight: ringwal / baseline group commit',
    'ringwal append, 64 in flight',
    'baseline group commit, 64 in flight',
    'entriesPerSec',
  );
  ratio(
    '1024 in flight: ringwal / ceiling in the same closed loop (a resolved promise per entry)',
    r1024,
    'ceiling in the closed loop, 1024',
    'entriesPerSec',
  );
  ratio(
    '1024 in flight: rotating every 1 MiB / no rotation (64 MiB segments)',
    'ringwal append, 1024, rotating every 1 MiB',
    r1024,
    'entriesPerSec',
    '>= 0.95x',
  );
  turnsRatio(
    '1024 in flight: rotating every 1 MiB / no rotation, taking turns in one process',
    ROTATION_TURNS,
    '>= 0.95x',
  );
  ratio(
    'fast path (appendNoWait + waitFor) / ringwal append at 1024',
    'ringwal appendNoWait, bursts of 1024',
    r1024,
    'entriesPerSec',
  );
  fs.rmSync(ROOT, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
