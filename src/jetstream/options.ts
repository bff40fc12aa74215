/**
 * `shipToJetStream`'s options, their defaults, and the one check that fills them in
 * (piscina's habit: public options vs filled options, validated once at the entry point, with
 * messages that name the option). Every error here is WAL_INVALID_OPTION.
 */
import { ErrorCode, WalError } from '../errors.js';

/** How to create the stream when it does not exist (`createStream`). */
export interface CreateStreamOptions {
  /**
   * Copies of each message. Default 1. Use 3 (on a cluster of at least three servers): a publish
   * is acknowledged once a quorum (two of three) holds the message, so losing one server loses
   * nothing shipped.
   */
  replicas?: number;
  /** Default `'file'`. `'memory'` loses everything when the server stops: only for tests. */
  storage?: 'file' | 'memory';
  /**
   * How long the stream remembers a message id, so a republished entry is dropped as a
   * duplicate. Default 2 minutes (the server's default). Ordering never depends on it (each
   * publish names its predecessor); a longer window only saves a re-read after a shipper
   * restarts. See docs/JETSTREAM.md "Stream settings".
   */
  duplicateWindowMs?: number;
  /** Discard messages older than this. Default 0: keep them (the stream's own limits apply). */
  maxAgeMs?: number;
  /** Discard the oldest messages past this many bytes. Default -1: no limit. */
  maxBytes?: number;
}

export interface ShipOptions {
  /** NATS server URL(s), `'nats://host:4222'` or `'host:port'`; a cluster's list for failover. Required. */
  servers: string | string[];
  /** The JetStream stream to publish to. Required. It must exist unless `createStream` is given. */
  stream: string;
  /**
   * The subject every entry is published on: one of the stream's subjects. Required. One
   * subject, one log: nothing else may publish on it (docs/JETSTREAM.md "One subject per log").
   */
  subject: string;
  /** Create the stream (with `subject` as its only subject) when it does not exist. Default: never. */
  createStream?: boolean | CreateStreamOptions;
  /**
   * First LSN to ship when the subject holds no message yet. Default: the oldest entry the log
   * still has. Ignored once the subject holds messages: shipping resumes after the last one.
   */
  fromLsn?: number;
  /**
   * Most entries packed into one message. Default 1: each entry is a message of its own. Above
   * 1, each message holds the consecutive entries the shipper has at hand (it never waits for
   * more), up to this many and `messageBytes`; consumers read them with `shippedEntries(msg)`.
   * Packing costs the client and the server per message, not per entry: the way to ship as fast
   * as the log appends (docs/JETSTREAM.md "Packing").
   */
  entriesPerMessage?: number;
  /**
   * Most data bytes of a packed message (one larger entry still goes, alone). Default 512 KiB.
   * Packing never exceeds the server's `max_payload` (less 1 KiB for headers), whatever this says.
   */
  messageBytes?: number;
  /** Most publishes (messages) awaiting their acknowledgement at once. Default 256. */
  windowMessages?: number;
  /** Most bytes of messages awaiting acknowledgement at once (one larger message still goes alone). Default 8 MiB. */
  windowBytes?: number;
  /** How long to wait for a publish's (or a stream request's) answer before giving up and resuming. Default 5000 ms. */
  ackTimeoutMs?: number;
  /** First wait after a failure; doubles (with jitter) up to `backoffMaxMs`. Default 100 ms. */
  backoffMinMs?: number;
  /** Longest wait between attempts. Default 5000 ms. */
  backoffMaxMs?: number;
  /**
   * (A `Wal` source only.) Call `wal.checkpoint(lsn)` with the highest LSN the stream has
   * acknowledged, so `retention.requireCheckpoint` deletes only segments the stream holds.
   * Default false. The log must not be checkpointed by anyone else then.
   */
  checkpoint?: boolean;
  /** Least time between two checkpoints the shipper takes. Default 100 ms. */
  checkpointIntervalMs?: number;
  /** Called with each new highest acknowledged LSN (after the acknowledgements of a window were read). */
  onShipped?: (lsn: number) => void;
  /** Called with each error the shipper recovers from (a lost server, a timeout...) before it retries. */
  onRetry?: (error: Error) => void;
  /** (A directory source only.) How often the follower looks for new entries, on top of file-system events. */
  pollMs?: number;
  /**
   * Least time between two reads of the log's end, in ms (the follower's `readIntervalMs`).
   * Default 5: the entries of several group commits go out together, in fewer and fuller
   * messages, for at most this much more lag (docs/JETSTREAM.md "Packing").
   */
  readIntervalMs?: number;
  /**
   * Extra options for `connect()` of `@nats-io/transport-node` (authentication, TLS, `name`,
   * `pingInterval`...). The shipper sets `servers`, `reconnect: true` and
   * `maxReconnectAttempts: -1` itself.
   */
  connection?: Record<string, unknown>;
  /**
   * (A `Wal` source only.) Ship from a worker thread of this process: the reading, checking,
   * packing and publishing run there, and the log's thread keeps only the checkpoints and the
   * callbacks (docs/JETSTREAM.md "The shipper's thread"). Default `true` for a `Wal` source
   * (false when `connection` holds something a worker cannot receive, such as a function:
   * the shipper then runs in the log's thread); `true` with such a `connection`, or with a
   * directory source, is WAL_INVALID_OPTION.
   */
  thread?: boolean;
  /**
   * Nice value of the shipper's worker thread, 0 to 19: above 0 the log's threads win the
   * cores it shares with them. Default 0. Linux only (there it is per thread); ignored elsewhere.
   */
  threadNice?: number;
}

