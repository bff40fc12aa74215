/**
 * What the shipper asks of the stream: that it exists and takes the subject (or creating it),
 * and where shipping resumes, from the subject's last message. The JetStream calls used here
 * are in nats-server 2.9 (`STREAM.INFO`, `STREAM.CREATE`, `STREAM.MSG.GET` with
 * `last_by_subj`), the version Debian ships and the tests run.
 */
import { JetStreamApiError, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { ErrorCode, WalError } from '../errors.js';
import { HEADER_ENTRIES, HEADER_LOG, HEADER_LSN } from './message.js';
import type { FilledShipOptions } from './options.js';

/** Whether a stream subject (possibly with wildcards) matches a literal subject. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== '*' && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}

/** JetStream API error codes (nats-server server/errors.json). */
const STREAM_NOT_FOUND = 10059;
const STREAM_NAME_IN_USE = 10058;

function isApiError(e: unknown, code: number): boolean {
  return e instanceof JetStreamApiError && e.code === code;
}

/**
 * Checks that the stream exists and that one of its subjects matches `subject`; creates it
 * (with `subject` as its subject) when it is missing and `createStream` says so. Errors in
 * the configuration are WAL_INVALID_OPTION (fatal: retrying cannot help).
 */
export async function ensureStream(jsm: JetStreamManager, options: FilledShipOptions): Promise<void> {
  const { stream, subject, createStream } = options;
  let subjects: string[];
  try {
    subjects = (await jsm.streams.info(stream)).config.subjects ?? [];
  } catch (e) {
    if (!isApiError(e, STREAM_NOT_FOUND)) throw e;
    if (!createStream) {
      throw new WalError(
        ErrorCode.INVALID_OPTION,
        `shipToJetStream: stream ${JSON.stringify(stream)} does not exist (create it, or pass createStream)`,
      );
    }
    const config: Partial<StreamConfig> & { name: string } = {
      name: stream,
      subjects: [subject],
      storage: (createStream.storage === 'memory' ? 'memory' : 'file') as StreamConfig['storage'],
      num_replicas: createStream.replicas,
      duplicate_window: createStream.duplicateWindowMs * 1e6,
      max_age: createStream.maxAgeMs * 1e6,
      max_bytes: createStream.maxBytes,
    };
    try {
      await jsm.streams.add(config);
      return;
    } catch (e2) {
      // Another shipper created it meanwhile: check it as an existing stream.
      if (!isApiError(e2, STREAM_NAME_IN_USE)) throw e2;
      subjects = (await jsm.streams.info(stream)).config.subjects ?? [];
    }
  }
  if (!subjects.some((pattern) => subjectMatches(pattern, subject))) {
    throw new WalError(
      ErrorCode.INVALID_OPTION,
      `shipToJetStream: stream ${JSON.stringify(stream)} does not take subject ${JSON.stringify(subject)} (its subjects: ${subjects.join(', ') || 'none'})`,
    );
  }
}

/** The subject's last message, as far as resuming needs it. */
export interface LastShipped {
  /** The LSN of its last entry; 0 when the subject holds no message. */
  lsn: number;
  /** Its stream sequence; 0 when the subject holds no message. */
  seq: number;
}

/**
 * The last message on `subject`: which LSN shipping resumes after. A message of another log
 * (or not from ringwal) is WAL_INVALID_OPTION: the subject must carry one log only.
 */
export async function lastShipped(
  jsm: JetStreamManager,
  stream: string,
  subject: string,
  logId: string,
): Promise<LastShipped> {
  const message = await jsm.streams.getMessage(stream, { last_by_subj: subject });
  if (message === null) return { lsn: 0, seq: 0 };
  const log = message.header.get(HEADER_LOG);
  const first = Number(message.header.get(HEADER_LSN));
  const entries = Number(message.header.get(HEADER_ENTRIES) || 1); // a packed run, or one entry
  const lsn = first + entries - 1;
  if (
    log !== logId ||
    !Number.isSafeInteger(first) ||
    first < 1 ||
    !Number.isSafeInteger(entries) ||
    entries < 1
  ) {
    const whose = log === '' ? 'a message not shipped by ringwal' : `messages of another log (${log})`;
    throw new WalError(
      ErrorCode.INVALID_OPTION,
      `shipToJetStream: subject ${JSON.stringify(subject)} of stream ${JSON.stringify(stream)} holds ${whose}; this log is ${logId}: give each log a subject of its own`,
    );
  }
  return { lsn, seq: message.seq };
}
