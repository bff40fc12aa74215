/**
 * The writer thread's side of the control words (layout.ts): it notes the main thread's
 * requests (sync, rotate, checkpoint, close), answers them, publishes how far the log has got,
 * records the sticky error, and sleeps on WRITE_POS when there is nothing to do. The main
 * thread's side is src/ring/control-client.ts; the ring's data is read by consumer.ts.
 *
 * Requests are counters: the main thread bumps one, the writer answers by storing the value
 * it served in the matching DONE word. Every answer and every published change is followed by
 * `notifyMain()`, which bumps NOTIFY_SEQ, the word the main thread waits on.
 */
import { encodeWire, type WalError } from '../errors.js';
import {
  ACTIVE_SEGMENT_BYTES,
  CHECKPOINT_DONE,
  CHECKPOINT_LSN,
  CHECKPOINT_REQUEST,
  CHECKPOINT_TARGET,
  COMMAND,
  COMMAND_CLOSE,
  DURABLE_LSN,
  ERROR_AREA_BYTES,
  ERROR_BYTES,
  ERROR_SET,
  ERROR_STATE,
  NOTIFY_SEQ,
  ROTATE_DONE,
  ROTATE_REQUEST,
  ringViews,
  SYNC_DONE,
  SYNC_REQUEST,
  WRITE_POS,
  WRITER_RUNNING,
  WRITER_SLEEPING,
  WRITER_STATE,
  WRITER_STOPPED,
  WRITTEN_LSN,
} from './layout.js';

/** How long the writer watches for more work before it sleeps. */
const SPIN_US = 50;

export class ControlServer {
  private readonly control: Int32Array;
  private readonly lsns: BigInt64Array;
  private readonly errorArea: Uint8Array;
  /** The SYNC_REQUEST being served, the ring position it must cover, and the one last answered. */
  private syncServing: number;
  private syncCovers = 0;
  private syncDone: number;
  /** Likewise for rotate() requests. */
  private rotateServing: number;
  private rotateCovers = 0;
  private rotateDone: number;
  /** The CHECKPOINT_REQUEST being served, and the one last answered. */
  private checkpointServing: number;
  private checkpointDone: number;

  constructor(sab: SharedArrayBuffer) {
    const ring = ringViews(sab);
    this.control = ring.control;
    this.lsns = ring.lsns;
    this.errorArea = ring.errorArea;
    // A new writer on a ring that served another one goes on from its answers.
    this.syncDone = Atomics.load(this.control, SYNC_DONE);
    this.syncServing = this.syncDone;
    this.rotateServing = this.rotateDone = Atomics.load(this.control, ROTATE_DONE);
    this.checkpointServing = this.checkpointDone = Atomics.load(this.control, CHECKPOINT_DONE);
  }

  /** Whether the main thread has asked the writer to drain, sync and stop. */
  closeRequested(): boolean {
    return (Atomics.load(this.control, COMMAND) & COMMAND_CLOSE) !== 0;
  }

  /** Notes new sync and rotate requests with the ring position each must cover. */
  noteRequests(): void {
    const control = this.control;
    // Load each request before WRITE_POS: everything published before it is then covered.
    const sync = Atomics.load(control, SYNC_REQUEST);
    if (sync !== this.syncServing) {
      this.syncServing = sync;
      this.syncCovers = Atomics.load(control, WRITE_POS);
    }
    const rotate = Atomics.load(control, ROTATE_REQUEST);
    if (rotate !== this.rotateServing) {
      this.rotateServing = rotate;
      this.rotateCovers = Atomics.load(control, WRITE_POS);
    }
  }

  /** Whether a noted request, or a checkpoint request, is still unanswered. */
  requestsPending(): boolean {
    return (
      this.syncServing !== this.syncDone ||
      this.rotateServing !== this.rotateDone ||
      Atomics.load(this.control, CHECKPOINT_REQUEST) !== this.checkpointDone
    );
  }

  /** Whether a noted sync() request is unanswered; it may be answered once `syncCovers` is collected. */
  syncPending(): boolean {
    return this.syncServing !== this.syncDone;
  }

  /** The ring position the pending sync() request covers: entries published before it. */
  get syncTarget(): number {
    return this.syncCovers;
  }

  /** Answers the pending sync() request (call notifyMain() after publishing the durable LSN). */
  answerSync(): void {
    this.syncDone = this.syncServing;
    Atomics.store(this.control, SYNC_DONE, this.syncDone);
  }

  rotatePending(): boolean {
    return this.rotateServing !== this.rotateDone;
  }

  get rotateTarget(): number {
    return this.rotateCovers;
  }