export interface FilledCreateStream {
  replicas: number;
  storage: 'file' | 'memory';
  duplicateWindowMs: number;
  maxAgeMs: number;
  maxBytes: number;
}

export interface FilledShipOptions {
  servers: string[];
  stream: string;
  subject: string;
  createStream: FilledCreateStream | null;
  fromLsn: number | undefined;
  entriesPerMessage: number;
  messageBytes: number;
  windowMessages: number;
  windowBytes: number;
  ackTimeoutMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  checkpoint: boolean;
  checkpointIntervalMs: number;
  onShipped: ((lsn: number) => void) | undefined;
  onRetry: ((error: Error) => void) | undefined;
  pollMs: number | undefined;
  readIntervalMs: number;
  connection: Record<string, unknown>;
  /** As given: undefined means the default (a worker thread for a `Wal` source when it can). */
  thread: boolean | undefined;
  threadNice: number;
}

export const SHIP_DEFAULTS = {
  entriesPerMessage: 1,
  messageBytes: 512 * 1024,
  windowMessages: 256,
  readIntervalMs: 5,
  windowBytes: 8 * 1024 * 1024,
  ackTimeoutMs: 5000,
  backoffMinMs: 100,
  backoffMaxMs: 5000,
  checkpointIntervalMs: 100,
  threadNice: 0,
} as const;

const CREATE_DEFAULTS: FilledCreateStream = {
  replicas: 1,
  storage: 'file',
  duplicateWindowMs: 120_000,
  maxAgeMs: 0,
  maxBytes: -1,
};

const KNOWN = new Set<string>([
  'servers',
  'stream',
  'subject',
  'createStream',
  'fromLsn',
  'entriesPerMessage',
  'messageBytes',
  'windowMessages',
  'windowBytes',
  'ackTimeoutMs',
  'backoffMinMs',
  'backoffMaxMs',
  'checkpoint',
  'checkpointIntervalMs',
  'onShipped',
  'onRetry',
  'pollMs',
  'readIntervalMs',
  'connection',
  'thread',
  'threadNice',
]);

function invalid(name: string, expected: string, got: unknown): WalError {
  const shown = typeof got === 'string' ? JSON.stringify(got) : String(got);
  return new WalError(
    ErrorCode.INVALID_OPTION,
    `shipToJetStream: options.${name} must be ${expected}; got ${shown}`,
  );
}

