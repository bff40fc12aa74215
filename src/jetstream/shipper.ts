/**
 * The shipper: follows a log and publishes each entry to a JetStream stream, pipelined, in
 * LSN order, exactly once (docs/JETSTREAM.md).
 *
 *   source (Wal.tailRaw / followRaw) ──► publish k, k+1, ... (up to a window in flight)
 *                                          each names its predecessor: Nats-Expected-Last-Msg-Id
 *                                  ◄──── acknowledgements read in order: shippedLsn, checkpoint
 *
 * One run publishes from where the stream's last message on the subject ends. Any failure (a
 * timeout, a rejected publish, a lost server) ends the run: stop reading, let what is in flight
 * settle, back off, read the subject's last message again and start a new run after it.
 *
 * Why a publish names its predecessor: with many publishes in flight, k can be refused (503
 * during a leader election) while k+1 is stored; retrying k would then store it after k+1.
 * JetStream checks the message id against its duplicate window before it checks
 * `Nats-Expected-Last-Msg-Id` (nats-server 2.9.10 server/stream.go, processJetStreamMsg), so
 * a replay of a stored message is acknowledged as a duplicate, and a new message is stored
 * only right after its predecessor. The first publish of a run names the subject's last
 * stream sequence instead (`Nats-Expected-Last-Subject-Sequence`): the server's memory of the
 * last message id is rebuilt after a restart only from messages inside the duplicate window,
 * while the subject's last sequence is always known; and a second shipper of the same log
 * cannot slip an old entry in after a newer one.
 */
import type { JetStreamClient, JetStreamManager, PubAck } from '@nats-io/jetstream';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { ErrorCode, WalError } from '../errors.js';
import type { Follower, FollowOptions, RawEntry } from '../reader/follow.js';
import type { Wal } from '../wal.js';
import { ShipperCounters, type ShipperMetrics, type ShipperState } from './metrics.js';
import type { FilledShipOptions } from './options.js';
import {
  ensureStream,
  HEADER_LOG,
  HEADER_LSN,
  HEADER_TS,
  type LastShipped,
  lastShipped,
  messageId,
} from './stream.js';

/** Where entries come from: an open log in this process, or a directory another process writes. */
export interface ShipSource {
  logId: string;
  /** The open log (for checkpoints and its durable LSN), or null for a directory. */
  wal: Wal | null;
  follow(options: FollowOptions): Follower<RawEntry>;
}

/** A publish awaiting its acknowledgement. */
interface InFlight {
  lsn: number;
  bytes: number;
  sentAt: number;
  result: Promise<PubAck | Failure>;
}

/** A publish that failed, kept as a value so the acknowledgement loop never sees a rejection. */
class Failure {
  constructor(readonly error: unknown) {}
}

/** One pass from the stream's last message until a failure, a stop, or the source's end. */
interface Run {
  controller: AbortController;
  queue: InFlight[];
  /** The first failure; later ones are the same story. */
  failure: unknown;
  /** The connection was lost: answers to what is in flight will not come. */
  abandoned: boolean;
  /** Resolves (with null) when `abandoned` is set. */
  abandon: Promise<null>;
  abandonNow: () => void;
  /** No more publishes in this run. */
  sending: boolean;
  /** Wakes whoever waits for the queue to change (a publish, an acknowledgement, a failure). */
  changed: Signal;
}

/** A one-shot wake-up that can be waited for again after it fired. */
class Signal {
  private waiters: Array<() => void> = [];
  wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

const now = (): number => performance.now();

/** Fatal: retrying cannot help (bad configuration, a log that cannot be read, a deleted segment). */
class Fatal {
  constructor(readonly error: unknown) {}
}

export class Shipper {
  /**
   * Settles once the shipper has stopped: resolves after `stop()` (or, for a `Wal` source, once
   * the log closed and everything it had was acknowledged); rejects with the error that
   * stopped it otherwise (WAL_INVALID_OPTION: the stream or subject is wrong, or the subject
   * holds another log's messages; WAL_SEGMENT_DELETED: retention deleted entries before they
   * were shipped; a read error of the log). Nobody awaiting it makes such an error an
   * unhandled rejection, on purpose: a shipper that stopped must not go unnoticed.
   */
  readonly closed: Promise<void>;
  /** The log's identity: message ids are `<logId>:<lsn>`. */
  readonly logId: string;

