/**
 * The log a user holds. The main thread's whole job per entry: encode, copy into the ring,
 * publish, remember a promise. The writer thread does the I/O; the main thread learns of
 * progress from two counters in shared memory (written LSN, durable LSN) and a sticky error,
 * and settles promises in LSN order. Nothing else flows back.
 */
import { doneWith, type Encoded, encode, encodeAt, encodingUnderWay, releaseTarget } from './encoding.js';
import { ErrorCode, WalError } from './errors.js';
import { flushAtExit, stopFlushingAtExit } from './exit-flush.js';
import { MAX_LSN, RECORD_HEADER_BYTES } from './format/constants.js';
import type { DirectoryLock } from './lock/directory-lock.js';
import { snapshot, type WalMetrics } from './metrics.js';
import type { FilledOptions } from './options.js';
import type { CorruptionReport, RecoveryMode } from './reader/policy.js';
import { type ReadOptions, readWal, type WalEntry } from './reader/read-wal.js';
import { ControlClient } from './ring/control-client.js';
import { RingProducer } from './ring/producer.js';
import { type SegmentInfo, segmentInfos } from './segment/segment-info.js';
import { AppendAcks, PendingAcks, type Resolve } from './wal/ack-groups.js';
import { crashed, type WriterReady, WriterThread } from './wal/writer-thread.js';
import type { WriterData } from './writer/messages.js';

/** An encoded entry waiting for ring space, with how much of it is already in the ring. */
interface Overflow {
  bytes: Uint8Array;
  from: number;
  lsn: number;
  /** Whether `bytes` starts at the entry's beginning (false: the ring took its first fragments). */
  first: boolean;
}

export type { SegmentInfo } from './segment/segment-info.js';

/** What recovery did when the log was opened. */
export interface RecoveryReport {
  mode: RecoveryMode;
  /** LSN of the last entry recovered; appends continue after it. */
  lastLsn: number;
  /** Every drop (torn tails, corruption), in the order made; empty for a clean log. */
  corruptions: CorruptionReport[];
}

export class Wal {
  /** Absolute path of the log's directory. */
  readonly dir: string;
  readonly options: Readonly<FilledOptions>;
  readonly recoveryReport: RecoveryReport;

  private readonly control: ControlClient;
  private readonly producer: RingProducer;
  private readonly thread: WriterThread;
  private readonly lock: DirectoryLock;

  private nextLsn: number;
  /** The last LSN recovered at open: appends since open are `nextLsn - 1 - openedAtLsn`. */
  private readonly openedAtLsn: number;
  private appendedBytes = 0;
  private backpressureRejections = 0;
  private ackedSeen: number;
  private durableSeen: number;
  /** `append()` callers, acknowledged in groups. */
  private readonly appendAcks = new AppendAcks();
  /** `waitFor()` callers, by LSN. */
  private readonly acks = new PendingAcks();
  private readonly syncs = new PendingAcks();
  /** rotate() and checkpoint() callers, keyed by their request number. */
  private readonly rotations = new PendingAcks();
  private readonly checkpoints = new PendingAcks();
  /** The highest LSN checkpoint() was called with; checkpoints never go backwards. */
  private checkpointAsked = 0;
  private overflow: Overflow[] = [];
  private overflowHead = 0;
  private overflowBytes = 0;

  private wakeArmed = false;
  private failure: WalError | null = null;
  private closing: Promise<void> | null = null;

  // One executor for every append promise: it parks the resolver here, saving a closure
  // allocation per entry.
  private parked: Resolve = noop;
  private readonly park = (resolve: Resolve): void => {
    this.parked = resolve;
  };

  private constructor(
    dir: string,
    options: FilledOptions,
    lock: DirectoryLock,
    thread: WriterThread,
    ready: WriterReady,
  ) {
    this.dir = dir;
    this.options = Object.freeze({ ...options });
    this.lock = lock;
    this.control = new ControlClient(thread.sab, options.sync === 'always');
    this.producer = new RingProducer(thread.sab);
    this.thread = thread;
    this.nextLsn = ready.lastLsn + 1;
    this.openedAtLsn = ready.lastLsn;
    this.ackedSeen = ready.lastLsn;
    this.durableSeen = ready.lastLsn;
    this.recoveryReport = { mode: options.recovery, lastLsn: ready.lastLsn, corruptions: ready.corruptions };
    thread.watch(
      (error) => this.fail(error),
      (code) => this.onWorkerExit(code),
    );
    if (options.flushOnExit) flushAtExit(this);
  }

