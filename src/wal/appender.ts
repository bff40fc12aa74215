/**
 * The append hot path and the loop that settles it, in one file (~430 lines) because that
 * loop shares the fields the hot path uses per entry (`wakeArmed`, the overflow queue, the ack
 * groups). The main thread's whole job per entry: encode, copy into the ring, publish,
 * remember a promise (~1 µs here, and every part counts: no allocation, closure or call per
 * entry beyond what is here). Entries that find no room wait in the overflow queue. Progress
 * comes back as two LSN words and a sticky error (src/ring/control-client.ts); one wake-up
 * per notification from the writer settles what they allow, in LSN order.
 */
import { doneWith, type Encoded, encode, encodeAt, encodingUnderWay } from '../encoding.js';
import { backpressure, closed, ErrorCode, entryTooLarge, WalError, writerCrashed } from '../errors.js';
import { MAX_LSN, RECORD_HEADER_BYTES } from '../format/constants.js';
import type { MainThreadCounts } from '../metrics.js';
import type { FilledOptions } from '../options.js';
import type { ControlClient } from '../ring/control-client.js';
import type { RingProducer } from '../ring/producer.js';
import { AppendAcks, PendingAcks, type Resolve } from './ack-groups.js';
import { CommitLatency } from './commit-latency.js';
import type { WriterRequests } from './writer-requests.js';
import type { WriterThread } from './writer-thread.js';

/** An encoded entry waiting for ring space, with how much of it is already in the ring. */
interface Overflow {
  bytes: Uint8Array;
  from: number;
  lsn: number;
  /** Whether `bytes` starts at the entry's beginning (false: the ring took its first fragments). */
  first: boolean;
}

export class Appender {
  /** The sticky error, once the log has failed; everything pending has been rejected with it. */
  failure: WalError | null = null;
  /** Set as `close()` begins: from then on appends are refused and the writer is kept referenced. */
  closing = false;

  private readonly options: Readonly<FilledOptions>;
  private readonly producer: RingProducer;
  private readonly control: ControlClient;
  private readonly requests: WriterRequests;
  private readonly thread: Pick<WriterThread, 'keepAlive' | 'allowExit'>;
  /** Called once when the log fails before close. */
  private readonly onFail: () => void;

  private nextLsn: number;
  /** The last LSN recovered at open: appends since open are `nextLsn - 1 - openedAtLsn`. */
  private readonly openedAtLsn: number;
  private appendedBytes = 0;
  private backpressureRejections = 0;
  private ackedSeen: number;
  /** `append()` callers, acknowledged in groups. */
  private readonly appendAcks = new AppendAcks();
  /** `waitFor()` callers, by LSN. */
  private readonly acks = new PendingAcks();
  private overflow: Overflow[] = [];
  private overflowHead = 0;
  private overflowBytes = 0;
  /** Append-to-acknowledgement times, per publish group. */
  private readonly latency: CommitLatency;
  /** When the first entry of the group not yet published was appended. */
  private groupStartMs = 0;

  private wakeArmed = false;

  // One executor for every waitFor promise: it parks the resolver here, saving a closure
  // allocation per call.
  private parked: Resolve = noop;
  private readonly park = (resolve: Resolve): void => {
    this.parked = resolve;
  };

  constructor(
    options: Readonly<FilledOptions>,
    producer: RingProducer,
    control: ControlClient,
    requests: WriterRequests,
    thread: Pick<WriterThread, 'keepAlive' | 'allowExit'>,
    lastLsn: number,
    onFail: () => void,
  ) {
    this.options = options;
    this.producer = producer;
    this.control = control;
    this.requests = requests;
    this.thread = thread;
    this.onFail = onFail;
    this.nextLsn = lastLsn + 1;
    this.openedAtLsn = lastLsn;
    this.ackedSeen = lastLsn;
    this.latency = new CommitLatency(lastLsn);
  }

  /** LSN of the last entry appended (acknowledged or not). */
  get lastLsn(): number {
    return this.nextLsn - 1;
  }

