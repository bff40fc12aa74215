/**
 * The shared memory a worker-thread shipper (workers/shipper.ts) reports through, and the
 * messages it exchanges with the main thread (src/jetstream/thread-shipper.ts). The worker
 * writes every slot; the main thread only reads them, except NOTICE_POSTED, which it clears.
 *
 * ```
 *  i32 [0] NOTICE_POSTED   1 while a 'shipped' notice is posted and not yet read (WORKER sets, MAIN clears)
 *  i64 [1] SHIPPED_LSN     the highest LSN the stream acknowledged (WORKER), stored last
 *  f64 [2..] METRICS       the worker's `metrics()` snapshot (WORKER), see METRIC_FIELDS
 * ```
 *
 * Why shared memory and not a message per acknowledgement: `shippedLsn` and `metrics()` are
 * synchronous and cheap for the caller, and a message costs the main thread ~10-20 µs each.
 * The worker posts a 'shipped' notice only when the main thread has read the previous one
 * (NOTICE_POSTED), so a busy main thread gets at most one notice per turn of its event loop,
 * however fast acknowledgements come; the notice carries nothing, the words hold the news.
 * The metrics slots are plain stores read without a lock: a snapshot may mix two updates
 * (each field is whole), as any sampled gauge does; SHIPPED_LSN is an atomic store made after
 * them, so a reader that sees an LSN sees the counters of that LSN or later.
 */
import { WalError, type WalErrorDetails } from '../errors.js';
import { LATENCY_BUCKET_US, type ShipperMetrics, type ShipperState } from './metrics.js';
import type { FilledShipOptions } from './options.js';

const NOTICE_POSTED = 0; // Int32 index
const SHIPPED_LSN = 1; // BigInt64 index (byte 8)
const METRICS_OFFSET = 16;

/** The scalar fields of `ShipperMetrics` the worker reports, in slot order. */
const METRIC_FIELDS = [
  'lagBytes',
  'published',
  'duplicates',
  'inFlight',
  'inFlightBytes',
  'reconnects',
  'retries',
  'acknowledged',
  'publishLatencyMsTotal',
  'publishLatencyMsMax',
] as const;
const STATES: ShipperState[] = ['connecting', 'connected', 'disconnected', 'stopped'];
const STATE_SLOT = METRIC_FIELDS.length;
const HISTOGRAM_SLOT = STATE_SLOT + 1;
/** Buckets of the publish-latency histogram (src/jetstream/metrics.ts). */
const HISTOGRAM_BUCKETS = LATENCY_BUCKET_US.length;
const SLOTS = HISTOGRAM_SLOT + HISTOGRAM_BUCKETS;

export function createStatus(): SharedArrayBuffer {
  return new SharedArrayBuffer(METRICS_OFFSET + SLOTS * 8);
}

/** The status buffer's views, as both sides see it. */
class StatusViews {
  protected readonly flags: Int32Array;
  protected readonly lsn: BigInt64Array;
  protected readonly slots: Float64Array;

  constructor(status: SharedArrayBuffer) {
    this.flags = new Int32Array(status, 0, 2);
    this.lsn = new BigInt64Array(status, 0, 2);
    this.slots = new Float64Array(status, METRICS_OFFSET, SLOTS);
  }
}

/** The worker's side: stores what its shipper reports. */
export class StatusWriter extends StatusViews {
  /** Stores `metrics` and its shipped LSN; true when a notice should be posted (none is pending). */
  store(metrics: ShipperMetrics): boolean {
    const slots = this.slots;
    for (let k = 0; k < METRIC_FIELDS.length; k++) slots[k] = metrics[METRIC_FIELDS[k]];
    slots[STATE_SLOT] = STATES.indexOf(metrics.state);
    const buckets = metrics.publishLatency;
    for (let k = 0; k < HISTOGRAM_BUCKETS && k < buckets.length; k++)
      slots[HISTOGRAM_SLOT + k] = buckets[k].count;
    const before = Atomics.load(this.lsn, SHIPPED_LSN);
    Atomics.store(this.lsn, SHIPPED_LSN, BigInt(metrics.shippedLsn));
    return BigInt(metrics.shippedLsn) !== before && Atomics.exchange(this.flags, NOTICE_POSTED, 1) === 0;
  }
}

/** The main thread's side: reads what the worker stored. */
export class StatusReader extends StatusViews {
  /** Takes the pending notice (the next store posts again), then reads the LSN it is about. */
  takeNotice(): number {
    Atomics.store(this.flags, NOTICE_POSTED, 0);
    return this.shippedLsn();
  }

  shippedLsn(): number {
    return Number(Atomics.load(this.lsn, SHIPPED_LSN));
  }

  /** The worker's last snapshot (without the fields the main thread knows better). */
  metrics(): Omit<ShipperMetrics, 'sourceLsn' | 'lagEntries' | 'checkpoints' | 'checkpointLsn'> {
    const shippedLsn = this.shippedLsn();
    const slots = this.slots;
    const out = { shippedLsn } as Record<string, unknown>;
    for (let k = 0; k < METRIC_FIELDS.length; k++) out[METRIC_FIELDS[k]] = slots[k];
    out.state = STATES[slots[STATE_SLOT]] ?? 'connecting';
    out.publishLatency = LATENCY_BUCKET_US.map((underUs, k) => ({
      underUs,
      count: slots[HISTOGRAM_SLOT + k],
    }));
    return out as unknown as ReturnType<StatusReader['metrics']>;
  }
}

/** An error as it crosses from the worker: a WalError keeps its code and details. */
export interface ThreadError extends WalErrorDetails {
  message: string;
  /** A WalError's code, or another error's `code` (a NATS error's), if any. */
  code?: string;
  wal: boolean;
}

export function errorToThread(error: unknown): ThreadError {
  if (error instanceof WalError) {
    const { code, message, errno, syscall, path, offset, firstLsn, lastLsn } = error;
    return { wal: true, code, message, errno, syscall, path, offset, firstLsn, lastLsn };
  }
  const e = error as { message?: unknown; code?: unknown } | null;
  const message = typeof e?.message === 'string' ? e.message : String(error);
  return { wal: false, message, code: e?.code === undefined ? undefined : String(e.code) };
}

export function errorFromThread(wire: ThreadError): Error {
  if (wire.wal) return new WalError(wire.code as WalError['code'], wire.message, wire);
  const error = new Error(wire.message);
  if (wire.code !== undefined) Object.assign(error, { code: wire.code });
  return error;
}

/** What the worker is started with. */
export interface ShipperThreadData {
  /** The log's ring (src/ring/layout.ts): the worker only reads its writer-side words. */
  ring: SharedArrayBuffer;
  status: SharedArrayBuffer;
  dir: string;
  logId: string;
  /** The filled options without the callbacks (they stay on the main thread). */
  options: Omit<FilledShipOptions, 'onShipped' | 'onRetry'>;
  /** Niceness of the worker thread (Linux: that thread only). */
  nice: number;
}

/** Worker → main. */
export type ShipperThreadMessage =
  | { type: 'started' }
  | { type: 'start-failed'; error: ThreadError }
  | { type: 'shipped' }
  | { type: 'retry'; error: ThreadError }
  | { type: 'closed'; error: ThreadError | null };

/** Main → worker. */
export type ShipperThreadCommand = { type: 'stop' } | { type: 'source-failed'; error: ThreadError };