  /** @internal Use `openWal`. */
  static async start(
    dir: string,
    options: FilledOptions,
    lock: DirectoryLock,
    internals: Pick<WriterData, 'faultFs'> = {},
  ): Promise<Wal> {
    const { thread, ready } = await WriterThread.start(dir, options, internals);
    const wal = new Wal(dir, options, lock, thread, ready);
    if (options.onCorruption) {
      try {
        for (const report of ready.corruptions) options.onCorruption(report);
      } catch (e) {
        await wal.close();
        throw e;
      }
    }
    return wal;
  }

  /** LSN of the last entry appended (acknowledged or not); 0 for an empty log. */
  get lastLsn(): number {
    return this.nextLsn - 1;
  }

  /** Highest LSN fdatasync'd: it survives a power cut. */
  get durableLsn(): number {
    return this.control.durableLsn();
  }

  /** Highest LSN written to the OS: it survives a crash of this process. */
  get writtenLsn(): number {
    return this.control.writtenLsn();
  }

  /**
   * What the log has done since it was opened: appends, group commits, fdatasync count and
   * latency histogram, rotations, retention, ring and overflow occupancy. Cheap enough to poll
   * (it reads counters; no call reaches the writer thread), and available after close.
   */
  metrics(): WalMetrics {
    return snapshot(this.control.metricSlots, {
      appends: this.nextLsn - 1 - this.openedAtLsn,
      appendedBytes: this.appendedBytes,
      backpressureRejections: this.backpressureRejections,
      // After a failure every append and wait has settled (rejected, if nothing else).
      pendingAcks: this.failure ? 0 : this.appendAcks.size + this.acks.size,
      ringBytesInUse: this.producer.inFlightBytes,
      ringCapacity: this.control.ringCapacity,
      overflowEntries: this.overflow.length - this.overflowHead,
      overflowBytes: this.overflowBytes,
      lastLsn: this.lastLsn,
      writtenLsn: this.writtenLsn,
      durableLsn: this.durableLsn,
    });
  }

  /** The sticky error, once the log has failed; it is what every call now rejects with. */
  get error(): WalError | null {
    return this.failure;
  }

  /**
   * Appends `value` and resolves with its LSN once acknowledged: fdatasync'd with
   * `sync: 'always'` (the default), written to the OS with 'interval' or 'none'.
   */
  append(value: unknown): Promise<number> {
    try {
      this.enqueue(value, true);
    } catch (e) {
      return Promise.reject(e);
    }
    if (!this.wakeArmed) this.armWake();
    return this.appendAcks.promiseOfLast();
  }

  /** Appends a `{ op: 'set', key, value, ts }` entry. */
  set(key: string, value: unknown): Promise<number> {
    if (typeof key !== 'string') return Promise.reject(invalidKey(key));
    return this.append({ op: 'set', key, value, ts: Date.now() });
  }

  /** Appends a `{ op: 'delete', key, ts }` entry. */
  delete(key: string): Promise<number> {
    if (typeof key !== 'string') return Promise.reject(invalidKey(key));
    return this.append({ op: 'delete', key, ts: Date.now() });
  }

  /**
   * The fast path: appends `value` and returns its LSN at once, with no promise. Throws a
   * `WalError` for bad input or a failed log. Await `waitFor(lsn)` for the acknowledgement;
   * one promise can then cover a whole burst of entries.
   */
  appendNoWait(value: unknown): number {
    const lsn = this.enqueue(value, false);
    // Entries waiting for ring space need the wake-ups that move them in.
    if (!this.wakeArmed && this.overflowHead < this.overflow.length) this.armWake();
    return lsn;
  }

  /** Resolves with `lsn` once every entry up to it is acknowledged (same guarantee as `append`). */
  waitFor(lsn: number): Promise<number> {
    if (this.failure) return Promise.reject(this.failure);
    const invalid = this.badLsn('waitFor', lsn);
    if (invalid) return Promise.reject(invalid);
    if (lsn <= this.ackedSeen) return Promise.resolve(lsn);
    const promise = new Promise<number>(this.park);
    this.acks.add(lsn, this.parked);
    this.armWake();
    return promise;
  }

