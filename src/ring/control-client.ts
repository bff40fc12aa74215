/**
 * The main thread's side of the control words (src/ring/layout.ts): requests to the writer
 * (sync, rotate, checkpoint, close) and their answers, the LSNs the writer publishes, the
 * notify sequence the main thread waits on, and the sticky error. The ring's data side
 * (WRITE_POS, READ_POS) is the producer's (src/ring/producer.ts).
 *
 * A request is a counter the main thread bumps and the writer answers by copying it into
 * the matching DONE word, so a request is never lost and answers can be waited for with
 * `>=`. The main thread only ever stores its own words (line 0) and reads the writer's.
 */
import type { WalError } from '../errors.js';
import { readWriterError } from './control-reader.js';
import {
  ACTIVE_SEGMENT_BYTES,
  CHECKPOINT_DONE,
  CHECKPOINT_LSN,
  CHECKPOINT_REQUEST,
  CHECKPOINT_TARGET,
  COMMAND,
  COMMAND_CLOSE,
  DURABLE_LSN,
  ERROR_SET,
  ERROR_STATE,
  NOTIFY_SEQ,
  type RingViews,
  ROTATE_DONE,
  ROTATE_REQUEST,
  ringViews,
  SYNC_DONE,
  SYNC_REQUEST,
  WRITE_POS,
  WRITER_RUNNING,
  WRITER_SLEEPING,
  WRITER_STATE,
  WRITTEN_LSN,
} from './layout.js';

/**
 * Wakes the writer after new data is published, only if it has said it sleeps: a notify
 * that wakes a thread costs ~6 µs, one that finds no waiter ~30 ns. The writer sets
 * WRITER_SLEEPING before it re-checks WRITE_POS and waits, so this cannot miss it; the
 * compare-exchange makes sure one sleep costs one notify however often we publish.
 */
export function wakeWriterIfSleeping(control: Int32Array): void {
  if (Atomics.load(control, WRITER_STATE) === WRITER_SLEEPING) {
    if (Atomics.compareExchange(control, WRITER_STATE, WRITER_SLEEPING, WRITER_RUNNING) === WRITER_SLEEPING) {
      Atomics.notify(control, WRITE_POS);
    }
  }
}

export class ControlClient {
  private readonly control: Int32Array;
  private readonly lsns: BigInt64Array;
  private readonly errorArea: Uint8Array;
  /** The writer's counters (src/metrics.ts reads them). */
  readonly metricSlots: Float64Array;
  /** Bytes in the ring's data area. */
  readonly ringCapacity: number;
  /** Which LSN word acknowledges appends: DURABLE_LSN with sync 'always', WRITTEN_LSN otherwise. */
  private readonly ackSlot: number;
  /** Whether appends are acknowledged once durable (not only written). */
  readonly acksDurable: boolean;
  /** The last request numbers posted. */
  private syncRequested: number;
  private rotateRequested: number;
  private checkpointRequested: number;

  constructor(sab: SharedArrayBuffer, acksDurable: boolean) {
    const ring: RingViews = ringViews(sab);
    this.control = ring.control;
    this.lsns = ring.lsns;
    this.errorArea = ring.errorArea;
    this.metricSlots = ring.metrics;
    this.ringCapacity = ring.capacity;
    this.acksDurable = acksDurable;
    this.ackSlot = acksDurable ? DURABLE_LSN : WRITTEN_LSN;
    this.syncRequested = Atomics.load(this.control, SYNC_REQUEST);
    this.rotateRequested = Atomics.load(this.control, ROTATE_REQUEST);
    this.checkpointRequested = Atomics.load(this.control, CHECKPOINT_REQUEST);
  }

  // ---- what the writer publishes ----

  /** The LSN up to which appends are acknowledged (durable or written, per the sync mode). */
  ackedLsn(): number {
    return Number(Atomics.load(this.lsns, this.ackSlot));
  }

  /** Highest LSN fdatasync'd. */
  durableLsn(): number {
    return Number(Atomics.load(this.lsns, DURABLE_LSN));
  }

  /** Highest LSN written to the OS. */
  writtenLsn(): number {
    return Number(Atomics.load(this.lsns, WRITTEN_LSN));
  }

  /** The durable checkpoint. */
  checkpointLsn(): number {
    return Number(Atomics.load(this.lsns, CHECKPOINT_LSN));
  }

  /** Bytes of data in the segment being written. */
  activeSegmentBytes(): number {
    return Number(Atomics.load(this.lsns, ACTIVE_SEGMENT_BYTES));
  }

  /** Whether the writer has failed; its error is then `writerError()`. */
  writerFailed(): boolean {
    return Atomics.load(this.control, ERROR_STATE) === ERROR_SET;
  }

  /** The writer's sticky error, from the error area (once `writerFailed()`). */
  writerError(): WalError {
    return readWriterError(this.control, this.errorArea);
  }

  // ---- waiting for the writer ----

  /** The notify sequence: the writer bumps it after every change to what it publishes. */
  notifySeq(): number {
    return Atomics.load(this.control, NOTIFY_SEQ);
  }

  /** Waits, without blocking, for the notify sequence to move on from `seq`. */
  waitAsync(seq: number): ReturnType<typeof Atomics.waitAsync> {
    return Atomics.waitAsync(this.control, NOTIFY_SEQ, seq);
  }

  /** Blocks up to `ms` for the notify sequence to move on from `seq`. */
  wait(seq: number, ms: number): void {
    Atomics.wait(this.control, NOTIFY_SEQ, seq, ms);
  }

  // ---- requests ----

  /** Whether the last sync request is answered (the writer fdatasync'd for it). */
  syncAnswered(): boolean {
    return Atomics.load(this.control, SYNC_DONE) === this.syncRequested;
  }

  /** Asks for an fdatasync covering everything published. */
  requestSync(): void {
    this.syncRequested = (this.syncRequested + 1) | 0;
    Atomics.store(this.control, SYNC_REQUEST, this.syncRequested);
    this.notifyWriter();
  }

  /** Asks for a rotation once everything published is written; returns its request number. */
  requestRotate(): number {
    const request = ++this.rotateRequested;
    Atomics.store(this.control, ROTATE_REQUEST, request);
    this.notifyWriter();
    return request;
  }

  /** The last rotation request answered. */
  rotationsDone(): number {
    return Atomics.load(this.control, ROTATE_DONE);
  }

  /** Asks for a durable checkpoint at `lsn`; returns its request number. */
  requestCheckpoint(lsn: number): number {
    Atomics.store(this.lsns, CHECKPOINT_TARGET, BigInt(lsn));
    const request = ++this.checkpointRequested;
    Atomics.store(this.control, CHECKPOINT_REQUEST, request);
    this.notifyWriter();
    return request;
  }

  /** The last checkpoint request answered. */
  checkpointsDone(): number {
    return Atomics.load(this.control, CHECKPOINT_DONE);
  }

  /** Asks the writer to drain, sync and stop. */
  requestClose(): void {
    Atomics.or(this.control, COMMAND, COMMAND_CLOSE);
    this.notifyWriter();
  }

  /**
   * Wakes the writer for a request wherever it waits: unlike new data (wakeWriterIfSleeping),
   * a request is rare, and a writer that has failed waits for the close command without
   * saying it sleeps.
   */
  private notifyWriter(): void {
    Atomics.notify(this.control, WRITE_POS);
  }
}
