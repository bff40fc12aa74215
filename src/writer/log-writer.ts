/**
 * The writer's logic: the group-commit loop over the ring and the segment files. A plain
 * class over the file-system seam, so tests drive it in-process with a failing file system;
 * workers/writer.ts runs it on its own thread.
 *
 * One turn of the loop (`step`): take everything published since the last turn (that is the
 * group commit: whatever arrived during the previous fdatasync), fill in the CRCs, one
 * `writev` of views on the ring, `fdatasync`, publish the durable LSN. Requests from the main
 * thread (sync, rotate, checkpoint, close) arrive through shared words, because a thread
 * blocked in `Atomics.wait` does not read its message port. Segment housekeeping (rotation
 * by size and time, retention) is decided here too, between commits, and time-based work is
 * driven by the wait's timeout: there are no timers.
 *
 * The loop decides; its helpers know how: the shared words are src/ring/control-server.ts,
 * the ring's records src/ring/consumer.ts, segment files src/segment/segment-file.ts and
 * segment-set.ts, zero-filling ahead src/writer/preallocation.ts, and going on from an earlier
 * writer's log on open src/writer/resume.ts.
 */

import { ErrorCode, ioError, type WalError, writerCrashed } from '../errors.js';
import type { FileSystem } from '../fs.js';
import { WriterMetrics } from '../metrics.js';
import { DEFAULT_RECOVERY } from '../reader/policy.js';
import { type OpenState, recoverOnOpen } from '../recovery/open-scan.js';
import { RingConsumer } from '../ring/consumer.js';
import { ControlServer } from '../ring/control-server.js';
import { ringViews } from '../ring/layout.js';
import { writeCheckpoint } from '../segment/checkpoint.js';
import { ensureLogId } from '../segment/log-id.js';
import type { ActiveSegment } from '../segment/segment-file.js';
import { SegmentSet } from '../segment/segment-set.js';
import { IoPhase } from './io-phase.js';
import type { WriterConfig } from './messages.js';
import { Preallocation } from './preallocation.js';
import { noteSyncFailure, resumeCheckpoint, resumeTail } from './resume.js';

/** The writer's settings; defined with the other messages that cross to its thread. */
export type { WriterConfig };

export class LogWriter {
  private readonly consumer: RingConsumer;
  private readonly control: ControlServer;
  private readonly metrics: WriterMetrics;
  private segment: ActiveSegment | null = null;
  /** Last LSN written to the OS / fdatasync'd. */
  private writtenLsn = 0;
  private durableLsn = 0;
  private unsynced = false;
  private lastSyncMs = 0;
  /** The durable checkpoint. */
  private checkpointLsn = 0;
  private readonly segments: SegmentSet;
  private readonly preallocation: Preallocation;
  /** What the I/O in progress is, so a failure is classified right (an fsync failure has its own code). */
  private readonly io = new IoPhase();
  private failed: WalError | null = null;
  private stopped = false;

  constructor(
    private readonly fsys: FileSystem,
    sab: SharedArrayBuffer,
    private readonly config: WriterConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.consumer = new RingConsumer(sab);
    this.control = new ControlServer(sab);
    this.metrics = new WriterMetrics(ringViews(sab).metrics);
    this.segments = new SegmentSet(fsys, config.dir);
    this.preallocation = new Preallocation(fsys, config, this.metrics, this.io);
  }

  /** Recovers the directory and opens (or creates) the segment appends continue in. */
  open(): OpenState {
    const mode = this.config.recovery ?? DEFAULT_RECOVERY;
    const state = recoverOnOpen(this.fsys, this.config.dir, mode);
    this.writtenLsn = this.durableLsn = state.lastLsn;
    this.publishLsns();
    this.segments.load();
    const resumed = resumeTail(this.fsys, this.config.dir, state, this.config, this.segments);
    this.segment = resumed ?? this.startSegment(state.lastLsn + 1);
    this.checkpointLsn = resumeCheckpoint(this.fsys, this.config.dir, mode, state);
    this.control.publishCheckpoint(this.checkpointLsn);
    this.lastSyncMs = this.now();
    this.applyRetention();
    this.logId = ensureLogId(this.fsys, this.config.dir);
    return state;
  }

  /** The log's identity (src/segment/log-id.ts), known once `open` has run. */
  logId = '';

  get segmentPath(): string | null {
    return this.segment?.path ?? null;
  }