  private readonly counters = new ShipperCounters();
  private shipped = 0;
  private lastRead = 0;
  private state: ShipperState = 'connecting';
  private run: Run | null = null;
  private follower: Follower<RawEntry> | null = null;
  private inFlightBytes = 0;
  private stopping = false;
  private readonly stopController = new AbortController();
  private readonly js: JetStreamClient;
  private lastCheckpointAt = Number.NEGATIVE_INFINITY;
  private checkpointing: Promise<void> | null = null;
  private checkpointTimer: NodeJS.Timeout | null = null;

  /** @internal Use `shipToJetStream`. */
  constructor(
    private readonly source: ShipSource,
    private readonly options: FilledShipOptions,
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
  ) {
    this.logId = source.logId;
    this.js = jetstream(nc, { timeout: options.ackTimeoutMs });
    this.state = 'connected';
    void this.watchStatus();
    this.closed = this.loop();
  }

  /** Highest LSN the stream has acknowledged (or held when shipping last resumed). */
  get shippedLsn(): number {
    return this.shipped;
  }

  metrics(): ShipperMetrics {
    const c = this.counters;
    const wal = this.source.wal;
    const sourceLsn = Math.max(wal ? wal.durableLsn : this.lastRead, this.shipped);
    return {
      shippedLsn: this.shipped,
      sourceLsn,
      lagEntries: sourceLsn - this.shipped,
      lagBytes: this.inFlightBytes + (this.follower?.bytesBehind() ?? 0),
      published: c.published,
      duplicates: c.duplicates,
      inFlight: this.run?.queue.length ?? 0,
      inFlightBytes: this.inFlightBytes,
      reconnects: c.reconnects,
      retries: c.retries,
      checkpoints: c.checkpoints,
      checkpointLsn: c.checkpointLsn,
      state: this.state,
      publishLatency: c.histogram(),
      acknowledged: c.acknowledged,
      publishLatencyMsTotal: c.latencyMsTotal,
      publishLatencyMsMax: c.latencyMsMax,
    };
  }

