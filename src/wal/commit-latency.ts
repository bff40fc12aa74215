/**
 * The commit-latency histogram: from `append()` to the acknowledgement, the latency callers
 * feel. Timed per publish group, not per entry, so the hot path pays one clock read per group
 * (a tick's appends, at most 256): the entries published together are contiguous LSNs, each
 * is counted once, with the time from its group's first append to the moment the main thread
 * saw the acknowledgement covering it. So an entry appended late in its group counts a little
 * longer than it waited (by at most the group's span: one run of synchronous appends).
 */
import type { WalMetrics } from '../metrics.js';

/** Upper bounds in µs, doubling from 64 µs to ~1 s; the last bucket takes everything slower. */
export const COMMIT_BUCKET_US = [
  64,
  128,
  256,
  512,
  1024,
  2048,
  4096,
  8192,
  16384,
  32768,
  65536,
  131072,
  262144,
  524288,
  1048576,
  Infinity,
];

export type CommitLatencySnapshot = Pick<
  WalMetrics,
  'commitLatency' | 'acknowledged' | 'commitLatencyMsTotal' | 'commitLatencyMsMax'
>;

export class CommitLatency {
  private readonly counts = new Float64Array(COMMIT_BUCKET_US.length);
  private acknowledged = 0;
  private msTotal = 0;
  private msMax = 0;
  /** Published groups not yet wholly acknowledged: last LSN and first append time, from `head`. */
  private lastLsns: number[] = [];
  private startsMs: number[] = [];
  private head = 0;
  /** The highest LSN counted: entries of the head group after it are still waiting. */
  private countedUpTo: number;

  constructor(lastLsn: number) {
    this.countedUpTo = lastLsn;
  }

  /** A group of entries up to `lastLsn`, the first appended at `startMs`, was published. */
  published(lastLsn: number, startMs: number): void {
    this.lastLsns.push(lastLsn);
    this.startsMs.push(startMs);
  }

  /** Entries up to `lsn` are acknowledged: count those not counted yet. */
  acknowledgedUpTo(lsn: number): void {
    const { lastLsns, startsMs } = this;
    let head = this.head;
    if (head === lastLsns.length || lsn <= this.countedUpTo) return;
    const now = performance.now();
    while (head < lastLsns.length && this.countedUpTo < lsn) {
      const last = lastLsns[head];
      const upTo = Math.min(last, lsn);
      this.count(now - startsMs[head], upTo - this.countedUpTo);
      this.countedUpTo = upTo;
      if (upTo === last) head++;
    }
    if (head === lastLsns.length) {
      lastLsns.length = 0;
      startsMs.length = 0;
      head = 0;
    } else if (head > 1024 && head * 2 > lastLsns.length) {
      this.lastLsns = lastLsns.slice(head);
      this.startsMs = startsMs.slice(head);
      head = 0;
    }
    this.head = head;
  }

  /** The log failed: what is waiting will never be acknowledged. */
  dropAll(): void {
    this.lastLsns = [];
    this.startsMs = [];
    this.head = 0;
  }

  snapshot(): CommitLatencySnapshot {
    return {
      commitLatency: COMMIT_BUCKET_US.map((underUs, k) => ({ underUs, count: this.counts[k] })),
      acknowledged: this.acknowledged,
      commitLatencyMsTotal: this.msTotal,
      commitLatencyMsMax: this.msMax,
    };
  }

  private count(ms: number, entries: number): void {
    const us = ms * 1000;
    let k = 0;
    while (us >= COMMIT_BUCKET_US[k]) k++;
    this.counts[k] += entries;
    this.acknowledged += entries;
    this.msTotal += ms * entries;
    if (ms > this.msMax) this.msMax = ms;
  }
}
