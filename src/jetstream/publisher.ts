/**
 * JetStream publishes at the cost of a core publish: each message goes out with a reply
 * subject under one inbox the shipper subscribes to once (`<inbox>.<token>`), and the stream's
 * answer (a PubAck, an API error, or a 503 status when no stream listens) is matched back by
 * its token. nats.js's `js.publish` makes a request per message instead, each with its own
 * promise, timer and reply handling; measured here on loopback, that capped shipping at ~15k
 * messages/s where core publishes reach ~66k/s against the same server (docs/JETSTREAM.md
 * "Pipelining"). Timeouts are the shipper's: it knows which publish it waits for (the oldest),
 * so one deadline suffices.
 */
import {
  createInbox,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from '@nats-io/transport-node';

/** The stream's answer to a publish. */
export type Answer = { seq: number; duplicate: boolean } | PublishFailure;

/** A publish the stream refused (or that could not be sent); `code` is JetStream's `err_code`. */
export class PublishFailure {
  constructor(readonly error: Error) {}
}

/** Something awaiting an answer: `answered` is called once, with it. */
export interface Awaiting {
  answered(answer: Answer): void;
}

const decoder = new TextDecoder();

export class AckedPublisher {
  private readonly inbox = createInbox();
  private readonly subscription: Subscription;
  private readonly waiting = new Map<number, Awaiting>();
  private token = 0;

  constructor(private readonly nc: NatsConnection) {
    this.subscription = nc.subscribe(`${this.inbox}.*`, {
      callback: (error, msg) => {
        if (error === null) this.answer(msg);
      },
    });
  }

  /**
   * Publishes `data` on `subject` with `headers`; `awaiting.answered` receives the stream's
   * answer, or a failure at once when the client refuses to send it (too large, closed).
   */
  publish(subject: string, data: Uint8Array, headers: MsgHdrs, awaiting: Awaiting): void {
    const token = ++this.token;
    try {
      this.nc.publish(subject, data, { reply: `${this.inbox}.${token}`, headers });
    } catch (e) {
      awaiting.answered(new PublishFailure(e instanceof Error ? e : new Error(String(e))));
      return;
    }
    this.waiting.set(token, awaiting);
  }

  /** Stops matching answers to what was published so far (a run ended): late ones are dropped. */
  forget(): void {
    this.waiting.clear();
  }

  close(): void {
    this.waiting.clear();
    this.subscription.unsubscribe();
  }

  private answer(msg: Msg): void {
    const subject = msg.subject;
    const token = Number(subject.slice(subject.lastIndexOf('.') + 1));
    const awaiting = this.waiting.get(token);
    if (awaiting === undefined) return; // a run that ended, or a second answer
    this.waiting.delete(token);
    awaiting.answered(parseAnswer(msg));
  }
}

/** A PubAck `{"stream","seq","duplicate"?}`, an API error `{"error":{code,err_code,description}}`, or a status. */
function parseAnswer(msg: Msg): Answer {
  const status = msg.headers?.code ?? 0;
  if (status >= 300 || msg.data.length === 0) {
    const text = msg.headers?.description || msg.headers?.status || 'an empty answer';
    const error = new Error(
      `publish not acknowledged: ${status === 503 ? 'no stream responded (503)' : text}`,
    );
    return new PublishFailure(Object.assign(error, { code: status }));
  }
  let body: {
    seq?: unknown;
    duplicate?: unknown;
    error?: { code?: number; err_code?: number; description?: string };
  };
  try {
    body = JSON.parse(decoder.decode(msg.data));
  } catch {
    return new PublishFailure(
      new Error(`publish answered with something not JSON: ${decoder.decode(msg.data)}`),
    );
  }
  if (body.error !== undefined) {
    const e = body.error;
    const error = new Error(
      `publish refused: ${e.description ?? 'unknown'} (${e.code ?? '?'}/${e.err_code ?? '?'})`,
    );
    return new PublishFailure(Object.assign(error, { code: e.err_code ?? e.code }));
  }
  if (typeof body.seq !== 'number') {
    return new PublishFailure(new Error(`publish answered without a sequence: ${decoder.decode(msg.data)}`));
  }
  return { seq: body.seq, duplicate: body.duplicate === true };
}
