/**
 * `npm run bench:loop`: what a busy server sees (issue #20). An open loop, not a closed one:
 * a 1 ms timer issues, on each tick, the appends due at a fixed rate, whatever has been
 * acknowledged; the event loop's delay is sampled at 1 ms resolution (`monitorEventLoopDelay`)
 * and every 8th append's time to its acknowledgement is recorded, with the share of the run
 * the main thread was busy (event-loop utilization, ELU).
 *
 * Rates: 20,000/s, 60,000/s, and 25/50/90% of ringwal's most durable appends per second
 * (measured first, 1024 in flight, in this run). Sides, each rate and side in a process of its
 * own, interleaved over rounds:
 * - idle: the timer alone, issuing nothing (what the event loop's delay is made of anyway);
 * - no log: the same entries created and a resolved promise per append, writing nothing (what
 *   the benchmark's own work adds to the delay);
 * - ringwal: `wal.append(entry)` with the default `sync: 'always'`;
 * - offload floor: the same entries and a promise per append, acknowledged by a worker that
 *   overwrites a 4 KiB block and fdatasyncs it per request and wakes the main thread as
 *   ringwal's writer does (bench/offload-floor.ts): the floor of any log that keeps the disk off
 *   the main thread;
 * - group commit: a minimal main-thread group commit (writev + fdatasync on libuv's pool;
 *   bench/baseline.ts);
 * - lmdb: lmdb-js `db.put(i, entry)`, awaited on its `flushed` promise (the commit synced; the
 *   put's own promise resolves at commit); from bench/peers, skipped when not installed.
 *
 *   npm run bench:loop -- [--rounds N] [--seconds S] [--rates 20000,60000] [--sides ringwal,idle]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { openWal } from '../src/index.js';
import { MainThreadGroupCommit } from './baseline.js';
import { arg, fmt, medianOf, requirePeer, runChild } from './child-run.js';
import { standardEntry } from './entry.js';
import { closedLoop, percentile } from './measure.js';
import { OffloadFloor } from './offload-floor.js';

const ROUNDS = Number(arg('rounds') ?? 3);
const SECONDS = Number(arg('seconds') ?? 3);
const WARMUP_SECONDS = 0.5;
const CHILD = arg('child');
const SCRIPT = fileURLToPath(import.meta.url);

interface LoopResult {
  /** Appends issued and acknowledged per second over the run. */
  ackedPerSec: number;
  eldP50Ms: number;
  eldP99Ms: number;
  eldMaxMs: number;
  /** Event-loop utilization over the run, %: the time the main thread was not waiting for events. */
  eluPct: number;
  ackP50Ms: number;
  ackP99Ms: number;
  /** Set when an append failed (WAL_BACKPRESSURE: the side could not keep up); the run stopped there. */
  failed?: string;
}

type Append = (i: number) => Promise<unknown>;

/** Issues `rate` appends a second from a 1 ms timer for `seconds`, then waits for the last acks. */
async function openLoop(append: Append | null, rate: number, seconds: number): Promise<LoopResult> {
  const latencies: number[] = [];
  const eld = monitorEventLoopDelay({ resolution: 1 });
  let issued = 0;
  let acked = 0;
  let failure: unknown = null;
  const t0 = performance.now();
  const elu0 = performance.eventLoopUtilization();
  eld.enable();
  await new Promise<void>((resolve) => {
    let stopped = false;
    const settled = (): void => {
      if (stopped && acked === issued) resolve();
    };
    const timer = setInterval(() => {
      const now = performance.now();
      if (failure) {
        clearInterval(timer);
        resolve(); // what is still in flight settles while the side closes
        return;
      }
      if (now - t0 >= seconds * 1000) {
        clearInterval(timer);
        stopped = true;
        settled();
        return;
      }
      if (!append) return;
      const due = Math.floor(((now - t0) / 1000) * rate);
      while (issued < due) {
        const i = issued++;
        const sampled = (i & 7) === 0;
        append(i).then(
          () => {
            acked++;
            if (sampled) latencies.push(performance.now() - now);
            settled();
          },
          (error: unknown) => {
            failure ??= error;
          },
        );
      }
    }, 1);
  });
  eld.disable();
  const elu = performance.eventLoopUtilization(elu0);
  const sorted = Float64Array.from(latencies).sort();
  return {
    ackedPerSec: acked / seconds,
    eldP50Ms: eld.percentile(50) / 1e6,
    eldP99Ms: eld.percentile(99) / 1e6,
    eldMaxMs: eld.max / 1e6,
    eluPct: elu.utilization * 100,
    ackP50Ms: sorted.length ? percentile(sorted, 0.5) : 0,
    ackP99Ms: sorted.length ? percentile(sorted, 0.99) : 0,
    ...(failure ? { failed: (failure as { code?: string }).code ?? String(failure) } : {}),
  };
}