  /**
   * One turn of the loop; returns false once the writer has stopped (closed). Blocks up to
   * `waitMs` when there is nothing to do.
   */
  step(waitMs = this.config.idleWaitMs): boolean {
    if (this.stopped) return false;
    const closing = this.control.closeRequested();
    if (this.failed) {
      // Poisoned: acknowledge nothing, wait for close.
      if (closing) return this.stop();
      this.control.pause(waitMs);
      return true;
    }
    this.control.noteRequests();
    if (!this.consumer.hasData() && !this.control.requestsPending() && !closing) {
      this.guard(() => {
        if (this.intervalSyncDue()) this.syncAndPublish();
        else if (!this.housekeeping()) this.sleep(waitMs);
      });
      return true;
    }
    this.guard(() => this.writeBatch());
    if (this.failed) return true;
    if (closing && !this.consumer.hasData()) return this.stop();
    return true;
  }

  /** Work for idle moments: rotation and retention by age, preallocation. True if it did any. */
  private housekeeping(): boolean {
    const now = this.now();
    if (this.rotationDue(now)) {
      this.rotate();
      return true;
    }
    if (now >= this.segments.nextExpiryMs(this.config.retention)) {
      this.applyRetention();
      return true;
    }
    return this.preallocation.whileIdle(this.segment!);
  }

  /** Runs the loop until closed. */
  run(): void {
    while (this.step()) {
      // The loop body is `step`.
    }
  }

  private writeBatch(): void {
    const seg = this.segment!;
    const batch = this.consumer.collect(this.config.maxBatchBytes, this.now(), !this.unsynced);
    this.io.during = 'write';
    if (batch.bytes > 0) {
      seg.write(batch.views, batch.bytes);
      this.metrics.wrote(batch.bytes, batch.lastLsn > 0 ? batch.lastLsn - this.writtenLsn : 0);
      this.preallocation.wrote(batch.bytes);
      this.consumer.release(batch.end);
      if (batch.lastLsn > 0) this.writtenLsn = batch.lastLsn;
      this.unsynced = true;
    }
    const serveSync = this.syncDue();
    const closing = this.control.closeRequested();
    if (this.config.sync === 'always' || serveSync || this.intervalSyncDue() || closing) {
      this.syncAndPublish();
    } else {
      this.publishLsns();
      this.control.notifyMain();
    }
    this.segments.active!.bytes = seg.offset;
    this.preallocation.afterCommit(seg);
    if (batch.endsOnEntry) {
      const serveRotate = this.rotateRequestDue();
      if (seg.offset >= this.config.segmentBytes || serveRotate || this.rotationDue(this.now()))
        this.rotate();
      if (serveRotate) {
        this.control.answerRotate();
        this.control.notifyMain();
      }
    }
    if (this.control.checkpointRequested()) this.serveCheckpoint();
  }

  /** Whether the open segment holds entries and is older than `rotateIntervalMs`. */
  private rotationDue(now: number): boolean {
    const interval = this.config.rotateIntervalMs;
    return (
      interval > 0 && this.segment!.holdsRecords() && now - this.segments.active!.createdAtMs >= interval
    );
  }

  /** Records a checkpoint durably, publishes it, lets retention act on it, then answers. */
  private serveCheckpoint(): void {
    const target = this.control.checkpointTarget();
    if (target > this.checkpointLsn) {
      this.io.during = 'sync';
      writeCheckpoint(this.fsys, this.config.dir, target);
      this.checkpointLsn = target;
      this.control.publishCheckpoint(target);
    }
    // Retention acts on the new checkpoint before the caller hears back, so what checkpoint()
    // resolves with is a directory already trimmed.
    this.applyRetention();
    this.control.answerCheckpoint();
    this.control.notifyMain();
  }

  private applyRetention(): void {
    this.io.during = 'other';
    const removed = this.segments.applyRetention(this.config.retention, this.checkpointLsn, this.now());
    if (removed.length > 0) this.metrics.removedSegments(removed.length);
  }

  /** fdatasync the open segment (if anything is unsynced), answer a served sync request, publish. */
  private syncAndPublish(): void {
    if (this.unsynced) {
      this.io.during = 'sync';
      const started = performance.now();
      this.segment!.sync();
      this.metrics.synced(performance.now() - started);
      this.unsynced = false;
      this.preallocation.synced();
    }
    this.lastSyncMs = this.now();
    this.durableLsn = this.writtenLsn;
    if (this.syncDue()) this.control.answerSync();
    this.publishLsns();
    this.control.notifyMain();
  }

