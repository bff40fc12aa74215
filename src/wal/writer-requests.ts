/**
 * What the main thread asks of the writer besides appends — sync, rotate, checkpoint — and
 * the callers waiting for the answers. The requests travel through the control words
 * (src/ring/control-client.ts); the answers are settled when the appender polls the
 * writer's progress (Appender.poll), in request order.
 */
import type { ControlClient } from '../ring/control-client.js';
import { PendingAcks, type Resolve } from './ack-groups.js';

export class WriterRequests {
  /** The highest durable LSN seen: `sync()` callers up to it are settled. */
  durableSeen: number;
  /** `sync()` callers, by the LSN they wait for. */
  private readonly syncs = new PendingAcks();
  /** rotate() and checkpoint() callers, keyed by their request number. */
  private readonly rotations = new PendingAcks();
  private readonly checkpoints = new PendingAcks();
  /** Followers (`wal.tail()`) waiting for an LSN to become durable: they never ask for a sync. */
  private readonly durableWatchers = new PendingAcks();
  private readonly control: ControlClient;

  // One executor for every promise: it parks the resolver here, saving a closure per call.
  private parked: Resolve = noop;
  private readonly park = (resolve: Resolve): void => {
    this.parked = resolve;
  };

  constructor(control: ControlClient, durableLsn: number) {
    this.control = control;
    this.durableSeen = durableLsn;
  }

  /** Whether any caller waits for an answer. */
  get pending(): boolean {
    return (
      this.syncs.size > 0 ||
      this.rotations.size > 0 ||
      this.checkpoints.size > 0 ||
      this.durableWatchers.size > 0
    );
  }

  /** The smallest LSN a `sync()` caller waits for, or Infinity. */
  get lowestSync(): number {
    return this.syncs.lowest;
  }

  get syncsWaiting(): boolean {
    return this.syncs.size > 0;
  }

  /** Resolves once `lsn` is durable. Asking the writer is the caller's (Appender.requestSyncIfIdle). */
  waitForSync(lsn: number): Promise<number> {
    const promise = new Promise<number>(this.park);
    this.syncs.add(lsn, this.parked);
    return promise;
  }

  /**
   * Resolves once `lsn` is durable, without asking for it: in the 'interval' and 'none' modes
   * a follower waits for the syncs the mode makes (or `sync()`, a rotation, close).
   */
  watchDurable(lsn: number): Promise<number> {
    if (lsn <= this.durableSeen) return Promise.resolve(lsn);
    const promise = new Promise<number>(this.park);
    this.durableWatchers.add(lsn, this.parked);
    return promise;
  }

  /** Asks for a rotation; resolves once the writer has answered it. */
  rotate(): Promise<number> {
    const promise = new Promise<number>(this.park);
    this.rotations.add(this.control.requestRotate(), this.parked);
    return promise;
  }

  /** Asks for a durable checkpoint at `lsn`; resolves once the writer has answered it. */
  checkpoint(lsn: number): Promise<number> {
    const promise = new Promise<number>(this.park);
    this.checkpoints.add(this.control.requestCheckpoint(lsn), this.parked);
    return promise;
  }

  /** Settles `sync()` callers up to `durable`, the durable LSN just read. */
  settleSyncs(durable: number): void {
    if (durable > this.durableSeen) {
      this.durableSeen = durable;
      this.syncs.resolveUpTo(durable);
      if (this.durableWatchers.size > 0) this.durableWatchers.resolveUpTo(durable);
    }
  }

  /** Settles the rotations and checkpoints the writer has answered. */
  settleAnswers(): void {
    if (this.rotations.size > 0) this.rotations.resolveUpTo(this.control.rotationsDone());
    if (this.checkpoints.size > 0) this.checkpoints.resolveUpTo(this.control.checkpointsDone());
  }

  rejectAll(error: unknown): void {
    this.syncs.rejectAll(error);
    this.rotations.rejectAll(error);
    this.checkpoints.rejectAll(error);
    this.durableWatchers.rejectAll(error);
  }
}

function noop(): void {}