  answerRotate(): void {
    this.rotateDone = this.rotateServing;
    Atomics.store(this.control, ROTATE_DONE, this.rotateDone);
  }

  /** Whether a checkpoint() request is waiting; notes it, to be answered by answerCheckpoint(). */
  checkpointRequested(): boolean {
    this.checkpointServing = Atomics.load(this.control, CHECKPOINT_REQUEST);
    return this.checkpointServing !== this.checkpointDone;
  }

  /** The LSN the waiting checkpoint() request asks for. */
  checkpointTarget(): number {
    return Number(Atomics.load(this.lsns, CHECKPOINT_TARGET));
  }

  answerCheckpoint(): void {
    this.checkpointDone = this.checkpointServing;
    Atomics.store(this.control, CHECKPOINT_DONE, this.checkpointDone);
  }

  /** Last LSN written to the OS, and last fdatasync'd. */
  publishLsns(writtenLsn: number, durableLsn: number): void {
    Atomics.store(this.lsns, WRITTEN_LSN, BigInt(writtenLsn));
    Atomics.store(this.lsns, DURABLE_LSN, BigInt(durableLsn));
  }

  /** Bytes of data in the segment being written. */
  publishSegmentBytes(bytes: number): void {
    Atomics.store(this.lsns, ACTIVE_SEGMENT_BYTES, BigInt(bytes));
  }

  publishCheckpoint(lsn: number): void {
    Atomics.store(this.lsns, CHECKPOINT_LSN, BigInt(lsn));
  }

  /** Tells the main thread that something above changed. */
  notifyMain(): void {
    Atomics.add(this.control, NOTIFY_SEQ, 1);
    Atomics.notify(this.control, NOTIFY_SEQ);
  }

  /** Records the sticky error where the main thread reads it, and tells it. */
  publishError(error: WalError): void {
    const json = encodeWire(error, ERROR_AREA_BYTES);
    this.errorArea.set(json);
    Atomics.store(this.control, ERROR_BYTES, json.length);
    Atomics.store(this.control, ERROR_STATE, ERROR_SET);
    this.notifyMain();
  }

  /** Says the writer has stopped for good (closed), and tells the main thread. */
  markStopped(): void {
    Atomics.store(this.control, WRITER_STATE, WRITER_STOPPED);
    this.notifyMain();
  }

  /**
   * Waits up to `waitMs` without announcing sleep, so no producer notifies: for a poisoned
   * writer, which only checks for close between waits.
   */
  pause(waitMs: number): void {
    Atomics.wait(this.control, WRITE_POS, Atomics.load(this.control, WRITE_POS), waitMs);
  }

  /**
   * Sleeps up to `waitMs`, until the producer publishes past `seen` (the position collected up
   * to) or a request arrives.
   */
  sleep(seen: number, waitMs: number): void {
    const control = this.control;
    // `seen` is the position collected up to, not a fresh load of WRITE_POS: a burst published
    // after the writer's last look must end the wait at once, and a fresh load would hide it.
    // Under load the next burst usually arrives within microseconds of a commit. Watching
    // for it briefly spares the main thread a notify that wakes us (~15 µs of its time here).
    if (waitMs > 0 && this.spinFor(seen)) return;
    Atomics.store(control, WRITER_STATE, WRITER_SLEEPING);
    // Re-check after announcing sleep: a producer that published before seeing SLEEPING did
    // not notify, and Atomics.wait returns at once if WRITE_POS moved since `seen`.
    if (!this.requestArrived()) Atomics.wait(control, WRITE_POS, seen, waitMs);
    Atomics.store(control, WRITER_STATE, WRITER_RUNNING);
  }

  /** Whether the main thread has asked for anything since the requests were last noted. */
  private requestArrived(): boolean {
    const control = this.control;
    return (
      Atomics.load(control, SYNC_REQUEST) !== this.syncServing ||
      Atomics.load(control, ROTATE_REQUEST) !== this.rotateServing ||
      Atomics.load(control, CHECKPOINT_REQUEST) !== this.checkpointDone ||
      Atomics.load(control, COMMAND) !== 0
    );
  }

  /** Watches WRITE_POS and the request words for up to SPIN_US; true if something arrived. */
  private spinFor(seen: number): boolean {
    const control = this.control;
    const deadline = performance.now() + SPIN_US / 1000;
    do {
      for (let i = 0; i < 64; i++) {
        if (Atomics.load(control, WRITE_POS) !== seen || this.requestArrived()) return true;
      }
    } while (performance.now() < deadline);
    return false;
  }
}
