/**
 * How the benchmarks measure: a closed loop of appends (each acknowledgement issues the next)
 * with main-thread CPU, idle time, latency and event-loop delay, and `takeTurns`, which runs
 * two measurements in short turns in one process so that both see the same machine.
 */
import * as fs from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Packr } from 'msgpackr';
import type { Wal } from '../src/index.js';
import { standardEntry } from './entry.js';

/** CPU time of the main thread alone, in µs. */
export function mainThreadCpuUs(): number {
  const stat = fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8');
  return Number(stat.split(' ')[0]) / 1000;
}

export interface Result {
  entriesPerSec: number;
  p50Us: number;
  p99Us: number;
  cpuUsPerEntry: number;
  /**
   * Time the event loop sat idle waiting (libuv's idle time, from eventLoopUtilization) per
   * entry: the main thread waiting for the writer, not working. Unlike CPU time it does not
   * grow when the hypervisor takes the CPU away.
   */
  idleUsPerEntry: number;
  eldP99Ms: number;
  eldMaxMs: number;
  /** Set by a turn-taking run (takeTurns): the other side's entries/s over its turns. */
  otherPerSec?: number;
}

export function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/**
 * Keeps `inFlight` appends outstanding, each acknowledgement issuing the next, until `seconds`
 * after `t0`; resolves with how many were acknowledged. Latency (µs) is sampled on every 8th
 * entry into `latencies`, so the clock reads do not weigh on the main-thread cost being
 * measured (the same for every configuration). bench:peers drives its rows with it too.
 */
export function driveClosedLoop(
  append: (i: number) => Promise<unknown>,
  inFlight: number,
  seconds: number,
  t0: number,
  latencies: number[],
): Promise<number> {
  let issued = 0;
  let acked = 0;
  let stopping = false;
  return new Promise<number>((resolve, reject) => {
    const issue = (): void => {
      const i = issued++;
      const started = (i & 7) === 0 ? performance.now() : 0;
      append(i).then(() => {
        acked++;
        if ((i & 7) === 0) {
          const now = performance.now();
          latencies.push((now - started) * 1000);
          if (now - t0 >= seconds * 1000) stopping = true;
        }
        if (!stopping) issue();
        else if (acked === issued) resolve(acked);
      }, reject);
    };
    for (let k = 0; k < inFlight; k++) issue();
  });
}

/** Runs `append` with `inFlight` outstanding for about `seconds`; each ack issues the next. */
export async function closedLoop(
  append: (i: number) => Promise<unknown>,
  inFlight: number,
  seconds: number,
): Promise<Result> {
  const latencies: number[] = [];
  const eld = monitorEventLoopDelay({ resolution: 1 });
  const cpu0 = mainThreadCpuUs();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  eld.enable();
  const acked = await driveClosedLoop(append, inFlight, seconds, t0, latencies);
  eld.disable();
  const idleMs = performance.eventLoopUtilization(elu0).idle;
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = mainThreadCpuUs() - cpu0;
  const sorted = Float64Array.from(latencies).sort();
  return {
    entriesPerSec: acked / elapsed,
    p50Us: percentile(sorted, 0.5),
    p99Us: percentile(sorted, 0.99),
    cpuUsPerEntry: cpu / acked,
    idleUsPerEntry: (idleMs * 1000) / acked,
    eldP99Ms: eld.percentile(99) / 1e6,
    eldMaxMs: eld.max / 1e6,
  };
}

/** Something measured for about `seconds`. */
export type Measure = (seconds: number) => Promise<Result> | Result;

/** How long each turn of a turn-taking run lasts. */
const TURN_SECONDS = 0.2;

/** One side's results summed over its turns. */
class TurnTotals {
  entries = 0;
  ms = 0;
  cpuUs = 0;
  idleUs = 0;
  p50: number[] = [];
  p99: number[] = [];
  eldP99Ms = 0;
  eldMaxMs = 0;

  add(r: Result, ms: number): void {
    const n = (r.entriesPerSec * ms) / 1000;
    this.entries += n;
    this.ms += ms;
    this.cpuUs += r.cpuUsPerEntry * n;
    this.idleUs += r.idleUsPerEntry * n;
    this.p50.push(r.p50Us);
    this.p99.push(r.p99Us);
    this.eldP99Ms = Math.max(this.eldP99Ms, r.eldP99Ms);
    this.eldMaxMs = Math.max(this.eldMaxMs, r.eldMaxMs);
  }

  result(): Result {
    const mid = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1];
    return {
      entriesPerSec: this.entries / (this.ms / 1000),
      p50Us: mid(this.p50),
      p99Us: mid(this.p99),
      cpuUsPerEntry: this.cpuUs / this.entries,
      idleUsPerEntry: this.idleUs / this.entries,
      eldP99Ms: this.eldP99Ms,
      eldMaxMs: this.eldMaxMs,
    };
  }
}

/**
 * Runs `a` and `b` in turns of TURN_SECONDS in this one process, each for `seconds` in all,
 * and reports `a` with `b`'s rate as `otherPerSec`. This host's single-thread speed swings
 * about 2x from one second to the next (docs/BENCHMARKS.md), so two runs seconds apart can
 * each land in a different regime; turns a fraction of a second apart share it. A closed
 * loop's turn includes filling and draining its appends in flight.
 */
export async function takeTurns(a: Measure, b: Measure, seconds: number): Promise<Result> {
  const turns = Math.max(1, Math.round(seconds / TURN_SECONDS));
  const sides = [new TurnTotals(), new TurnTotals()];
  for (let k = 0; k < turns; k++) {
    for (const [side, run] of [a, b].entries()) {
      const t0 = performance.now();
      const r = await run(seconds / turns);
      sides[side].add(r, performance.now() - t0);
    }
  }
  return { ...sides[0].result(), otherPerSec: sides[1].result().entriesPerSec };
}

/** Creating and encoding the entries, writing nothing: the most the main thread could do. */
export function ceiling(seconds: number): Result {
  const packr = new Packr({ useRecords: false });
  const cpu0 = mainThreadCpuUs();
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < seconds * 1000) {
    for (let k = 0; k < 1000; k++) packr.pack(standardEntry(n++));
  }
  return {
    entriesPerSec: n / ((performance.now() - t0) / 1000),
    p50Us: 0,
    p99Us: 0,
    cpuUsPerEntry: (mainThreadCpuUs() - cpu0) / n,
    idleUsPerEntry: 0,
    eldP99Ms: 0,
    eldMaxMs: 0,
  };
}

/** A closed loop of `wal.append` over the standard entry, numbering on from previous turns. */
export function appendTurn(wal: Pick<Wal, 'append'>, inFlight: number): Measure {
  let i = 0;
  return (seconds) => closedLoop(() => wal.append(standardEntry(i++)), inFlight, seconds);
}
