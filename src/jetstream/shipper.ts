/**
 * The shipper: follows a log and publishes its entries to a JetStream stream, one per message
 * or packed in runs (`entriesPerMessage`), pipelined, in LSN order, exactly once
 * (docs/JETSTREAM.md).
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
import type { JetStreamManager } from '@nats-io/jetstream';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { ErrorCode, WalError } from '../errors.js';
import type { Follower, FollowOptions, RawEntry } from '../reader/follow.js';
import type { ShipProgress } from './checkpointer.js';
import {
  HEADER_ENTRIES,
  HEADER_LOG,
  HEADER_LSN,
  HEADER_TS,
  messageId,
  PACKED_ENTRY_HEADER_BYTES,
  packEntries,
} from './message.js';
import { ShipperCounters, type ShipperMetrics, type ShipperState } from './metrics.js';
import type { FilledShipOptions } from './options.js';
import { AckedPublisher, type Answer, type Awaiting, PublishFailure } from './publisher.js';
import { ensureStream, type LastShipped, lastShipped } from './stream.js';

/**
 * Where entries come from: an open log (in this thread, or in the main thread of a worker's
 * process: src/jetstream/durable-source.ts), or a directory another process writes.
 */
export interface ShipSource {
  logId: string;
  follow(options: FollowOptions): Follower<RawEntry>;
  /** The log's durable LSN (`metrics().sourceLsn`), or null for a directory (the last entry read counts). */
  durableLsn: (() => number) | null;
  /** Whether the log has closed: nothing more will come, and a failed run is not retried. */
  ended(): boolean;
  /** Told of every new shipped LSN and of the end (the checkpointer, a worker's status), or null. */
  progress: ShipProgress | null;
}

/** A publish awaiting its acknowledgement: entries `firstLsn..lsn`. */
class InFlight implements Awaiting {
  answer: Answer | null = null;
  readonly sentAt = now();
  constructor(
    private readonly run: Run,
    readonly firstLsn: number,
    readonly lsn: number,
    readonly bytes: number,
  ) {}
  answered(answer: Answer): void {
    this.answer = answer;
    if (this.run.queue[0] === this) this.run.changed.notify(); // acknowledgements are read in order
  }
}

