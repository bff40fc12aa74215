/**
 * `npm run bench:latency`: one append in flight, the number a server with few concurrent
 * requests waits on (issue #20). Each configuration runs in a process of its own, after a
 * warm-up, and the configurations take turns over several rounds; ratios are reported of the
 * medians and per round (runs seconds apart, which cancels most of the host's drift).
 *
 * - overwrite: a 4 KiB block of a file already written and fdatasync'd is overwritten, then
 *   fdatasync: the floor (no metadata for the sync to write).
 * - ringwal: `await wal.append(entry)`, again and again, with the default `sync: 'always'`.
 * - ringwal-poll: the same with `ackPollUs: 1000`: the main thread checks for the
 *   acknowledgement between turns of the event loop instead of sleeping until the writer
 *   wakes it (a busy core while an append is pending).
 *
 * Each row also gives how busy the event loop was (event-loop utilization): the blocking
 * calls (the floor, SQLite) hold it the whole time.
 * - sqlite: better-sqlite3 in WAL mode with `synchronous=FULL`, one autocommitted INSERT of the
 *   entry's MessagePack bytes per entry (an fsync of the WAL file each).
 *
 *   npm run bench:latency -- [--rounds N] [--seconds S] [--options JSON] [--only NAME]
 *
 * The peers are not dependencies of ringwal: `npm ci --prefix bench/peers` installs them;
 * without them their rows are skipped.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Packr } from 'msgpackr';
import { openWal, type WalOptions } from '../src/index.js';
import { arg, fmt, medianOf, requirePeer, runChild } from './child-run.js';
import { standardEntry } from './entry.js';
import { closedLoop, percentile } from './measure.js';

const ROUNDS = Number(arg('rounds') ?? 5);
const SECONDS = Number(arg('seconds') ?? 2);
const WARMUP_SECONDS = 0.5;
const CHILD = arg('child');
const ONLY = arg('only');
const OPTIONS_JSON = arg('options') ?? '{}';
const OPTIONS = JSON.parse(OPTIONS_JSON) as WalOptions;

interface Sample {
  perSec: number;
  p50Us: number;
  p99Us: number;
  /** Event-loop utilization over the run, %: 100 for a blocking call, which never yields. */
  loopBusyPct: number;
}

/** Runs `once` back to back for about `seconds`, timing each. */
function timedLoop(once: (i: number) => void, seconds: number): Sample {
  const latencies: number[] = [];
  const t0 = performance.now();
  for (let i = 0; performance.now() - t0 < seconds * 1000; i++) {
    const started = performance.now();
    once(i);
    latencies.push((performance.now() - started) * 1000);
  }
  const sorted = Float64Array.from(latencies).sort();
  return {
    perSec: latencies.length / ((performance.now() - t0) / 1000),
    p50Us: percentile(sorted, 0.5),
    p99Us: percentile(sorted, 0.99),
    loopBusyPct: 100,
  };
}

/** Runs so far in this process (warm-up, then the measured one): each gets a fresh log or database. */
let runCount = 0;

const BLOCK = 4096;
const BLOCKS = 4096; // a 16 MiB file, overwritten round and round

async function overwrite(dir: string, seconds: number): Promise<Sample> {
  const fd = fs.openSync(path.join(dir, 'overwrite.dat'), 'w+');
  fs.writeSync(fd, Buffer.alloc(BLOCK * BLOCKS));
  fs.fdatasyncSync(fd);
  const block = Buffer.alloc(BLOCK, 7);
  try {
    return timedLoop((i) => {
      fs.writeSync(fd, block, 0, BLOCK, (i % BLOCKS) * BLOCK);
      fs.fdatasyncSync(fd);
    }, seconds);
  } finally {
    fs.closeSync(fd);
  }
}

async function ringwal(dir: string, seconds: number, options: WalOptions = OPTIONS): Promise<Sample> {
  const wal = await openWal(path.join(dir, `wal-${++runCount}`), options);
  try {
    const elu0 = performance.eventLoopUtilization();
    const r = await closedLoop((i) => wal.append(standardEntry(i)), 1, seconds);
    const loopBusyPct = performance.eventLoopUtilization(elu0).utilization * 100;
    return { perSec: r.entriesPerSec, p50Us: r.p50Us, p99Us: r.p99Us, loopBusyPct };
  } finally {
    await wal.close();
  }
}

interface SqliteDatabase {
  pragma(text: string): unknown;
  exec(sql: string): void;
  prepare(sql: string): { run(...values: unknown[]): unknown };
  close(): void;
}