  /** The main thread's side of `wal.metrics()`. */
  counts(): MainThreadCounts {
    return {
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
      writtenLsn: this.control.writtenLsn(),
      durableLsn: this.control.durableLsn(),
      ...this.latency.snapshot(),
    };
  }

  /** `wal.append()`: the entry joins the open ack group; its promise resolves with its LSN. */
  append(value: unknown): Promise<number> {
    try {
      this.enqueue(value, true);
    } catch (e) {
      return Promise.reject(e);
    }
    if (!this.wakeArmed) this.armWake();
    return this.appendAcks.promiseOfLast();
  }

  /** `wal.appendNoWait()`: appends and returns the LSN; throws for bad input or a failed log. */
  appendNoWait(value: unknown): number {
    const lsn = this.enqueue(value, false);
    // Entries waiting for ring space need the wake-ups that move them in.
    if (!this.wakeArmed && this.overflowHead < this.overflow.length) this.armWake();
    return lsn;
  }

  /** `wal.waitFor()` once `lsn` is checked: resolves once every entry up to it is acknowledged. */
  waitFor(lsn: number): Promise<number> {
    if (lsn <= this.ackedSeen) return Promise.resolve(lsn);
    const promise = new Promise<number>(this.park);
    this.acks.add(lsn, this.parked);
    this.armWake();
    return promise;
  }

  /** Publishes the entries appended since the last publish, so a request covers them. */
  publishPending(): void {
    if (this.unpublishedEntries > 0) this.publishNow();
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
      throw entryTooLarge(length, this.options.maxEntryBytes);
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
        throw backpressure(this.options.maxPendingBytes);
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
    if (n === 1) this.groupStartMs = performance.now(); // one clock read per publish group
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
    if (this.unpublishedEntries > 0) this.latency.published(this.nextLsn - 1, this.groupStartMs);
    this.publishQueued = false;
    this.unpublishedEntries = 0;
    this.producer.publish();
    if (this.publishWatchers !== null) this.notifyPublished();
    // While a burst keeps the main thread busy, settle what the writer has acknowledged
    // meanwhile: waiting for the wake-up task would leave the next burst idle until the
    // event loop comes round (~20-50 µs a batch here). Settling feeds the burst more work,
    // so it is allowed only for IN_BURST_SETTLE_MS of one run of microtasks; past that the
    // event loop gets its turn first.
    if (this.settleBudgetLeft()) this.settleAcked();
  };

  /** Called once at the next publish or failure: followers waiting for entries (`wal.tail()`). */
  private publishWatchers: (() => void)[] | null = null;

  /** Calls `watcher` once, at the next publish (entries appended) or when the log fails or closes. */
  onNextPublish(watcher: () => void): void {
    if (this.failure) {
      queueMicrotask(watcher);
      return;
    }
    if (this.publishWatchers === null) this.publishWatchers = [];
    this.publishWatchers.push(watcher);
  }