/** An lmdb-js put: with `separateFlushed`, `.flushed` settles once the commit is synced. */
type LmdbPut = Promise<boolean> & { flushed?: Promise<boolean> };
interface LmdbDatabase {
  put(key: number, value: unknown): LmdbPut;
  close(): Promise<void>;
}

/** A side: opens what it appends to in `dir`, returns the append and how to close it. */
type Side = (dir: string) => Promise<{ append: Append | null; close: () => Promise<void> } | null>;

const SIDES: Record<string, Side> = {
  idle: async () => ({ append: null, close: async () => {} }),
  'no log': async () => ({ append: (i) => Promise.resolve(standardEntry(i)), close: async () => {} }),
  ringwal: async (dir) => {
    const wal = await openWal(path.join(dir, 'wal'));
    return { append: (i) => wal.append(standardEntry(i)), close: () => wal.close() };
  },
  'offload floor': async (dir) => {
    const floor = OffloadFloor.open(path.join(dir, 'floor.dat'));
    return { append: (i) => floor.append(standardEntry(i)), close: () => floor.close() };
  },
  'group commit': async (dir) => {
    const fd = fs.openSync(path.join(dir, 'group-commit.log'), 'w');
    const log = new MainThreadGroupCommit(fd);
    return { append: (i) => log.append(standardEntry(i)), close: async () => fs.closeSync(fd) };
  },
  lmdb: async (dir) => {
    const lmdb = requirePeer<{ open: (options: Record<string, unknown>) => LmdbDatabase }>('lmdb');
    if (!lmdb) return null;
    // With overlappingSync (the default on Linux) put() resolves at commit, before the sync;
    // separateFlushed hangs the sync's promise on it as `.flushed` (bench/peer-rows.ts).
    const db = lmdb.open({ path: path.join(dir, 'lmdb'), compression: false, separateFlushed: true });
    return {
      append: (i) => {
        const put = db.put(i, standardEntry(i));
        return put.flushed ?? put;
      },
      close: () => db.close(),
    };
  },
};