async function sqlite(dir: string, seconds: number): Promise<Sample | null> {
  const Database = requirePeer<new (file: string) => SqliteDatabase>('better-sqlite3');
  if (!Database) return null;
  const db = new Database(path.join(dir, `sqlite-${++runCount}.db`));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE log (lsn INTEGER PRIMARY KEY, value BLOB NOT NULL)');
  const insert = db.prepare('INSERT INTO log (value) VALUES (?)');
  const packr = new Packr({ useRecords: false });
  try {
    return timedLoop((i) => insert.run(packr.pack(standardEntry(i))), seconds);
  } finally {
    db.close();
  }
}

const CONFIGS: Record<string, (dir: string, seconds: number) => Promise<Sample | null>> = {
  overwrite,
  ringwal: (dir, seconds) => ringwal(dir, seconds),
  'ringwal-poll': (dir, seconds) => ringwal(dir, seconds, { ackPollUs: 1000, ...OPTIONS }),
  sqlite,
};

async function child(name: string): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ringwal-latency-${name}-`));
  try {
    await CONFIGS[name](dir, WARMUP_SECONDS);
    console.log(JSON.stringify(await CONFIGS[name](dir, SECONDS)));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function runInChild(name: string): Sample | null {
  return runChild<Sample | null>(fileURLToPath(import.meta.url), name, [
    ...['--seconds', String(SECONDS), '--options', OPTIONS_JSON],
  ]);
}

async function main(): Promise<void> {
  if (CHILD) return child(CHILD);
  console.log(
    `ringwal bench:latency: 1 in flight, Node ${process.version}, ${SECONDS} s per run in a fresh process, ${ROUNDS} rounds, ringwal options ${OPTIONS_JSON}`,
  );
  const names = Object.keys(CONFIGS).filter((n) => !ONLY || n === ONLY);
  const runs = new Map<string, Sample[]>(names.map((n) => [n, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const name of names) {
      const sample = runInChild(name);
      if (!sample) {
        runs.delete(name);
        continue;
      }
      runs.get(name)?.push(sample);
      console.log(
        `  round ${round}: ${name.padEnd(12)} p50 ${fmt(sample.p50Us, 1).padStart(7)} µs  p99 ${fmt(sample.p99Us, 1).padStart(8)} µs  ${fmt(sample.perSec).padStart(6)}/s  loop busy ${fmt(sample.loopBusyPct).padStart(3)}%`,
      );
    }
  }
  console.log('\nmedian of rounds');
  for (const [name, samples] of runs) {
    console.log(
      `  ${name.padEnd(12)} p50 ${fmt(medianOf(samples.map((s) => s.p50Us)), 1).padStart(7)} µs  p99 ${fmt(medianOf(samples.map((s) => s.p99Us)), 1).padStart(8)} µs  ${fmt(medianOf(samples.map((s) => s.perSec))).padStart(6)}/s  loop busy ${fmt(medianOf(samples.map((s) => s.loopBusyPct))).padStart(3)}%`,
    );
  }
  const ratio = (label: string, a: string, b: string, field: keyof Sample, goal: string): void => {
    const as = runs.get(a);
    const bs = runs.get(b);
    if (!as || !bs) {
      const missing = !as ? a : b;
      if (!ONLY)
        console.log(`  ${label}: skipped (${missing} is not installed: npm ci --prefix bench/peers)`);
      return;
    }
    const perRound = as.map((s, k) => s[field] / bs[k][field]).sort((x, y) => x - y);
    const ofMedians = medianOf(as.map((s) => s[field])) / medianOf(bs.map((s) => s[field]));
    console.log(
      `  ${label} = ${ofMedians.toFixed(2)}x of medians; per round ${medianOf(perRound).toFixed(2)}x (${perRound[0].toFixed(2)}-${perRound.at(-1)!.toFixed(2)}x)  (goal ${goal})`,
    );
  };
  if (!ONLY) console.log('\nratios');
  ratio('ringwal p50 / overwrite + fdatasync p50', 'ringwal', 'overwrite', 'p50Us', '<= 1.15x');
  ratio('ringwal acks/s / better-sqlite3 autocommits/s', 'ringwal', 'sqlite', 'perSec', '>= 1.1x');
  ratio('ringwal-poll p50 / overwrite + fdatasync p50', 'ringwal-poll', 'overwrite', 'p50Us', '<= 1.15x');
  ratio('ringwal-poll acks/s / better-sqlite3 autocommits/s', 'ringwal-poll', 'sqlite', 'perSec', '>= 1.1x');
}

await main();