  private notifyPublished(): void {
    const watchers = this.publishWatchers ?? [];
    this.publishWatchers = null;
    for (const watcher of watchers) watcher();
  }

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
      this.latency.acknowledgedUpTo(acked);
      this.appendAcks.resolveUpTo(acked);
      this.acks.resolveUpTo(acked);
    }
  }

  // ---- progress from the writer ----

  /**
   * Waits (without blocking) for the writer's next notification, keeping the process alive
   * meanwhile; with `ackPollUs`, polls for it instead (`startPolling`), unless `sleep` says
   * polling just gave up.
   */
  armWake(sleep = false): void {
    if (this.wakeArmed || this.polling || this.failure) return;
    const control = this.control;
    const seq = control.notifySeq();
    this.poll();
    if (!this.hasPending()) {
      this.idle();
      return;
    }
    if (this.options.ackPollUs > 0 && !sleep) {
      this.startPolling();
      return;
    }
    this.wakeArmed = true;
    this.thread.keepAlive();
    const wait = control.waitAsync(seq);
    if (wait.async) wait.value.then(this.onWake);
    else queueMicrotask(this.onWake);
  }

  // ---- polling instead of sleeping (`ackPollUs`) ----

  /** Whether a poll turn is scheduled, and when polling last saw the writer make progress. */
  private polling = false;
  private progressAtMs = 0;

  /**
   * Checks for acknowledgements from `setImmediate`, once per turn of the event loop (the
   * pending immediate keeps the process alive). A woken main thread learns of an fdatasync
   * ~25-35 µs after it ends; a polling one within a turn. Nothing waits on NOTIFY_SEQ
   * meanwhile, so the writer's notify finds no waiter and costs it nothing, and no wake-up
   * task reaches this thread. Polling ends once nothing is pending (the thread then idles
   * as after a wake-up) or after `ackPollUs` without progress (it then sleeps until woken,
   * and polls again after the wake-up).
   */
  private startPolling(): void {
    this.polling = true;
    this.progressAtMs = performance.now();
    setImmediate(this.pollTurn);
  }

  private readonly pollTurn = (): void => {
    const seen = this.ackedSeen;
    this.poll();
    const now = performance.now();
    const progressed = this.ackedSeen > seen;
    if (progressed) this.progressAtMs = now;
    // One more turn after progress even if nothing is pending now: the callbacks of what was
    // just settled run after this turn, and at one append in flight they append the next.
    if (!this.failure && (progressed || this.hasPending())) {
      if (now - this.progressAtMs < this.options.ackPollUs / 1000) {
        setImmediate(this.pollTurn);
        return;
      }
      this.polling = false;
      this.armWake(true); // the writer is slow: sleep until it notifies
      return;
    }
    this.polling = false;
    this.armWake(); // idles unless something became pending meanwhile
  };

  private readonly onWake = (): void => {
    this.wakeArmed = false;
    this.armWake();
  };

  private hasPending(): boolean {
    return (
      this.acks.size > 0 ||
      this.appendAcks.waiting ||
      this.requests.pending ||
      this.overflowHead < this.overflow.length
    );
  }

  private idle(): void {
    if (!this.closing) this.thread.allowExit();
  }

  /** Reads the writer's progress and settles what it allows; moves waiting entries into the ring. */
  poll(): void {
    if (this.failure) return;
    const control = this.control;
    if (control.writerFailed()) {
      this.fail(control.writerError());
      return;
    }
    this.settleAcked();
    const requests = this.requests;
    requests.settleSyncs(control.acksDurable ? this.ackedSeen : control.durableLsn());
    if (this.overflowHead < this.overflow.length) this.drainOverflow();
    if (requests.syncsWaiting) this.requestSyncIfIdle(requests.lowestSync);
    requests.settleAnswers();
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
  requestSyncIfIdle(target: number): void {
    if (this.requests.durableSeen >= target) return;
    if (this.overflowHead < this.overflow.length) return; // ask once all of it is in the ring
    if (!this.control.syncAnswered()) return;
    if (this.unpublishedEntries > 0) this.publishNow(); // the request covers what is published
    this.control.requestSync();
  }

  /** The writer thread exited: settle what it finished; unless the log is closing, that is a crash. */
  writerExited(code: number): void {
    this.poll();
    if (!this.closing) this.fail(writerCrashed(`the writer thread exited unexpectedly (code ${code})`));
  }

  /** The one failure path: makes the error sticky and rejects everything pending with it. */
  fail(error: WalError): void {
    if (this.failure) return;
    this.failure = error;
    this.overflow = [];
    this.overflowHead = 0;
    this.overflowBytes = 0;
    this.latency.dropAll();
    this.appendAcks.rejectAll(error);
    this.acks.rejectAll(error);
    this.requests.rejectAll(error);
    if (this.publishWatchers !== null) this.notifyPublished();
    if (!this.closing) {
      this.idle();
      this.onFail();
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