/** In a child: `side@rate` measured once after a warm-up, or `max`: ringwal's closed-loop rate. */
async function child(name: string): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringwal-loop-'));
  try {
    if (name === 'max') {
      const wal = await openWal(path.join(dir, 'wal'));
      await closedLoop((i) => wal.append(standardEntry(i)), 1024, WARMUP_SECONDS);
      const r = await closedLoop((i) => wal.append(standardEntry(i)), 1024, SECONDS);
      await wal.close();
      console.log(JSON.stringify(r.entriesPerSec));
      return;
    }
    const [sideName, rateText] = name.split('@');
    const opened = await SIDES[sideName](dir);
    if (!opened) {
      console.log('null');
      return;
    }
    await openLoop(opened.append, Number(rateText), WARMUP_SECONDS);
    const result = await openLoop(opened.append, Number(rateText), SECONDS);
    await opened.close();
    console.log(JSON.stringify(result));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (CHILD) return child(CHILD);
  const sides = (arg('sides')?.split(',') ?? Object.keys(SIDES)).filter((s) => s in SIDES);
  console.log(
    `ringwal bench:loop: open loop from a 1 ms timer, Node ${process.version}, ${os.cpus().length} cores, ${SECONDS} s per run in a fresh process, ${ROUNDS} rounds`,
  );
  const max = medianOf(
    [1, 2, 3].map(() => runChild<number>(SCRIPT, 'max', ['--seconds', String(Math.min(SECONDS, 2))])),
  );
  const rates = arg('rates')?.split(',').map(Number) ?? [
    20_000,
    60_000,
    Math.round(max * 0.25),
    Math.round(max * 0.5),
    Math.round(max * 0.9),
  ];
  console.log(
    `ringwal's most durable appends/s (1024 in flight, median of 3): ${fmt(max)}; rates ${rates.map((r) => fmt(r)).join(', ')}/s`,
  );
  const runs = new Map<string, LoopResult[]>();
  const missing = new Set<string>();
  for (let round = 1; round <= ROUNDS; round++) {
    for (const rate of rates) {
      for (const side of sides) {
        if (missing.has(side)) continue;
        const r = runChild<LoopResult | null>(SCRIPT, `${side}@${rate}`, ['--seconds', String(SECONDS)]);
        if (!r) {
          missing.add(side);
          console.log(`  ${side}: not installed (npm ci --prefix bench/peers); skipped`);
          continue;
        }
        const key = `${side}@${rate}`;
        if (r.failed) console.log(`  ${side} at ${fmt(rate)}/s could not keep up: ${r.failed}`);
        else runs.set(key, [...(runs.get(key) ?? []), r]);
      }
    }
    console.log(`  round ${round} done`);
  }
  const med = (side: string, rate: number, field: Exclude<keyof LoopResult, 'failed'>): number | null => {
    const rs = runs.get(`${side}@${rate}`);
    return rs ? medianOf(rs.map((r) => r[field])) : null;
  };
  const ms = (n: number | null) => (n === null ? '-' : fmt(n, 2));
  console.log('\nmedian of rounds (ms; acked/s)');
  console.log(
    `${'rate/s'.padStart(8)}  ${'side'.padEnd(13)} ${'acked/s'.padStart(8)} ${'ELD p50'.padStart(8)} ${'ELD p99'.padStart(8)} ${'ELD max'.padStart(8)} ${'ELU %'.padStart(6)} ${'ack p50'.padStart(8)} ${'ack p99'.padStart(8)}`,
  );
  for (const rate of rates) {
    for (const side of sides) {
      if (!runs.has(`${side}@${rate}`)) continue;
      console.log(
        `${fmt(rate).padStart(8)}  ${side.padEnd(13)} ${fmt(med(side, rate, 'ackedPerSec')!).padStart(8)} ${ms(med(side, rate, 'eldP50Ms')).padStart(8)} ${ms(med(side, rate, 'eldP99Ms')).padStart(8)} ${ms(med(side, rate, 'eldMaxMs')).padStart(8)} ${fmt(med(side, rate, 'eluPct') ?? 0, 1).padStart(6)} ${ms(med(side, rate, 'ackP50Ms')).padStart(8)} ${ms(med(side, rate, 'ackP99Ms')).padStart(8)}`,
      );
    }
  }
  console.log('\nringwal against the goals (medians of rounds)');
  for (const rate of rates) {
    const p99 = med('ringwal', rate, 'eldP99Ms');
    const max99 = med('ringwal', rate, 'eldMaxMs');
    if (p99 === null || max99 === null) continue;
    const idle = med('idle', rate, 'eldP99Ms');
    const others = ['offload floor', 'group commit', 'lmdb']
      .map((s) => [s, med(s, rate, 'eldP99Ms')] as const)
      .filter(([, v]) => v !== null)
      .map(([s, v]) => `${s} ${ms(v)}`)
      .join(', ');
    console.log(
      `  ${fmt(rate).padStart(8)}/s: ELD p99 ${ms(p99)} ms${idle === null ? '' : `, idle +${ms(p99 - idle)} ms (goal <= 0.5)`}; max ${ms(max99)} ms (goal <= 5); others' p99: ${others || '-'}`,
    );
  }
}

await main();
