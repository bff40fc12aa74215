/**
 * Counters the writer thread keeps in shared memory (the metrics area of the ring's control
 * block, src/ring/layout.ts) and the snapshot `wal.metrics()` builds from them and the main
 * thread's own counts. The writer only adds to its slots; the main thread only reads them.
 * Plain (non-atomic) stores: a snapshot taken while the writer works may mix counts a
 * batch apart, which statistics can afford and the commit path is spared.
 */

/** Float64 slots of the metrics area, written by WRITER. */
const WRITES = 0;
const BYTES_WRITTEN = 1;
const SYNCS = 2;
const SYNC_MS_TOTAL = 3;
const SYNC_MS_MAX = 4;
const ROTATIONS = 5;
const SEGMENTS_REMOVED = 6;
const ZERO_FILLED_BYTES = 7;
/** Entries whose last record a batch wrote (the batch-size histogram's sum). */
const ENTRIES_WRITTEN = 8;
/** Histogram of commit fdatasync latencies: bucket k counts syncs under SYNC_BUCKET_US[k]. */
const SYNC_HISTOGRAM = 16;
/** Upper bounds in µs, doubling from 64 µs; the last bucket takes everything slower. */
const SYNC_BUCKET_US = [64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, Infinity];
/** Histograms of group commit sizes: bucket k counts batches of at most BATCH_*[k]. */
const BATCH_ENTRIES_HISTOGRAM = SYNC_HISTOGRAM + SYNC_BUCKET_US.length;
const BATCH_ENTRIES = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, Infinity];
const BATCH_BYTES_HISTOGRAM = BATCH_ENTRIES_HISTOGRAM + BATCH_ENTRIES.length;
const BATCH_BYTES = [1024, 4096, 16384, 65536, 262144, 1048576, 4194304, Infinity];

/** Slots the area needs (fits METRICS_BYTES in the layout). */
export const METRIC_SLOTS = BATCH_BYTES_HISTOGRAM + BATCH_BYTES.length;

/** The bucket of `value` among increasing `bounds` (the last is Infinity): the first it is under, or at most. */
function bucketUnder(value: number, bounds: readonly number[]): number {
  let k = 0;
  while (value >= bounds[k]) k++;
  return k;
}
function bucketAtMost(value: number, bounds: readonly number[]): number {
  let k = 0;
  while (value > bounds[k]) k++;
  return k;
}

/** The writer's side: adds to the shared counters. */
export class WriterMetrics {
  constructor(private readonly slots: Float64Array) {}

  /** One group commit (a `writev`): `bytes` of records, completing `entries` entries. */
  wrote(bytes: number, entries: number): void {
    const slots = this.slots;
    slots[WRITES]++;
    slots[BYTES_WRITTEN] += bytes;
    slots[ENTRIES_WRITTEN] += entries;
    slots[BATCH_ENTRIES_HISTOGRAM + bucketAtMost(entries, BATCH_ENTRIES)]++;
    slots[BATCH_BYTES_HISTOGRAM + bucketAtMost(bytes, BATCH_BYTES)]++;
  }

  /** One fdatasync that made appended records durable, and how long it took. */
  synced(ms: number): void {
    const slots = this.slots;
    slots[SYNCS]++;
    slots[SYNC_MS_TOTAL] += ms;
    if (ms > slots[SYNC_MS_MAX]) slots[SYNC_MS_MAX] = ms;
    slots[SYNC_HISTOGRAM + bucketUnder(ms * 1000, SYNC_BUCKET_US)]++;
  }

  rotated(): void {
    this.slots[ROTATIONS]++;
  }

  removedSegments(count: number): void {
    this.slots[SEGMENTS_REMOVED] += count;
  }

  zeroFilled(bytes: number): void {
    this.slots[ZERO_FILLED_BYTES] += bytes;
  }
}