  /**
   * Seals the current segment and starts a new one at the next entry, once everything
   * appended before the call is written. A segment with no entry is not rotated.
   */
  rotate(): Promise<void> {
    if (this.closing) return Promise.reject(closed());
    if (this.failure) return Promise.reject(this.failure);
    if (this.unpublishedEntries > 0) this.publishNow(); // the request covers what is published
    return this.request(this.rotations, this.control.requestRotate());
  }

  /**
   * Records, crash-safely, that entries up to `lsn` are applied elsewhere; resolves once the
   * checkpoint is durable. With `retention.requireCheckpoint`, this is what lets retention
   * delete segments. Checkpoints never go backwards.
   */
  checkpoint(lsn: number): Promise<void> {
    if (this.closing) return Promise.reject(closed());
    if (this.failure) return Promise.reject(this.failure);
    const invalid = this.badLsn('checkpoint', lsn);
    if (invalid) return Promise.reject(invalid);
    const current = Math.max(this.checkpointAsked, this.checkpointLsn);
    if (lsn < current) {
      return Promise.reject(
        new WalError(
          ErrorCode.INVALID_OPTION,
          `checkpoint: ${lsn} is below the checkpoint already taken (${current})`,
        ),
      );
    }
    this.checkpointAsked = lsn;
    return this.request(this.checkpoints, this.control.requestCheckpoint(lsn));
  }

  /** The durable checkpoint: entries up to it are applied elsewhere. 0 if none was taken. */
  get checkpointLsn(): number {
    return this.control.checkpointLsn();
  }

  /**
   * Reads this log's entries, as `readWal(wal.dir, options)` does, in this log's recovery mode
   * unless `options.recovery` says otherwise. Entries appended while reading are picked up to
   * the last one written when the read reaches the end; a reader never blocks appends.
   */
  read(options: ReadOptions = {}): AsyncGenerator<WalEntry, void, undefined> {
    return readWal(this.dir, { recovery: this.options.recovery, ...options });
  }

  /** The log's segment files, oldest first; the last one is being written. */
  async segments(): Promise<SegmentInfo[]> {
    if (this.closing) throw closed();
    return segmentInfos(this.dir, this.control);
  }

  /** The error for an LSN argument outside 0..lastLsn, or null when it is fine. */
  private badLsn(method: string, lsn: number): WalError | null {
    if (Number.isSafeInteger(lsn) && lsn >= 0 && lsn <= this.lastLsn) return null;
    return new WalError(
      ErrorCode.INVALID_OPTION,
      `${method}: lsn must be an integer from 0 to lastLsn (${this.lastLsn}); got ${lsn}`,
    );
  }

  /** Resolves once request number `request`, just posted, is answered. */
  private request(waiters: PendingAcks, request: number): Promise<void> {
    const promise = new Promise<number>(this.park);
    waiters.add(request, this.parked);
    if (!this.wakeArmed) this.armWake();
    return promise.then(noop);
  }

  /** Resolves once everything appended before the call is fdatasync'd, in every sync mode. */
  sync(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const target = this.lastLsn;
    if (this.durableSeen >= target) return Promise.resolve();
    const promise = new Promise<number>(this.park);
    this.syncs.add(target, this.parked);
    this.requestSyncIfIdle(target);
    this.armWake();
    return promise.then(noop);
  }

