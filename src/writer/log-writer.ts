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
 * by size and time, retention) happens here too, between commits, and time-based work is
 * driven by the wait's timeout: there are no timers.
 */

import { ErrorCode, ioError, WalError } from '../errors.js';
import { type FileSystem, syncDirectory, writeFileSynced, writeFully } from '../fs.js';
import { WriterMetrics } from '../metrics.js';
import type { FilledRetention, SyncMode } from '../options.js';
import { corruptError, DEFAULT_RECOVERY, type RecoveryMode } from '../reader/policy.js';
import { type OpenState, recoverOnOpen } from '../recovery/open-scan.js';
import { RingConsumer } from '../ring/consumer.js';
import { ControlServer } from '../ring/control-server.js';
import { ringViews } from '../ring/layout.js';
import { CHECKPOINT_FILE, readCheckpoint, writeCheckpoint } from '../segment/checkpoint.js';
import { SYNC_FAILED_FILE } from '../segment/naming.js';
import { readAt } from '../segment/scan-file.js';
import { ActiveSegment, sealSegmentFile } from '../segment/segment-file.js';
import { SegmentSet } from '../segment/segment-set.js';
import { IoPhase } from './io-phase.js';
import { Preallocation } from './preallocation.js';

export interface WriterConfig {
  dir: string;
  sync: SyncMode;
  syncIntervalMs: number;
  segmentBytes: number;
  maxEntryBytes: number;
  /** Largest record payload (a quarter of the ring, or maxEntryBytes if smaller); recorded in each segment header. */
  maxRecordBytes: number;
  /** A batch is cut after about this many bytes so one writev + fdatasync stays bounded. */
  maxBatchBytes: number;
  /** Longest sleep when idle; bounds how late the loop notices anything time-based. */
  idleWaitMs: number;
  /** Rotate a segment holding entries once it is this old; 0: never by time. */
  rotateIntervalMs: number;
  /** Keep zero-filled, synced space ahead of the write position (src/writer/preallocation.ts). */
  preallocate: boolean;
  retention: FilledRetention;
  /** What open does with damage (src/reader/policy.ts). Default `'tolerate-tail'`. */
  recovery?: RecoveryMode;
  /** Mode of the files the writer creates (the `fileMode` option); read by the worker shell's file system. */
  fileMode?: number;
}

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
    this.preallocation = new Preallocation(
      fsys,
      config.dir,
      config.preallocate,
      config.segmentBytes,
      this.metrics,
      this.io,
    );
  }

  /** Recovers the directory and opens (or creates) the segment appends continue in. */
  open(): OpenState {
    const mode = this.config.recovery ?? DEFAULT_RECOVERY;
    const state = recoverOnOpen(this.fsys, this.config.dir, mode);
    this.writtenLsn = this.durableLsn = state.lastLsn;
    this.publishLsns();
    this.segments.load();
    const tail = state.tail;
    if (
      tail &&
      tail.maxRecordBytes >= this.config.maxRecordBytes &&
      tail.maxEntryBytes >= this.config.maxEntryBytes
    ) {
      const fd = this.fsys.openSync(tail.path, 'r+');
      this.makeTailDurable(fd, tail.lastSyncMark, tail.validEnd);
      this.clearSyncFailure();
      const allocated = Math.max(tail.validEnd, this.fsys.fstatSize(fd));
      this.segment = new ActiveSegment(this.fsys, tail.path, fd, tail.validEnd, allocated);
      this.segments.active!.bytes = tail.validEnd;
    } else {
      // The tail's header promises readers smaller records than this open may write: seal it
      // and start a segment whose header says the new bounds.
      if (tail && tail.entries === 0) {
        // Nothing but a header: remove it, as its first LSN is the one the new segment takes.
        this.fsys.unlinkSync(tail.path);
        this.segments.dropActive();
      } else if (tail) {
        sealSegmentFile(this.fsys, tail.path, tail.validEnd);
      }
      this.segment = this.startSegment(state.lastLsn + 1);
    }
    this.checkpointLsn = readCheckpoint(this.fsys, this.config.dir);
    if (this.checkpointLsn > state.lastLsn) this.lowerCheckpoint(mode, state);
    this.control.publishCheckpoint(this.checkpointLsn);
    this.lastSyncMs = this.now();
    this.applyRetention();
    return state;
  }

  /**
   * The checkpoint covers entries the log no longer holds (dropped as corruption, or a
   * checkpoint taken past what was synced). New entries will take those LSNs, so a checkpoint
   * left above them would let retention delete them: it is lowered to the log's end, and
   * that is reported. In strict mode it is an error instead.
   */
  private lowerCheckpoint(mode: RecoveryMode, state: OpenState): void {
    const file = `${this.config.dir}/${CHECKPOINT_FILE}`;
    const reason = `the checkpoint (LSN ${this.checkpointLsn}) is past the log's last entry (LSN ${state.lastLsn})`;
    if (mode === 'strict') throw corruptError(file, 0, reason);
    writeCheckpoint(this.fsys, this.config.dir, state.lastLsn);
    state.corruptions.push({
      segment: CHECKPOINT_FILE,
      offset: 0,
      bytes: 0,
      reason,
      kind: 'corruption',
      lsns: { from: state.lastLsn + 1, to: this.checkpointLsn },
      action: `checkpoint lowered to LSN ${state.lastLsn}`,
    });
    this.checkpointLsn = state.lastLsn;
  }

  /**
   * What a previous writer left after its last sync mark may be in the page cache only. If it
   * crashed in 'none' or 'interval' mode the pages are dirty and the fdatasync here writes
   * them. If its fdatasync failed, Linux may have kept the pages but marked them clean, so an
   * fdatasync would never write them: that writer left a SYNC_FAILED file, and then those
   * bytes are written back first (making them dirty again). Only then: they contain no
   * acknowledged entry (their batch's sync failed), while rewriting bytes that were synced
   * would put acknowledged entries at the mercy of a power cut during the rewrite. Either way
   * the tail is durable before durableLsn says so and before a record written here is
   * marked SYNCED_BEFORE.
   */
  private makeTailDurable(fd: number, from: number, to: number): void {
    const chunk = 1024 * 1024;
    const rewrite = this.fsys.existsSync(`${this.config.dir}/${SYNC_FAILED_FILE}`);
    for (let at = from; rewrite && at < to; at += chunk) {
      const bytes = readAt(this.fsys, fd, at, Math.min(chunk, to - at));
      writeFully(this.fsys, fd, [bytes], at, bytes.length);
    }
    this.fsys.fdatasyncSync(fd);
  }

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
      this.metrics.wrote(batch.bytes);
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
          : new WalError(ErrorCode.WRITER_CRASHED, `the writer failed: ${String(cause)}`, {}, { cause }),
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

  /**
   * Leaves a durable note that an fdatasync failed, for the next open (makeTailDurable), before
   * anyone hears of the failure. Best effort: a disk failing its writes may fail this too.
   */
  private noteSyncFailure(): void {
    try {
      writeFileSynced(this.fsys, `${this.config.dir}/${SYNC_FAILED_FILE}`, new Uint8Array(0), 'w');
      syncDirectory(this.fsys, this.config.dir);
    } catch {
      // The error itself is what the caller needs; the note only helps a reopen without a reboot.
    }
  }

  private clearSyncFailure(): void {
    const note = `${this.config.dir}/${SYNC_FAILED_FILE}`;
    if (!this.fsys.existsSync(note)) return;
    this.fsys.unlinkSync(note);
    syncDirectory(this.fsys, this.config.dir);
  }

  /** Records the sticky error where the main thread reads it, and stops acknowledging. */
  private fail(error: WalError): void {
    if (error.code === ErrorCode.FSYNC_FAILED) this.noteSyncFailure();
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
