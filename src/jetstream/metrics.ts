/**
 * The shipper's counters and the snapshot `shipper.metrics()` returns. Histogram buckets have
 * the shape of `WalMetrics`' (src/metrics.ts): `{ underUs, count }`, the last bound Infinity.
 */

/** Upper bounds in µs of the publish-latency buckets, doubling from 128 µs to about 4 s. */
export const LATENCY_BUCKET_US = [
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
  2097152,
  4194304,
  Number.POSITIVE_INFINITY,
];

export type ShipperState = 'connecting' | 'connected' | 'disconnected' | 'stopped';

/** A snapshot of a shipper's progress since it started. Counters only grow. */
export interface ShipperMetrics {
  /** Highest LSN the stream acknowledged (or held when shipping resumed); 0 before the first. */
  shippedLsn: number;
  /** Highest LSN the source has (a `Wal`: its durable LSN; a directory: the last entry read). */
  sourceLsn: number;
  /** Entries the stream does not hold yet: `sourceLsn - shippedLsn` (0 when caught up). */
  lagEntries: number;
  /**
   * Bytes not acknowledged yet: those of entries awaiting their acknowledgement, plus the log's
   * bytes after the last entry read (as of the follower's last look; a `Wal` source: up to its
   * durable end).
   */
  lagBytes: number;
  /** Entries published and acknowledged as stored (duplicates not counted). */
  published: number;
  /** Entries the stream acknowledged as duplicates (already stored: a replay after a failure). */
  duplicates: number;
  /** Publishes (messages) in flight now, and their bytes. */
  inFlight: number;
  inFlightBytes: number;
  /** Times the connection to NATS was re-established after a loss. */
  reconnects: number;
  /** Failures the shipper recovered from by resuming (timeouts, lost servers, rejected publishes). */
  retries: number;
  /** Checkpoints taken on the log (`checkpoint: true`), and the last one. */
  checkpoints: number;
  checkpointLsn: number;
  state: ShipperState;
  /** Acknowledged publishes (messages) by the time from publish to acknowledgement: `count` took less than `underUs` µs. */
  publishLatency: Array<{ underUs: number; count: number }>;
  /** Publishes (messages) the histogram counted, their summed and longest latency in ms. */
  acknowledged: number;
  publishLatencyMsTotal: number;
  publishLatencyMsMax: number;
}

/** Mutable counters the shipper updates; `snapshot` copies them. */
export class ShipperCounters {
  published = 0;
  duplicates = 0;
  reconnects = 0;
  retries = 0;
  acknowledged = 0;
  latencyMsTotal = 0;
  latencyMsMax = 0;
  readonly latency = new Float64Array(LATENCY_BUCKET_US.length);

  /** One acknowledged publish of `entries` entries that took `ms`. */
  acked(ms: number, duplicate: boolean, entries: number): void {
    if (duplicate) this.duplicates += entries;
    else this.published += entries;
    this.acknowledged++;
    this.latencyMsTotal += ms;
    if (ms > this.latencyMsMax) this.latencyMsMax = ms;
    const us = ms * 1000;
    let k = 0;
    while (us >= LATENCY_BUCKET_US[k]) k++;
    this.latency[k]++;
  }

  histogram(): Array<{ underUs: number; count: number }> {
    return LATENCY_BUCKET_US.map((underUs, k) => ({ underUs, count: this.latency[k] }));
  }
}