  /**
   * Starts a new segment at the next entry. The old one is fdatasync'd first (so only the
   * last segment can ever hold a torn tail), the new one's header and directory entry are
   * durable before any record in it is written.
   */
  private rotate(): void {
    const old = this.segment!;
    if (!old.holdsRecords()) return; // empty: its first LSN is the next one's
    this.trimPreallocated(old);
    if (this.unsynced) this.syncAndPublish();
    this.segment = this.startSegment(this.writtenLsn + 1);
    old.close();
    this.metrics.rotated();
    this.applyRetention();
    this.publishLsns(); // the new segment's size
  }

  /** Cuts preallocated zeros off a segment about to be sealed (or closed); the next sync makes it durable. */
  private trimPreallocated(seg: ActiveSegment): void {
    if (seg.allocated > seg.offset) {
      this.io.during = 'write';
      seg.trimToData();
      this.unsynced = true;
    }
  }

  /**
   * Starts the segment appends continue in, at `firstLsn` (in the prepared draft if there is
   * one): its header and directory entry are durable before any record in it is written.
   */
  private startSegment(firstLsn: number): ActiveSegment {
    this.io.during = 'open';
    const { maxRecordBytes, maxEntryBytes } = this.config;
    const header = { firstLsn, createdAtMs: this.now(), maxRecordBytes, maxEntryBytes };
    return this.segments.create(header, this.preallocation.takeDraft());
  }

  /** Runs an I/O step; any failure poisons the writer for good (until the log is reopened). */
  private guard(work: () => void): void {
    try {
      work();
    } catch (cause) {
      const errno = (cause as NodeJS.ErrnoException)?.code;
      this.fail(
        typeof errno === 'string'
          ? ioError(cause, this.io.during)
          : writerCrashed(`the writer failed: ${String(cause)}`, cause),
      );
    }
  }

  private intervalSyncDue(): boolean {
    return (
      this.config.sync === 'interval' &&
      this.unsynced &&
      this.now() - this.lastSyncMs >= this.config.syncIntervalMs
    );
  }

  /** Whether a sync() request is waiting and every entry published before it has been collected. */
  private syncDue(): boolean {
    return this.control.syncPending() && this.consumer.collectedUpTo(this.control.syncTarget);
  }

  /** Likewise for a rotate() request. */
  private rotateRequestDue(): boolean {
    return this.control.rotatePending() && this.consumer.collectedUpTo(this.control.rotateTarget);
  }

  private sleep(waitMs: number): void {
    waitMs = Math.max(0, Math.min(waitMs, this.nextDeadlineMs() - this.now()));
    this.control.sleep(this.consumer.position, waitMs);
  }

  /** The earliest time something time-driven is due: an interval sync, a rotation, an expiry. */
  private nextDeadlineMs(): number {
    let next = Number.POSITIVE_INFINITY;
    if (this.config.sync === 'interval' && this.unsynced) next = this.lastSyncMs + this.config.syncIntervalMs;
    if (this.config.rotateIntervalMs > 0 && this.segment!.holdsRecords()) {
      next = Math.min(next, this.segments.active!.createdAtMs + this.config.rotateIntervalMs);
    }
    return Math.min(next, this.segments.nextExpiryMs(this.config.retention));
  }

  private publishLsns(): void {
    this.control.publishLsns(this.writtenLsn, this.durableLsn);
    if (this.segment) this.control.publishSegmentBytes(this.segment.offset);
  }

  /** Records the sticky error where the main thread reads it, and stops acknowledging. */
  private fail(error: WalError): void {
    if (error.code === ErrorCode.FSYNC_FAILED) noteSyncFailure(this.fsys, this.config.dir);
    this.failed = error;
    this.control.publishError(error);
  }

  private stop(): boolean {
    if (this.segment) {
      if (!this.failed) this.guard(() => this.trimPreallocated(this.segment!));
      if (this.unsynced && !this.failed) this.guard(() => this.syncAndPublish());
      try {
        this.segment.close();
      } catch {
        // Closing after a failure: the error that matters is already recorded.
      }
      this.segment = null;
    }
    this.preallocation.close();
    this.stopped = true;
    this.control.markStopped();
    return false;
  }
}