/** One pass from the stream's last message until a failure, a stop, or the source's end. */
interface Run {
  controller: AbortController;
  queue: InFlight[];
  /** The first failure; later ones are the same story. */
  failure: unknown;
  /** The connection was lost: answers to what is in flight will not come. */
  abandoned: boolean;
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
  /** Waits for a notification, or `ms` at most. */
  waitAtMost(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

const now = (): number => performance.now();

/** Bytes of a server's max_payload left for a packed message's headers (ids, LSNs, ~200 bytes). */
const HEADERS_ROOM = 1024;

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
  private readonly publisher: AckedPublisher;

  /** @internal Use `shipToJetStream`. */
  constructor(
    private readonly source: ShipSource,
    private readonly options: FilledShipOptions,
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
  ) {
    this.logId = source.logId;
    this.publisher = new AckedPublisher(nc);
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
    const durable = this.source.durableLsn;
    const sourceLsn = Math.max(durable ? durable() : this.lastRead, this.shipped);
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
      checkpoints: this.source.progress?.checkpoints ?? 0,
      checkpointLsn: this.source.progress?.checkpointLsn ?? 0,
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
        if (this.source.ended()) return;
        let error: unknown = null;
        const before = this.shipped;
        try {
          await ensureStream(this.jsm, this.options);
          const last = await lastShipped(this.jsm, this.options.stream, this.options.subject, this.logId);
          this.shipped = last.lsn;
          this.source.progress?.shipped(this.shipped);
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
    const run: Run = {
      controller: new AbortController(),
      queue: [],
      failure: null,
      abandoned: false,
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
      readIntervalMs: this.options.readIntervalMs,
    });
    this.follower = follower;
    const acks = this.readAcks(run);
    let previous: string | null = null; // message id of the last publish of this run
    let readError: unknown = null;
    const { entriesPerMessage } = this.options;
    // Never pack past what the server takes (its max_payload, headers included): a message of
    // one entry too large stops the shipper (WAL_ENTRY_TOO_LARGE); a packed run never should.
    const maxPayload = this.nc.info?.max_payload ?? Number.POSITIVE_INFINITY;
    const messageBytes = Math.min(this.options.messageBytes, maxPayload - HEADERS_ROOM);
    try {
      outer: for await (const batch of follower) {
        let i = 0;
        while (i < batch.length && batch[i].lsn <= last.lsn) i++;
        while (i < batch.length) {
          // The entries at hand, up to entriesPerMessage within messageBytes (at least one).
          let end = i + 1;
          let bytes = batch[i].bytes.length;
          if (entriesPerMessage > 1) {
            bytes += PACKED_ENTRY_HEADER_BYTES;
            while (end < batch.length && end - i < entriesPerMessage) {
              const more = PACKED_ENTRY_HEADER_BYTES + batch[end].bytes.length;
              if (bytes + more > messageBytes) break;
              bytes += more;
              end++;
            }
          }
          const lastLsn = batch[end - 1].lsn;
          if (lastLsn > this.lastRead) this.lastRead = lastLsn;
          while (!this.hasRoom(run, bytes) && run.failure === null && !this.stopping) {
            await run.changed.wait();
          }
          if (run.failure !== null || this.stopping) break outer;
          previous = this.publish(run, batch, i, end, bytes, previous, last.seq);
          i = end;
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
    return queued < this.options.windowMessages && this.inFlightBytes + bytes <= this.options.windowBytes;
  }

  /**
   * Publishes `batch[from..to)` as one message (one entry as it is, more packed); returns its
   * message id (the next publish's expected predecessor).
   */
  private publish(
    run: Run,
    batch: readonly RawEntry[],
    from: number,
    to: number,
    bytes: number,
    previous: string | null,
    lastSeq: number,
  ): string {
    const first = batch[from];
    const lastLsn = batch[to - 1].lsn;
    const id = messageId(this.logId, first.lsn, lastLsn);
    const h = headers();
    h.set('Nats-Msg-Id', id);
    if (previous === null) h.set('Nats-Expected-Last-Subject-Sequence', String(lastSeq));
    else h.set('Nats-Expected-Last-Msg-Id', previous);
    h.set(HEADER_LOG, this.logId);
    h.set(HEADER_LSN, String(first.lsn));
    h.set(HEADER_TS, String(first.ts));
    let data = first.bytes;
    if (to - from > 1) {
      h.set(HEADER_ENTRIES, String(to - from));
      data = packEntries(batch, from, to, bytes);
    }
    const inFlight = new InFlight(run, first.lsn, lastLsn, bytes);
    run.queue.push(inFlight);
    this.inFlightBytes += bytes;
    this.publisher.publish(this.options.subject, data, h, inFlight);
    run.changed.notify();
    return id;
  }

  /** Reads acknowledgements in publish order until the run stops sending and its queue is empty. */
  private async readAcks(run: Run): Promise<void> {
    while (true) {
      const head = run.queue[0];
      if (head === undefined) {
        if (!run.sending) break;
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
      const answer = head.answer;
      if (answer === null) {
        const left = head.sentAt + this.options.ackTimeoutMs - now();
        if (left > 0) {
          await run.changed.waitAtMost(left);
          continue;
        }
        head.answered(
          new PublishFailure(
            new Error(`no acknowledgement within ackTimeoutMs (${this.options.ackTimeoutMs} ms)`),
          ),
        );
        continue;
      }
      run.queue.shift();
      this.inFlightBytes -= head.bytes;
      run.changed.notify();
      if (run.failure !== null) continue;
      if (answer instanceof PublishFailure) {
        this.fail(run, answer.error);
        continue;
      }
      this.counters.acked(now() - head.sentAt, answer.duplicate, head.lsn - head.firstLsn + 1);
      if (head.lsn > this.shipped) this.shipped = head.lsn;
      if (run.queue.length === 0 || run.queue.length % 64 === 0) {
        this.options.onShipped?.(this.shipped);
        this.source.progress?.shipped(this.shipped);
      }
    }
    this.publisher.forget(); // answers still to come belong to nobody now
  }

  private fail(run: Run, error: unknown): void {
    if (run.failure === null) {
      run.failure = error;
      if (isTooLarge(error)) run.failure = new Fatal(tooLarge(error));
      run.controller.abort();
    }
    run.changed.notify();
  }

  private async finish(): Promise<void> {
    this.stopping = true;
    this.state = 'stopped';
    this.follower = null;
    await this.source.progress?.finish();
    this.publisher.close();
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