function integer(
  options: Record<string, unknown>,
  name: string,
  min: number,
  max: number,
  fallback: number,
  prefix = '',
): number {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(`${prefix}${name}`, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

function callback<T>(options: Record<string, unknown>, name: string): T | undefined {
  const value = options[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw invalid(name, 'a function', value);
  return value as T;
}

/** NATS subjects: dot-separated tokens, no spaces; a publish subject has no wildcard. */
const SUBJECT = /^[^\s.*>]+(\.[^\s.*>]+)*$/;
/** JetStream stream names: no spaces, dots, wildcards or path separators. */
const STREAM_NAME = /^[^\s.*>/\\]+$/;

/** Checks `options` once and fills in the defaults; throws WAL_INVALID_OPTION naming the option. */
export function checkShipOptions(options: unknown): FilledShipOptions {
  if (options === null || typeof options !== 'object') throw invalid('', 'an object', options);
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KNOWN.has(key)) {
      throw new WalError(ErrorCode.INVALID_OPTION, `shipToJetStream: options.${key} is not an option`);
    }
  }
  const servers = typeof o.servers === 'string' ? [o.servers] : o.servers;
  if (
    !Array.isArray(servers) ||
    servers.length === 0 ||
    servers.some((s) => typeof s !== 'string' || s.trim() === '')
  ) {
    throw invalid('servers', 'a server URL or a non-empty array of them', o.servers);
  }
  if (typeof o.stream !== 'string' || !STREAM_NAME.test(o.stream)) {
    throw invalid('stream', 'a stream name (no spaces, dots, wildcards or slashes)', o.stream);
  }
  if (typeof o.subject !== 'string' || !SUBJECT.test(o.subject)) {
    throw invalid('subject', 'a subject without wildcards (tokens separated by dots)', o.subject);
  }
  const entriesPerMessage = integer(o, 'entriesPerMessage', 1, 65_536, SHIP_DEFAULTS.entriesPerMessage);
  const messageBytes = integer(o, 'messageBytes', 64, 2 ** 30, SHIP_DEFAULTS.messageBytes);
  const windowMessages = integer(o, 'windowMessages', 1, 65_536, SHIP_DEFAULTS.windowMessages);
  const windowBytes = integer(o, 'windowBytes', 1, 2 ** 31, SHIP_DEFAULTS.windowBytes);
  const ackTimeoutMs = integer(o, 'ackTimeoutMs', 1, 3_600_000, SHIP_DEFAULTS.ackTimeoutMs);
  const backoffMinMs = integer(o, 'backoffMinMs', 1, 3_600_000, SHIP_DEFAULTS.backoffMinMs);
  const backoffMaxMs = integer(
    o,
    'backoffMaxMs',
    backoffMinMs,
    3_600_000,
    Math.max(backoffMinMs, SHIP_DEFAULTS.backoffMaxMs),
  );
  const checkpointIntervalMs = integer(
    o,
    'checkpointIntervalMs',
    0,
    3_600_000,
    SHIP_DEFAULTS.checkpointIntervalMs,
  );
  const fromLsn = o.fromLsn === undefined ? undefined : integer(o, 'fromLsn', 1, Number.MAX_SAFE_INTEGER, 1);
  const pollMs = o.pollMs === undefined ? undefined : integer(o, 'pollMs', 1, 3_600_000, 0);
  const readIntervalMs = integer(o, 'readIntervalMs', 0, 60_000, SHIP_DEFAULTS.readIntervalMs);
  if (o.checkpoint !== undefined && typeof o.checkpoint !== 'boolean') {
    throw invalid('checkpoint', 'a boolean', o.checkpoint);
  }
  if (o.connection !== undefined && (o.connection === null || typeof o.connection !== 'object')) {
    throw invalid('connection', 'an object of connect() options', o.connection);
  }
  if (o.thread !== undefined && typeof o.thread !== 'boolean') throw invalid('thread', 'a boolean', o.thread);
  const threadNice = integer(o, 'threadNice', 0, 19, SHIP_DEFAULTS.threadNice);
  return {
    servers: servers as string[],
    stream: o.stream,
    subject: o.subject,
    createStream: checkCreateStream(o.createStream),
    fromLsn,
    entriesPerMessage,
    messageBytes,
    windowMessages,
    windowBytes,
    ackTimeoutMs,
    backoffMinMs,
    backoffMaxMs,
    checkpoint: o.checkpoint === true,
    checkpointIntervalMs,
    onShipped: callback(o, 'onShipped'),
    onRetry: callback(o, 'onRetry'),
    pollMs,
    readIntervalMs,
    connection: (o.connection as Record<string, unknown> | undefined) ?? {},
    thread: o.thread as boolean | undefined,
    threadNice,
  };
}

function checkCreateStream(value: unknown): FilledCreateStream | null {
  if (value === undefined || value === false) return null;
  if (value === true) return { ...CREATE_DEFAULTS };
  if (value === null || typeof value !== 'object') {
    throw invalid('createStream', 'a boolean or an object', value);
  }
  const c = value as Record<string, unknown>;
  const known = new Set(Object.keys(CREATE_DEFAULTS));
  for (const key of Object.keys(c)) {
    if (!known.has(key)) {
      throw new WalError(
        ErrorCode.INVALID_OPTION,
        `shipToJetStream: options.createStream.${key} is not an option`,
      );
    }
  }
  if (c.storage !== undefined && c.storage !== 'file' && c.storage !== 'memory') {
    throw invalid('createStream.storage', "'file' or 'memory'", c.storage);
  }
  const p = 'createStream.';
  return {
    replicas: integer(c, 'replicas', 1, 5, CREATE_DEFAULTS.replicas, p),
    storage: (c.storage as 'file' | 'memory' | undefined) ?? CREATE_DEFAULTS.storage,
    duplicateWindowMs: integer(c, 'duplicateWindowMs', 1, 2 ** 40, CREATE_DEFAULTS.duplicateWindowMs, p),
    maxAgeMs: integer(c, 'maxAgeMs', 0, 2 ** 40, CREATE_DEFAULTS.maxAgeMs, p),
    maxBytes: integer(c, 'maxBytes', -1, Number.MAX_SAFE_INTEGER, CREATE_DEFAULTS.maxBytes, p),
  };
}