  /**
   * Blocks until everything appended so far is fdatasync'd, or `flushTimeoutMs` passes
   * (then throws WAL_FLUSH_TIMEOUT). For `exit` handlers and other places that cannot wait
   * for a promise; installed on `process.on('exit')` unless `flushOnExit: false`.
   */
  flushSync(): void {
    if (this.failure) throw this.failure;
    const target = this.lastLsn;
    const deadline = Date.now() + this.options.flushTimeoutMs;
    const control = this.control;
    if (this.unpublishedEntries > 0) this.publishNow();
    while (true) {
      this.poll();
      if (this.failure) throw this.failure;
      if (this.durableSeen >= target) return;
      if (this.thread.exitCode !== null) throw crashed('the writer thread is not running');
      this.requestSyncIfIdle(target);
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new WalError(
          ErrorCode.FLUSH_TIMEOUT,
          `flushSync: entries up to LSN ${target} were not durable after ${this.options.flushTimeoutMs} ms (durable: ${this.durableSeen})`,
        );
      }
      const seq = control.notifySeq();
      this.poll();
      if (this.failure || this.durableSeen >= target) continue;
      control.wait(seq, Math.min(remaining, 100));
    }
  }

  /** Drains and syncs everything appended, stops the writer and releases the directory. */
  close(): Promise<void> {
    if (!this.closing) this.closing = this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    try {
      if (!this.failure) await this.sync();
    } catch {
      // The sticky error is reported below, once the thread is stopped.
    }
    this.control.requestClose();
    await this.thread.stopped();
    stopFlushingAtExit(this);
    this.lock.release();
    releaseTarget(this.thread.sab);
    this.poll();
    if (this.failure && this.failure.code !== ErrorCode.CLOSED) throw this.failure;
    this.fail(new WalError(ErrorCode.CLOSED, 'the log is closed'));
  }

  // ---- the hot path ----

  /**
   * Encodes, assigns the next LSN and puts the entry in the ring (or the overflow queue).
   * With `acked`, the entry joins the open group of `appendAcks` before anything is published.
   */
  private enqueue(value: unknown, acked: boolean): number {
    if (this.closing) throw closed();
    if (this.failure) throw this.failure;
    if (this.nextLsn > MAX_LSN) throw new WalError(ErrorCode.IO_ERROR, 'the log has used every LSN');
    const producer = this.producer;
    // An append from inside the encoding of another (a getter in its value) must not touch
    // the ring, where that encoding may be under way: it waits in the overflow queue, and the
    // outer entry, which takes the next LSN, joins it there.
    const nested = encodingUnderWay();
    const at = !nested && this.overflowHead === this.overflow.length ? producer.inPlaceOffset() : -1;
    // The common case: the entry is encoded straight into the ring, where it stays.
    let encoded = at < 0 ? encode(value) : encodeAt(value, producer.window, at + RECORD_HEADER_BYTES);
    const lsn = this.nextLsn; // taken once encoded: entries appended meanwhile come first
    if (at >= 0) {
      const length = encoded.end - encoded.start;
      const landed = (encoded as Uint8Array) === producer.window;
      if (
        landed &&
        length <= producer.maxFragment &&
        length <= this.options.maxEntryBytes &&
        this.overflowHead === this.overflow.length
      ) {
        producer.commitInPlace(at, length, lsn);
        this.accepted(lsn, length, acked);
        return lsn;
      }
      // It did not land there (msgpackr moved to a buffer of its own), or it needs fragments,
      // or it is refused, or appends nested in it are queued: the ring's copy is overwritten
      // as the entry is written, so take one.
      if (landed) encoded = copyOf(encoded);
    }
    const { start, end } = encoded;
    const length = end - start;
    if (length > this.options.maxEntryBytes) {
      doneWith(encoded);
      throw new WalError(
        ErrorCode.ENTRY_TOO_LARGE,
        `the entry encodes to ${length} bytes, over maxEntryBytes (${this.options.maxEntryBytes})`,
      );
    }
    let from = start;
    if (!nested && this.overflowHead === this.overflow.length) {
      from = producer.write(encoded, start, end, start, lsn);
    }
    if (from < end) {
      // An entry the ring took part of must be queued whatever the bound: its LSN is in the ring.
      if (from === start && this.overflowBytes + length > this.options.maxPendingBytes) {
        this.backpressureRejections++;
        doneWith(encoded);
        throw new WalError(
          ErrorCode.BACKPRESSURE,
          `more than maxPendingBytes (${this.options.maxPendingBytes}) wait for the writer; await earlier appends`,
        );
      }
      // The encoding lives in a reused buffer: keep a copy of what the ring did not take.
      const rest = Uint8Array.prototype.slice.call(encoded, from, end);
      this.overflow.push({ bytes: rest, from: 0, lsn, first: from === start });
      this.overflowBytes += rest.length;
    }
    doneWith(encoded);
    this.accepted(lsn, length, acked);
    if (nested && !this.drainQueued) {
      // Moved into the ring once the outer encoding is done, whether or not it succeeds.
      this.drainQueued = true;
      queueMicrotask(this.drainNested);
    }
    return lsn;
  }

  /** Whether a drain of entries queued by nested appends is scheduled. */
  private drainQueued = false;
  private readonly drainNested = (): void => {
    this.drainQueued = false;
    if (!this.failure && this.overflowHead < this.overflow.length) this.drainOverflow();
  };

  /** Counts entry `lsn` (`length` bytes encoded) as appended; with `acked`, it joins the ack group. */
  private accepted(lsn: number, length: number, acked: boolean): void {
    this.nextLsn = lsn + 1;
    this.appendedBytes += length;
    if (acked) this.appendAcks.join(lsn);
    this.schedulePublish();
  }

  /**
   * Publishes the ring position once per burst rather than per entry: the writer then sees
   * a whole tick's appends at once and commits them in one fdatasync instead of waking for
   * the first and syncing the rest separately. A large burst is published as it goes, so
   * the writer drains the ring while the burst continues.
   */
  private schedulePublish(): void {
    const n = ++this.unpublishedEntries;
    if (n >= PUBLISH_EVERY) {
      this.publishNow();
      return;
    }
    if ((n & (SETTLE_EVERY - 1)) === 0 && this.settleBudgetLeft()) this.settleAcked();
    if (!this.publishQueued) {
      this.publishQueued = true;
      queueMicrotask(this.publishNow);
    }
  }

  private unpublishedEntries = 0;
  private publishQueued = false;
  private readonly publishNow = (): void => {
    this.appendAcks.close();
    this.publishQueued = false;
    this.unpublishedEntries = 0;
    this.producer.publish();
    // While a burst keeps the main thread busy, settle what the writer has acknowledged
    // meanwhile: waiting for the wake-up task would leave the next burst idle until the
    // event loop comes round (~20-50 µs a batch here). Settling feeds the burst more work,
    // so it is allowed only for IN_BURST_SETTLE_MS of one run of microtasks; past that the
    // event loop gets its turn first.
    if (this.settleBudgetLeft()) this.settleAcked();
  };

  /** When the current run of in-burst settling began; 0 when none is running. */
  private burstSettleStart = 0;
  private readonly endBurstSettle = (): void => {
    this.burstSettleStart = 0;
  };

  private settleBudgetLeft(): boolean {
    const now = performance.now();
    if (this.burstSettleStart === 0) {
      this.burstSettleStart = now;
      setImmediate(this.endBurstSettle); // runs once the microtask queue has drained
      return true;
    }
    return now - this.burstSettleStart < IN_BURST_SETTLE_MS;
  }

  /** Resolves appends up to the acknowledged LSN; only that, so it is safe mid-append. */
  private settleAcked(): void {
    const acked = this.control.ackedLsn();
    if (acked > this.ackedSeen) {
      this.ackedSeen = acked;
      this.appendAcks.resolveUpTo(acked);
      this.acks.resolveUpTo(acked);
    }
  }

  // ---- progress from the writer ----

  /** Waits (without blocking) for the writer's next notification, keeping the process alive meanwhile. */
  private armWake(): void {
    if (this.wakeArmed || this.failure) return;
    const control = this.control;
    const seq = control.notifySeq();
    this.poll();
    if (!this.hasPending()) {
      this.idle();
      return;
    }
    this.wakeArmed = true;
    this.thread.keepAlive();
    const wait = control.waitAsync(seq);
    if (wait.async) wait.value.then(this.onWake);
    else queueMicrotask(this.onWake);
  }

  private readonly onWake = (): void => {
    this.wakeArmed = false;
    this.armWake();
  };

  private hasPending(): boolean {
    return (
      this.acks.size > 0 ||
      this.appendAcks.waiting ||
      this.syncs.size > 0 ||
      this.rotations.size > 0 ||
      this.checkpoints.size > 0 ||
      this.overflowHead < this.overflow.length
    );
  }

  private idle(): void {
    if (!this.closing) this.thread.allowExit();
  }

  /** Reads the writer's progress and settles what it allows; moves waiting entries into the ring. */
  private poll(): void {
    if (this.failure) return;
    const control = this.control;
    if (control.writerFailed()) {
      this.fail(control.writerError());
      return;
    }
    this.settleAcked();
    const durable = control.acksDurable ? this.ackedSeen : control.durableLsn();
    if (durable > this.durableSeen) {
      this.durableSeen = durable;
      this.syncs.resolveUpTo(durable);
    }
    if (this.overflowHead < this.overflow.length) this.drainOverflow();
    if (this.syncs.size > 0) this.requestSyncIfIdle(this.syncs.lowest);
    if (this.rotations.size > 0) this.rotations.resolveUpTo(control.rotationsDone());
    if (this.checkpoints.size > 0) this.checkpoints.resolveUpTo(control.checkpointsDone());
  }

  private drainOverflow(): void {
    if (encodingUnderWay()) return; // the ring may hold an encoding under way (enqueue)
    const queue = this.overflow;
    let head = this.overflowHead;
    let moved = false;
    while (head < queue.length) {
      const entry = queue[head];
      const start = entry.first ? 0 : -1; // -1: never equal to `from`, so no FULL/FIRST type
      const from = this.producer.write(entry.bytes, start, entry.bytes.length, entry.from, entry.lsn);
      if (from > entry.from) moved = true;
      this.overflowBytes -= from - entry.from;
      entry.from = from;
      if (from < entry.bytes.length) break;
      head++;
    }
    if (head === queue.length) {
      this.overflow = [];
      head = 0;
    }
    this.overflowHead = head;
    if (moved) this.publishNow();
  }

  /**
   * Asks the writer for an fdatasync covering everything in the ring, unless `target` is
   * already durable or a request is still in flight (its answer triggers the next poll).
   */
  private requestSyncIfIdle(target: number): void {
    if (this.durableSeen >= target) return;
    if (this.overflowHead < this.overflow.length) return; // ask once all of it is in the ring
    if (!this.control.syncAnswered()) return;
    if (this.unpublishedEntries > 0) this.publishNow(); // the request covers what is published
    this.control.requestSync();
  }

  private onWorkerExit(code: number): void {
    this.poll();
    if (!this.closing) this.fail(crashed(`the writer thread exited unexpectedly (code ${code})`));
  }

  /** The one failure path: makes the error sticky and rejects everything pending with it. */
  private fail(error: WalError): void {
    if (this.failure) return;
    this.failure = error;
    this.overflow = [];
    this.overflowHead = 0;
    this.overflowBytes = 0;
    this.appendAcks.rejectAll(error);
    this.acks.rejectAll(error);
    this.syncs.rejectAll(error);
    this.rotations.rejectAll(error);
    this.checkpoints.rejectAll(error);
    if (!this.closing) {
      this.idle();
      stopFlushingAtExit(this);
    }
  }
}

