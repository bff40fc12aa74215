/**
 * Read-only access to the writer's words of a log's ring (src/ring/layout.ts), for a thread
 * other than the log's own: the worker-thread shipper (src/jetstream/durable-source.ts) learns
 * how far the log is durable, and whether the writer stopped or failed, by reading these, and
 * never stores a word. (A SharedArrayBuffer cannot be shared in part: the whole ring reaches
 * the other thread; this class is all of it that thread uses.)
 *
 * It never waits on NOTIFY_SEQ: the log's own thread waits there, and the writer may wake one
 * waiter only. A reader elsewhere polls.
 */
import { ErrorCode, fromWire, WalError, type WireError } from '../errors.js';
import {
  DURABLE_LSN,
  ERROR_BYTES,
  ERROR_SET,
  ERROR_STATE,
  ringViews,
  WRITER_STATE,
  WRITER_STOPPED,
} from './layout.js';

export class ControlReader {
  private readonly control: Int32Array;
  private readonly lsns: BigInt64Array;
  private readonly errorArea: Uint8Array;

  constructor(sab: SharedArrayBuffer) {
    const ring = ringViews(sab);
    this.control = ring.control;
    this.lsns = ring.lsns;
    this.errorArea = ring.errorArea;
  }

  /** Highest LSN fdatasync'd. */
  durableLsn(): number {
    return Number(Atomics.load(this.lsns, DURABLE_LSN));
  }

  /** Whether the writer has stopped for good (the log closed): DURABLE_LSN will not move again. */
  writerStopped(): boolean {
    return Atomics.load(this.control, WRITER_STATE) === WRITER_STOPPED;
  }

  /** Whether the writer has failed; its error is then `writerError()`. */
  writerFailed(): boolean {
    return Atomics.load(this.control, ERROR_STATE) === ERROR_SET;
  }

  /** The writer's sticky error, from the error area (once `writerFailed()`). */
  writerError(): WalError {
    return readWriterError(this.control, this.errorArea);
  }
}

/** The sticky error the writer stored in the error area (ControlServer.publishError). */
export function readWriterError(control: Int32Array, errorArea: Uint8Array): WalError {
  const length = Atomics.load(control, ERROR_BYTES);
  try {
    const text = new TextDecoder().decode(errorArea.slice(0, length));
    return fromWire(JSON.parse(text) as WireError);
  } catch {
    return new WalError(ErrorCode.IO_ERROR, 'the writer failed (its error could not be read)');
  }
}
