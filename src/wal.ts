/**
 * The log a user holds: the public methods, checking their arguments and composing the parts
 * in src/wal/. The writer thread does the I/O (src/wal/writer-thread.ts starts and stops
 * it); the main thread encodes, publishes and settles promises (src/wal/appender.ts), asks
 * the writer for syncs, rotations and checkpoints (src/wal/writer-requests.ts), and learns of
 * its progress from the control words (src/ring/control-client.ts). Nothing else flows back.
 */
import { releaseTarget } from './encoding.js';
import { closed, ErrorCode, flushTimeout, invalidOption, type WalError, writerCrashed } from './errors.js';
import { flushAtExit, stopFlushingAtExit } from './exit-flush.js';
import type { DirectoryLock } from './lock/directory-lock.js';
import { snapshot, type WalMetrics } from './metrics.js';
import type { FilledOptions } from './options.js';
import { EntryIterator } from './reader/entry-iterator.js';
import { type Follower, followSource } from './reader/follow.js';
import type { CorruptionReport, RecoveryMode } from './reader/policy.js';
import { type ReadOptions, readWal, readWalBatches, type WalEntry } from './reader/read-wal.js';
import type { FollowOptions, FollowSource, RawEntry } from './reader/types.js';
import { ControlClient } from './ring/control-client.js';
import { RingProducer } from './ring/producer.js';
import { type SegmentInfo, segmentInfos } from './segment/segment-info.js';
import { Appender } from './wal/appender.js';
import { WriterRequests } from './wal/writer-requests.js';
import { type WriterReady, WriterThread } from './wal/writer-thread.js';
import type { WriterData } from './writer/messages.js';

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
  /**
   * The log's identity: a random UUID written in the directory (LOG_ID) when the log was
   * first opened, the same for every later open. The shipper names entries by it.
   */
  readonly logId: string;
  readonly options: Readonly<FilledOptions>;
  readonly recoveryReport: RecoveryReport;

  private readonly appender: Appender;
  private readonly requests: WriterRequests;
  private readonly control: ControlClient;
  private readonly thread: WriterThread;
  private readonly lock: DirectoryLock;
  /** The highest LSN checkpoint() was called with; checkpoints never go backwards. */
  private checkpointAsked = 0;
  private closing: Promise<void> | null = null;

  private constructor(
    dir: string,
    options: FilledOptions,
    lock: DirectoryLock,
    thread: WriterThread,
    ready: WriterReady,
  ) {
    this.dir = dir;
    this.logId = ready.logId;
    this.options = Object.freeze({ ...options });
    this.lock = lock;
    this.thread = thread;
    this.control = new ControlClient(thread.sab, options.sync === 'always');
    this.requests = new WriterRequests(this.control, ready.lastLsn);
    this.appender = new Appender(
      this.options,
      new RingProducer(thread.sab),
      this.control,
      this.requests,
      thread,
      ready.lastLsn,
      () => stopFlushingAtExit(this),
    );
    this.recoveryReport = { mode: options.recovery, lastLsn: ready.lastLsn, corruptions: ready.corruptions };
    const appender = this.appender;
    thread.watch(
      (error) => appender.fail(error),
      (code) => appender.writerExited(code),
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
    return this.appender.lastLsn;
  }

  /** Highest LSN fdatasync'd: it survives a power cut. */
  get durableLsn(): number {
    return this.control.durableLsn();
  }

  /** Highest LSN written to the OS: it survives a crash of this process. */
  get writtenLsn(): number {
    return this.control.writtenLsn();
  }

  /** The durable checkpoint: entries up to it are applied elsewhere. 0 if none was taken. */
  get checkpointLsn(): number {
    return this.control.checkpointLsn();
  }

  /** The sticky error, once the log has failed; it is what every call now rejects with. */
  get error(): WalError | null {
    return this.appender.failure;
  }

  /**
   * What the log has done since it was opened: appends, group commits, fdatasync count and
   * latency histogram, rotations, retention, ring and overflow occupancy. Cheap enough to poll
   * (it reads counters; no call reaches the writer thread), and available after close.
   */
  metrics(): WalMetrics {
    return snapshot(this.control.metricSlots, this.appender.counts());
  }

  /**
   * Appends `value` and resolves with its LSN once acknowledged: fdatasync'd with
   * `sync: 'always'` (the default), written to the OS with 'interval' or 'none'.
   */
  append(value: unknown): Promise<number> {
    return this.appender.append(value);
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
    return this.appender.appendNoWait(value);
  }

  /** Resolves with `lsn` once every entry up to it is acknowledged (same guarantee as `append`). */
  waitFor(lsn: number): Promise<number> {
    if (this.appender.failure) return Promise.reject(this.appender.failure);
    const invalid = this.badLsn('waitFor', lsn);
    if (invalid) return Promise.reject(invalid);
    return this.appender.waitFor(lsn);
  }

  /**
   * Seals the current segment and starts a new one at the next entry, once everything
   * appended before the call is written. A segment with no entry is not rotated.
   */
  rotate(): Promise<void> {
    if (this.closing) return Promise.reject(closed());
    if (this.appender.failure) return Promise.reject(this.appender.failure);
    this.appender.publishPending(); // the request covers what is published
    const promise = this.requests.rotate();
    this.appender.armWake();
    return promise.then(noop);
  }

  /**
   * Records, crash-safely, that entries up to `lsn` are applied elsewhere; resolves once the
   * checkpoint is durable. With `retention.requireCheckpoint`, this is what lets retention
   * delete segments. Checkpoints never go backwards.
   */
  checkpoint(lsn: number): Promise<void> {
    if (this.closing) return Promise.reject(closed());
    if (this.appender.failure) return Promise.reject(this.appender.failure);
    const invalid = this.badLsn('checkpoint', lsn);
    if (invalid) return Promise.reject(invalid);
    const current = Math.max(this.checkpointAsked, this.checkpointLsn);
    if (lsn < current) {
      return Promise.reject(
        invalidOption(`checkpoint: ${lsn} is below the checkpoint already taken (${current})`),
      );
    }
    this.checkpointAsked = lsn;
    const promise = this.requests.checkpoint(lsn);
    this.appender.armWake();
    return promise.then(noop);
  }

  /**
   * Reads this log's entries, as `readWal(wal.dir, options)` does, in this log's recovery mode
   * unless `options.recovery` says otherwise. Entries appended while reading are picked up to
   * the last one written when the read reaches the end; a reader never blocks appends.
   */
  read(options: ReadOptions = {}): AsyncGenerator<WalEntry, void, undefined> {
    return readWal(this.dir, { recovery: this.options.recovery, ...options });
  }

  /**
   * Follows this log: yields its entries from `options.fromLsn` (default: the oldest there)
   * as they become durable, and waits for more. In the 'interval' and 'none' modes an entry
   * becomes durable with the mode's syncs (and `sync()`, a rotation, `close()`); a follower
   * never asks for one. Ends once the log is closed and everything durable was yielded;
   * throws the log's error once it failed. A range retention deleted before the follower
   * got to it is reported (`options.onDeleted`, else WAL_SEGMENT_DELETED), never skipped.
   */
  tail(options: FollowOptions = {}): AsyncGenerator<WalEntry, void, undefined> {
    return new EntryIterator(followSource(this.tailSource(), options, 'decoded'));
  }

  /** @internal `tail`, the entries raw (their msgpack values undecoded) and in arrays: the shipper's. */
  tailRaw(options: FollowOptions = {}): Follower<RawEntry> {
    return followSource(this.tailSource(), options, 'raw');
  }

  /**
   * @internal The ring's shared memory, for a follower in another thread of this process (the
   * shipper's worker, src/jetstream/durable-source.ts), which only reads the writer's words
   * (src/ring/control-reader.ts).
   */
  sharedRing(): SharedArrayBuffer {
    return this.thread.sab;
  }

  /** What a follower in this process follows: the durable LSN, and wake-ups as it moves. */
  private tailSource(): FollowSource {
    return {
      dir: this.dir,
      limit: () => this.control.durableLsn(),
      changed: (lsn, signal) => this.durableBeyond(lsn, signal),
      close: noop,
    };
  }

  /**
   * Resolves true once an entry after `lsn` is durable, false once the log has closed (what
   * it made durable is all there will be); rejects with the log's error once it failed. It
   * never asks the writer for a sync. While it waits for entries to be appended, a timer
   * keeps the process alive, as any reader waiting for data does, until `signal` aborts (then it
   * resolves true: the follower sees the abort; a stopped shipper must not hold the process).
   */
  private async durableBeyond(lsn: number, signal?: AbortSignal): Promise<boolean> {
    const appender = this.appender;
    while (this.control.durableLsn() <= lsn) {
      if (signal?.aborted) return true;
      const failure = appender.failure;
      if (failure) {
        if (failure.code === ErrorCode.CLOSED) return false;
        throw failure;
      }
      if (this.closing) {
        await this.closing.catch(noop);
        continue;
      }
      if (appender.lastLsn > lsn) {
        const watch = this.requests.watchDurable(lsn + 1);
        appender.armWake();
        await watch.catch(noop); // a failure or close is seen on the next turn
        continue;
      }
      const keepAlive = setInterval(noop, 1 << 30);
      let onAbort = noop;
      try {
        await new Promise<void>((resolve) => {
          onAbort = resolve;
          signal?.addEventListener('abort', onAbort, { once: true });
          appender.onNextPublish(resolve);
        });
      } finally {
        clearInterval(keepAlive);
        signal?.removeEventListener('abort', onAbort);
      }
    }
    return true;
  }

  /** `read`, the entries in arrays (as `readWalBatches`). */
  readBatches(options: ReadOptions = {}): AsyncGenerator<WalEntry[], void, undefined> {
    return readWalBatches(this.dir, { recovery: this.options.recovery, ...options });
  }

  /** The log's segment files, oldest first; the last one is being written. */
  async segments(): Promise<SegmentInfo[]> {
    if (this.closing) throw closed();
    return segmentInfos(this.dir, this.control);
  }

  /** Resolves once everything appended before the call is fdatasync'd, in every sync mode. */
  sync(): Promise<void> {
    const appender = this.appender;
    if (appender.failure) return Promise.reject(appender.failure);
    const target = appender.lastLsn;
    if (this.requests.durableSeen >= target) return Promise.resolve();
    const promise = this.requests.waitForSync(target);
    appender.requestSyncIfIdle(target);
    appender.armWake();
    return promise.then(noop);
  }

  /**
   * Blocks until everything appended so far is fdatasync'd, or `flushTimeoutMs` passes
   * (then throws WAL_FLUSH_TIMEOUT). For `exit` handlers and other places that cannot wait
   * for a promise; installed on `process.on('exit')` unless `flushOnExit: false`.
   */
  flushSync(): void {
    const appender = this.appender;
    if (appender.failure) throw appender.failure;
    const target = appender.lastLsn;
    const deadline = Date.now() + this.options.flushTimeoutMs;
    appender.publishPending();
    while (true) {
      appender.poll();
      if (appender.failure) throw appender.failure;
      if (this.requests.durableSeen >= target) return;
      if (this.thread.exitCode !== null) throw writerCrashed('the writer thread is not running');
      appender.requestSyncIfIdle(target);
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw flushTimeout(target, this.options.flushTimeoutMs, this.requests.durableSeen);
      }
      const seq = this.control.notifySeq();
      appender.poll();
      if (appender.failure || this.requests.durableSeen >= target) continue;
      this.control.wait(seq, Math.min(remaining, 100));
    }
  }

  /** Drains and syncs everything appended, stops the writer and releases the directory. */
  close(): Promise<void> {
    if (!this.closing) {
      this.closing = this.shutdown();
      this.appender.closing = true;
    }
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const appender = this.appender;
    try {
      if (!appender.failure) await this.sync();
    } catch {
      // The sticky error is reported below, once the thread is stopped.
    }
    this.control.requestClose();
    await this.thread.stopped();
    stopFlushingAtExit(this);
    this.lock.release();
    releaseTarget(this.thread.sab);
    appender.poll();
    if (appender.failure && appender.failure.code !== ErrorCode.CLOSED) throw appender.failure;
    appender.fail(closed());
  }

  /** The error for an LSN argument outside 0..lastLsn, or null when it is fine. */
  private badLsn(method: string, lsn: number): WalError | null {
    if (Number.isSafeInteger(lsn) && lsn >= 0 && lsn <= this.lastLsn) return null;
    return invalidOption(`${method}: lsn must be an integer from 0 to lastLsn (${this.lastLsn}); got ${lsn}`);
  }
}

function noop(): void {}

function invalidKey(key: unknown): WalError {
  return invalidOption(`key must be a string; got ${typeof key}`);
}