/**
 * Entries after which a burst is published without waiting for its end, so the writer can
 * start on it while the burst goes on (256 measured best among 32-1024 at 1024 in flight).
 */
const PUBLISH_EVERY = 256;
/**
 * Within a burst, the writer's progress is also checked every this many appends (a power of
 * two): a batch acknowledged just after a publish would otherwise wait up to PUBLISH_EVERY
 * appends (~370 µs here) before its callbacks could issue more work. At 1024 in flight that
 * slack is what covers a slow fdatasync; main-thread idle measured ~1.5-2 points lower.
 */
const SETTLE_EVERY = 64;

/** How long one run of microtasks may keep settling acks mid-burst (bounds event-loop delay). */
const IN_BURST_SETTLE_MS = 2;

function noop(): void {}

/** A copy of an encoding, as a fresh `Encoded`. */
function copyOf(encoded: Encoded): Encoded {
  const copy = Uint8Array.prototype.slice.call(encoded, encoded.start, encoded.end) as Encoded;
  copy.start = 0;
  copy.end = copy.length;
  return copy;
}

function closed(): WalError {
  return new WalError(ErrorCode.CLOSED, 'the log is closed');
}

function invalidKey(key: unknown): WalError {
  return new WalError(ErrorCode.INVALID_OPTION, `key must be a string; got ${typeof key}`);
}
