/**
 * `checkpoint: true`: checkpoints a log at what the stream acknowledged, so that
 * `retention.requireCheckpoint` deletes only segments the stream holds. One class for both
 * ways of shipping a `Wal`: the shipper in the log's thread calls it directly, the worker
 * thread's shipper through the main thread (src/jetstream/thread-shipper.ts), because the log
 * (and its checkpoint request words) belongs to the thread that opened it.
 *
 * The rules: never backwards (nor below a checkpoint someone took before), never above
 * `wal.lastLsn`, at most every `intervalMs`, and once more when the shipper finishes.
 */
import { ErrorCode, type WalError } from '../errors.js';
import type { Wal } from '../wal.js';

/** What a shipper reports its progress to (the checkpointer, or the worker's status words). */
export interface ShipProgress {
  /** The stream has acknowledged everything up to `lsn` (called again with the same or higher). */
  shipped(lsn: number): void;
  /** The shipper has stopped: a last checkpoint, once what is under way settled. */
  finish(): Promise<void>;
  /** Checkpoints taken, and the last one (for `metrics()`). */
  readonly checkpoints: number;
  readonly checkpointLsn: number;
}

export class ShipCheckpointer implements ShipProgress {
  checkpoints = 0;
  checkpointLsn = 0;
  private shippedLsn = 0;
  private lastAt = Number.NEGATIVE_INFINITY;
  private pending: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private finishing = false;

  constructor(
    private readonly wal: Wal,
    private readonly intervalMs: number,
    /** A checkpoint that failed for another reason than a closed log (the shipper's onRetry). */
    private readonly onError: (error: Error) => void,
  ) {}

  shipped(lsn: number): void {
    if (lsn > this.shippedLsn) this.shippedLsn = lsn;
    if (!this.finishing) this.maybe();
  }

  async finish(): Promise<void> {
    this.finishing = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.pending;
    if (this.wal.error === null) {
      this.maybe(true);
      await this.pending;
    }
  }

  /** Checkpoints at the shipped LSN, at most every intervalMs (unless `force`), never backwards. */
  private maybe(force = false): void {
    const wal = this.wal;
    if (this.pending !== null) return;
    const target = Math.min(this.shippedLsn, wal.lastLsn);
    if (target <= Math.max(wal.checkpointLsn, this.checkpointLsn)) return;
    const wait = this.lastAt + this.intervalMs - Date.now();
    if (wait > 0 && !force) {
      this.timer ??= setTimeout(() => {
        this.timer = null;
        this.maybe();
      }, wait);
      return;
    }
    this.lastAt = Date.now();
    this.pending = wal.checkpoint(target).then(
      () => {
        this.checkpoints++;
        this.checkpointLsn = Math.max(this.checkpointLsn, target);
        this.pending = null;
        if (!this.finishing) this.maybe(); // what was acknowledged meanwhile
      },
      (e: unknown) => {
        this.pending = null;
        // A closed log ends the shipper by itself (its tail ends); anything else is worth a word.
        if ((e as WalError)?.code !== ErrorCode.CLOSED) this.onError(e as Error);
      },
    );
  }
}