/** A snapshot of a log's activity since it was opened. Counters only grow. */
export interface WalMetrics {
  /** Entries appended since open (acknowledged or not). */
  appends: number;
  /** Their encoded (MessagePack) bytes, without record headers. */
  appendedBytes: number;
  /** Appends refused with WAL_BACKPRESSURE. */
  backpressureRejections: number;
  /** Appends (or fast-path waits) whose promise has not settled yet. */
  pendingAcks: number;
  /** Bytes in the ring not yet written out by the writer, of `ringCapacity`. */
  ringBytesInUse: number;
  ringCapacity: number;
  /** Entries (and their bytes) waiting outside the ring for space, bounded by maxPendingBytes. */
  overflowEntries: number;
  overflowBytes: number;
  lastLsn: number;
  writtenLsn: number;
  durableLsn: number;
  /** The writer's `writev` batches (group commits) and the record bytes they wrote. */
  writes: number;
  bytesWritten: number;
  /** fdatasyncs that made appended records durable, their total and slowest time in ms. */
  syncs: number;
  syncMsTotal: number;
  syncMsMax: number;
  /**
   * Those fdatasyncs by latency: `count` took less than `underUs` µs (and at least the previous
   * bucket's bound). The last bucket's bound is Infinity.
   */
  syncLatency: Array<{ underUs: number; count: number }>;
  /**
   * Entries acknowledged since open by the time from their `append()` to the acknowledgement
   * (the latency callers feel; `count` took less than `underUs` µs). Timed per publish group:
   * each entry counts its group's time from the first append (src/wal/commit-latency.ts).
   */
  commitLatency: Array<{ underUs: number; count: number }>;
  /** Entries the commit-latency histogram counted, and their summed and longest latency in ms. */
  acknowledged: number;
  commitLatencyMsTotal: number;
  commitLatencyMsMax: number;
  /** Group commits (`writes`) by the entries they completed: `count` had at most `atMost`. */
  batchEntries: Array<{ atMost: number; count: number }>;
  /** Group commits by their record bytes: `count` wrote at most `atMost` bytes. */
  batchBytes: Array<{ atMost: number; count: number }>;
  /** Entries the group commits completed (the sum of `batchEntries`). */
  entriesWritten: number;
  /** Segments sealed and started, and segments deleted by retention. */
  rotations: number;
  segmentsRemoved: number;
  /** Zeros written ahead of the data (preallocation). */
  zeroFilledBytes: number;
}

/** The main thread's counts and positions, merged with the writer's slots by `snapshot`. */
export type MainThreadCounts = Pick<
  WalMetrics,
  | 'appends'
  | 'appendedBytes'
  | 'backpressureRejections'
  | 'pendingAcks'
  | 'ringBytesInUse'
  | 'ringCapacity'
  | 'overflowEntries'
  | 'overflowBytes'
  | 'lastLsn'
  | 'writtenLsn'
  | 'durableLsn'
  | 'commitLatency'
  | 'acknowledged'
  | 'commitLatencyMsTotal'
  | 'commitLatencyMsMax'
>;

export function snapshot(slots: Float64Array, main: MainThreadCounts): WalMetrics {
  return {
    ...main,
    writes: slots[WRITES],
    bytesWritten: slots[BYTES_WRITTEN],
    syncs: slots[SYNCS],
    syncMsTotal: slots[SYNC_MS_TOTAL],
    syncMsMax: slots[SYNC_MS_MAX],
    syncLatency: SYNC_BUCKET_US.map((underUs, k) => ({ underUs, count: slots[SYNC_HISTOGRAM + k] })),
    batchEntries: BATCH_ENTRIES.map((atMost, k) => ({ atMost, count: slots[BATCH_ENTRIES_HISTOGRAM + k] })),
    batchBytes: BATCH_BYTES.map((atMost, k) => ({ atMost, count: slots[BATCH_BYTES_HISTOGRAM + k] })),
    entriesWritten: slots[ENTRIES_WRITTEN],
    rotations: slots[ROTATIONS],
    segmentsRemoved: slots[SEGMENTS_REMOVED],
    zeroFilledBytes: slots[ZERO_FILLED_BYTES],
  };
}
