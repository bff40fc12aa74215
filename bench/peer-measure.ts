/**
 * How `npm run bench:peers` measures one case of one system (bench/peers.ts): the same
 * columns for every row, whatever the system's API. A case drives `append(i) => Promise`
 * (resolved when the system acknowledges entry i) or, for the batch case, `batch(from, n)`:
 *
 * - closed loop, N in flight: each acknowledgement issues the next append, for `seconds`;
 * - all at once: `entries` appends issued in one synchronous loop, then all awaited;
 * - batch: one batch of `n` entries at a time, each awaited before the next, for `seconds`
 *   (at least one batch).
 *
 * After the last acknowledgement `finish()` runs inside the timed span: for a row whose
 * acknowledgement does not mean "written" (pino's asynchronous destinations) it waits for
 * its flush, so entries/s counts entries that at least reached the OS.
 *
 * Acknowledgement latency is sampled on every 8th entry (every batch in the batch case), as
 * bench/measure.ts does, so clock reads weigh the same on every row; max is over the samples.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { driveClosedLoop, mainThreadCpuUs, percentile } from './measure.js';

export interface CaseResult {
  entries: number;
  entriesPerSec: number;
  ackP50Us: number;
  ackP99Us: number;
  ackMaxUs: number;
  /** Main-thread CPU (the main thread alone, from schedstat) per entry, µs. */
  cpuUsPerEntry: number;
  eldP99Ms: number;
  eldMaxMs: number;
  /** The child process's peak resident set (warm-up included), MiB. */
  peakRssMiB: number;
}

export type Append = (i: number) => Promise<unknown>;
export type Batch = (from: number, n: number) => Promise<unknown>;

/** Clocks, CPU and event-loop delay around one measured span. */
class Span {
  private readonly eld = monitorEventLoopDelay({ resolution: 1 });
  private cpu0 = 0;
  t0 = 0;
  readonly latencies: number[] = [];

  /**
   * Starts the span once the histogram's timer has ticked: its first tick records nothing
   * (there is no earlier tick to measure from), so a loop that blocks from the first moment
   * (the all-at-once case) would otherwise go unrecorded.
   */
  static async start(): Promise<Span> {
    const span = new Span();
    span.eld.enable();
    await new Promise((resolve) => setTimeout(resolve, 3));
    span.cpu0 = mainThreadCpuUs();
    span.t0 = performance.now();
    return span;
  }

  async result(entries: number): Promise<CaseResult> {
    const elapsedS = (performance.now() - this.t0) / 1000;
    const cpuUs = mainThreadCpuUs() - this.cpu0;
    // One more turn, outside the timed span, so that the histogram's timer records a block
    // that lasted to the end (a synchronous row's last turn; otherwise it would not count).
    await new Promise((resolve) => setTimeout(resolve, 2));
    this.eld.disable();
    const sorted = Float64Array.from(this.latencies).sort();
    return {
      entries,
      entriesPerSec: entries / elapsedS,
      ackP50Us: sorted.length ? percentile(sorted, 0.5) : 0,
      ackP99Us: sorted.length ? percentile(sorted, 0.99) : 0,
      ackMaxUs: sorted.length ? sorted[sorted.length - 1] : 0,
      cpuUsPerEntry: cpuUs / entries,
      eldP99Ms: this.eld.percentile(99) / 1e6,
      eldMaxMs: this.eld.max / 1e6,
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
    };
  }
}

export async function closedLoop(
  append: Append,
  inFlight: number,
  seconds: number,
  finish: () => Promise<void>,
): Promise<CaseResult> {
  const span = await Span.start();
  const acked = await driveClosedLoop(append, inFlight, seconds, span.t0, span.latencies);
  await finish();
  return await span.result(acked);
}

export async function allAtOnce(
  append: Append,
  entries: number,
  finish: () => Promise<void>,
): Promise<CaseResult> {
  const span = await Span.start();
  const acks: Promise<unknown>[] = new Array(entries);
  for (let i = 0; i < entries; i++) {
    if ((i & 7) === 0) {
      const started = performance.now();
      acks[i] = append(i).then(() => span.latencies.push((performance.now() - started) * 1000));
    } else {
      acks[i] = append(i);
    }
  }
  await Promise.all(acks);
  await finish();
  return await span.result(entries);
}

export async function batches(
  batch: Batch,
  size: number,
  seconds: number,
  finish: () => Promise<void>,
): Promise<CaseResult> {
  const span = await Span.start();
  let entries = 0;
  do {
    const started = performance.now();
    await batch(entries, size);
    span.latencies.push((performance.now() - started) * 1000);
    entries += size;
  } while (performance.now() - span.t0 < seconds * 1000);
  await finish();
  return await span.result(entries);
}