  /**
   * Stops reading, lets every publish in flight settle (at most `ackTimeoutMs`), takes a last
   * checkpoint (`checkpoint: true`) and closes the connection. Resolves once done, whatever
   * `closed` says.
   */
  async stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      this.stopController.abort();
      this.run?.controller.abort();
      this.run?.changed.notify();
    }
    await this.closed.catch(() => {});
  }

  private async watchStatus(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === 'disconnect') {
        this.state = 'disconnected';
        const run = this.run;
        if (run) {
          run.abandoned = true;
          run.abandonNow();
          this.fail(run, new Error(`disconnected from ${status.server}`));
        }
      } else if (status.type === 'reconnect') {
        this.counters.reconnects++;
        if (!this.stopping) this.state = 'connected';
      }
    }
  }

  private async loop(): Promise<void> {
    let attempt = 0;
    try {
      while (!this.stopping) {
        // A closed log has nothing more to ship (its tail ended once it had delivered everything).
        if (this.source.wal?.error?.code === ErrorCode.CLOSED) return;
        let error: unknown = null;
        const before = this.shipped;
        try {
          await ensureStream(this.jsm, this.options);
          const last = await lastShipped(this.jsm, this.options.stream, this.options.subject, this.logId);
          this.shipped = last.lsn;
          this.maybeCheckpoint();
          const end = await this.pump(last);
          if (end === 'ended') return;
          if (end !== 'stopped') error = end.failure;
          if (error instanceof Fatal) throw error;
        } catch (e) {
          if (e instanceof Fatal) throw e.error;
          if (e instanceof WalError && e.code === ErrorCode.INVALID_OPTION) throw e;
          error = e;
        }
        if (this.stopping) break;
        if (error !== null) {
          this.counters.retries++;
          this.options.onRetry?.(error instanceof Error ? error : new Error(String(error)));
        }
        attempt = this.shipped > before ? 0 : attempt + 1;
        await this.backoff(attempt);
      }
    } finally {
      await this.finish();
    }
  }

  private backoff(attempt: number): Promise<void> {
    const { backoffMinMs, backoffMaxMs } = this.options;
    const ceiling = Math.min(backoffMaxMs, backoffMinMs * 2 ** Math.min(attempt, 30));
    const ms = ceiling / 2 + (Math.random() * ceiling) / 2; // "equal jitter"
    const signal = this.stopController.signal;
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done);
    });
  }

  /** Publishes from after `last` until a failure, a stop or the source's end. */
  private async pump(last: LastShipped): Promise<'ended' | 'stopped' | Run> {
    let abandonNow = (): void => {};
    const abandon = new Promise<null>((resolve) => {
      abandonNow = () => resolve(null);
    });
    const run: Run = {
      controller: new AbortController(),
      queue: [],
      failure: null,
      abandoned: false,
      abandon,
      abandonNow,
      sending: true,
      changed: new Signal(),
    };
    this.run = run;
    if (this.stopping) run.controller.abort(); // stop() came while the last message was read
    const fromLsn = last.lsn > 0 ? last.lsn + 1 : this.options.fromLsn;
    const follower = this.source.follow({
      fromLsn,
      signal: run.controller.signal,
      pollMs: this.options.pollMs,
    });
    this.follower = follower;
    const acks = this.readAcks(run);
    let previous: string | null = null; // message id of the last publish of this run
    let readError: unknown = null;
    try {
      outer: for await (const batch of follower) {
        for (const entry of batch) {
          if (entry.lsn <= last.lsn) continue;
          if (entry.lsn > this.lastRead) this.lastRead = entry.lsn;
          while (!this.hasRoom(run, entry.bytes.length) && run.failure === null && !this.stopping) {
            await run.changed.wait();
          }
          if (run.failure !== null || this.stopping) break outer;
          previous = this.publish(run, entry, previous, last.seq);
        }
      }
    } catch (e) {
      // A log closed under its tail is the end of the source, not a failure.
      if (!(e instanceof WalError && e.code === ErrorCode.CLOSED)) readError = e;
    }
    run.sending = false;
    run.changed.notify();
    await acks;
    this.run = null;
    this.inFlightBytes = 0;
    if (readError !== null && run.failure === null && !this.stopping) throw new Fatal(readError);
    if (run.failure !== null) return run;
    return this.stopping ? 'stopped' : 'ended';
  }

  private hasRoom(run: Run, bytes: number): boolean {
    const queued = run.queue.length;
    if (queued === 0) return true;
    return queued < this.options.windowEntries && this.inFlightBytes + bytes <= this.options.windowBytes;
  }

  /** Publishes `entry`; returns its message id (the next publish's expected predecessor). */
  private publish(run: Run, entry: RawEntry, previous: string | null, lastSeq: number): string {
    const id = messageId(this.logId, entry.lsn);
    const h = headers();
    h.set(HEADER_LOG, this.logId);
    h.set(HEADER_LSN, String(entry.lsn));
    h.set(HEADER_TS, String(entry.ts));
    const expect = previous === null ? { lastSubjectSequence: lastSeq } : { lastMsgID: previous };
    let result: Promise<PubAck | Failure>;
    try {
      result = this.js
        .publish(this.options.subject, entry.bytes, {
          msgID: id,
          headers: h,
          expect,
          timeout: this.options.ackTimeoutMs,
        })
        .catch((e: unknown) => new Failure(e));
    } catch (e) {
      result = Promise.resolve(new Failure(e));
    }
    run.queue.push({ lsn: entry.lsn, bytes: entry.bytes.length, sentAt: now(), result });
    this.inFlightBytes += entry.bytes.length;
    run.changed.notify();
    return id;
  }

  /** Reads acknowledgements in publish order until the run stops sending and its queue is empty. */
  private async readAcks(run: Run): Promise<void> {
    while (true) {
      const head = run.queue[0];
      if (head === undefined) {
        if (!run.sending) return;
        await run.changed.wait();
        continue;
      }
      if (run.abandoned) {
        // The connection dropped: no answer will come for what was sent on it.
        run.queue.length = 0;
        this.inFlightBytes = 0;
        run.changed.notify();
        continue;
      }
      const result = await Promise.race([head.result, run.abandon]);
      if (result === null) continue; // abandoned: dropped above
      run.queue.shift();
      this.inFlightBytes -= head.bytes;
      run.changed.notify();
      if (run.failure !== null) continue;
      if (result instanceof Failure) {
        this.fail(run, result.error);
        continue;
      }
      this.counters.acked(now() - head.sentAt, result.duplicate);
      if (head.lsn > this.shipped) this.shipped = head.lsn;
      if (run.queue.length === 0 || run.queue.length % 64 === 0) {
        this.options.onShipped?.(this.shipped);
        this.maybeCheckpoint();
      }
    }
  }

  private fail(run: Run, error: unknown): void {
    if (run.failure === null) {
      run.failure = error;
      if (isTooLarge(error)) run.failure = new Fatal(tooLarge(error));
      run.controller.abort();
    }
    run.changed.notify();
  }

  /** Checkpoints the log at the shipped LSN, at most every checkpointIntervalMs, never backwards. */
  private maybeCheckpoint(force = false): void {
    const wal = this.source.wal;
    if (!this.options.checkpoint || wal === null || this.checkpointing !== null) return;
    const target = Math.min(this.shipped, wal.lastLsn);
    if (target <= Math.max(wal.checkpointLsn, this.counters.checkpointLsn)) return;
    const wait = this.lastCheckpointAt + this.options.checkpointIntervalMs - Date.now();
    if (wait > 0 && !force) {
      this.checkpointTimer ??= setTimeout(() => {
        this.checkpointTimer = null;
        this.maybeCheckpoint();
      }, wait);
      return;
    }
    this.lastCheckpointAt = Date.now();
    this.checkpointing = wal.checkpoint(target).then(
      () => {
        this.counters.checkpoints++;
        this.counters.checkpointLsn = Math.max(this.counters.checkpointLsn, target);
        this.checkpointing = null;
        if (!this.stopping) this.maybeCheckpoint(); // what was acknowledged meanwhile
      },
      (e: unknown) => {
        this.checkpointing = null;
        // A closed log ends the shipper by itself (its tail ends); anything else is worth a word.
        if ((e as WalError)?.code !== ErrorCode.CLOSED) this.options.onRetry?.(e as Error);
      },
    );
  }

  private async finish(): Promise<void> {
    this.stopping = true;
    this.state = 'stopped';
    this.follower = null;
    if (this.checkpointTimer) clearTimeout(this.checkpointTimer);
    this.checkpointTimer = null;
    await this.checkpointing;
    const wal = this.source.wal;
    if (this.options.checkpoint && wal !== null && wal.error === null) {
      this.maybeCheckpoint(true);
      await this.checkpointing;
    }
    await this.nc.close().catch(() => {});
  }
}

/** Opens the connection and the stream, then starts shipping. */
export async function startShipper(source: ShipSource, options: FilledShipOptions): Promise<Shipper> {
  const nc = await connect({
    ...options.connection,
    servers: options.servers,
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: (options.connection.reconnectTimeWait as number | undefined) ?? 250,
    name: (options.connection.name as string | undefined) ?? `ringwal-shipper ${source.logId}`,
  });
  try {
    const jsm = await jetstreamManager(nc, { timeout: options.ackTimeoutMs, checkAPI: false });
    await ensureStream(jsm, options);
    return new Shipper(source, options, nc, jsm);
  } catch (e) {
    await nc.close().catch(() => {});
    throw e;
  }
}

/** A message the stream or the client refuses for its size: retrying cannot help. */
function isTooLarge(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  if (code === 10054) return true; // JSStreamMessageExceedsMaximumErr
  return /max(imum)?[ _]?payload/i.test(String((error as Error)?.message ?? ''));
}

function tooLarge(error: unknown): WalError {
  return new WalError(
    ErrorCode.ENTRY_TOO_LARGE,
    `shipToJetStream: an entry is larger than the stream or server accepts (max_msg_size, max_payload): ${(error as Error)?.message ?? error}`,
  );
}
