/**
 * Errors with stable codes. Callers match on `code`, never on the message or the class:
 * errors that cross the thread boundary lose their class. The table of codes is in
 * README.md ("Error codes") and test/unit/errors.test.ts checks both stay in step.
 */

import * as fs from 'node:fs';

export const ErrorCode = {
  /** An option is missing, of the wrong type or out of range; the message names it. */
  INVALID_OPTION: 'WAL_INVALID_OPTION',
  /** The log was closed (or is closing); nothing more can be appended. */
  CLOSED: 'WAL_CLOSED',
  /** Another open log (in this process or another) holds the directory. */
  LOCKED: 'WAL_LOCKED',
  /** The encoded entry is larger than `maxEntryBytes`. The log stays healthy. */
  ENTRY_TOO_LARGE: 'WAL_ENTRY_TOO_LARGE',
  /** msgpack could not encode the value (circular, too-large BigInt...). The log stays healthy. */
  ENCODE_FAILED: 'WAL_ENCODE_FAILED',
  /** More than `maxPendingBytes` of encoded entries wait for ring space. The log stays healthy. */
  BACKPRESSURE: 'WAL_BACKPRESSURE',
  /** fdatasync failed. Sticky: the log refuses everything until reopened. */
  FSYNC_FAILED: 'WAL_FSYNC_FAILED',
  /** The file system is full (ENOSPC/EDQUOT). Sticky until reopened. */
  NO_SPACE: 'WAL_NO_SPACE',
  /** Any other I/O failure in the writer. Sticky until reopened. */
  IO_ERROR: 'WAL_IO_ERROR',
  /** The writer thread died. Sticky until reopened. */
  WRITER_CRASHED: 'WAL_WRITER_CRASHED',
  /** A segment file is damaged beyond what the recovery mode tolerates. */
  CORRUPT: 'WAL_CORRUPT',
  /** A reader needed a segment that retention deleted while the reader was behind it. */
  SEGMENT_DELETED: 'WAL_SEGMENT_DELETED',
  /** `flushSync()` gave up after its time bound with entries still not durable. */
  FLUSH_TIMEOUT: 'WAL_FLUSH_TIMEOUT',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface WalErrorDetails {
  /** The failing syscall's errno code (`EIO`, `ENOSPC`...), when there is one. */
  errno?: string;
  syscall?: string;
  path?: string;
  /** Byte offset in `path`, for corruption. */
  offset?: number;
  /** For WAL_LOCKED: what the lock file says of its holder (host, boot id, PID namespace, pid, since). */
  holder?: LockHolder;
  /** For WAL_SEGMENT_DELETED from a follower: the first and last LSN it could not read. */
  firstLsn?: number;
  lastLsn?: number;
}

/** The holder a WAL_LOCKED error names, as its lock file records it ('' where not recorded). */
export interface LockHolder {
  host: string;
  bootId: string;
  pidNamespace: string;
  pid: number;
  start: string;
  since: string;
  kernelLock: boolean;
}

export class WalError extends Error {
  readonly code: ErrorCode;
  readonly errno?: string;
  readonly syscall?: string;
  readonly path?: string;
  readonly offset?: number;
  readonly holder?: LockHolder;
  readonly firstLsn?: number;
  readonly lastLsn?: number;

  constructor(
    code: ErrorCode,
    message: string,
    details: WalErrorDetails = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'WalError';
    this.code = code;
    if (details.errno !== undefined) this.errno = details.errno;
    if (details.syscall !== undefined) this.syscall = details.syscall;
    if (details.path !== undefined) this.path = details.path;
    if (details.offset !== undefined) this.offset = details.offset;
    if (details.holder !== undefined) this.holder = details.holder;
    if (details.firstLsn !== undefined) this.firstLsn = details.firstLsn;
    if (details.lastLsn !== undefined) this.lastLsn = details.lastLsn;
  }
}

/** The plain-object form an error takes through shared memory or a message port. */
export interface WireError extends WalErrorDetails {
  code: ErrorCode;
  message: string;
}

export function toWire(error: WalError): WireError {
  const wire: WireError = { code: error.code, message: error.message };
  if (error.errno !== undefined) wire.errno = error.errno;
  if (error.syscall !== undefined) wire.syscall = error.syscall;
  if (error.path !== undefined) wire.path = error.path;
  if (error.offset !== undefined) wire.offset = error.offset;
  return wire;
}

/**
 * The error as UTF-8 JSON of at most `maxBytes` (the ring's error area), for the main thread
 * to read back with `fromWire`. Too long, the message is shortened first, then the path
 * (keeping its end, the part that names the file); code, errno and syscall always survive.
 */
export function encodeWire(error: WalError, maxBytes: number): Uint8Array {
  const wire = toWire(error);
  const encoder = new TextEncoder();
  let json = encoder.encode(JSON.stringify(wire));
  while (json.length > maxBytes) {
    if (wire.message.length > 0) {
      wire.message = wire.message.slice(0, wire.message.length >> 1);
    } else if (wire.path !== undefined && wire.path.length > 0) {
      wire.path = wire.path.slice(-(wire.path.length >> 1));
    } else {
      return encoder.encode(JSON.stringify({ code: wire.code, message: '' }));
    }
    json = encoder.encode(JSON.stringify(wire));
  }
  return json;
}

export function fromWire(wire: WireError): WalError {
  return new WalError(wire.code, wire.message, wire);
}

/**
 * Classifies an error thrown by a file-system call. `during` says what the writer was doing,
 * because an fsync failure has a code of its own: the kernel may have dropped the dirty pages,
 * so the log must never retry it (the PostgreSQL "fsyncgate" lesson).
 */
export function ioError(
  cause: unknown,
  during: 'write' | 'sync' | 'open' | 'other',
  path?: string,
): WalError {
  if (cause instanceof WalError) return cause;
  const e = cause as NodeJS.ErrnoException;
  const errno = typeof e?.code === 'string' ? e.code : undefined;
  const details: WalErrorDetails = { errno, syscall: e?.syscall, path: path ?? e?.path };
  // Node names the file only for calls that take a path; say which one it was either way.
  const message = e?.message ?? String(cause);
  const what = details.path && !message.includes(details.path) ? `${message} (${details.path})` : message;
  if (errno === 'ENOSPC' || errno === 'EDQUOT') {
    return new WalError(ErrorCode.NO_SPACE, `no space left for the log: ${what}`, details, { cause });
  }
  // Any failed fsync or fdatasync (a segment's, a new segment header's, the directory's, the
  // checkpoint's) is the same event for the caller, whatever step of the writer it was in.
  const syscall = e?.syscall;
  if (during === 'sync' || syscall === 'fsync' || syscall === 'fdatasync') {
    return new WalError(
      ErrorCode.FSYNC_FAILED,
      `${syscall ?? 'fdatasync'} failed; the log refuses all appends until reopened: ${what}`,
      details,
      { cause },
    );
  }
  return new WalError(ErrorCode.IO_ERROR, `I/O error during ${during}: ${what}`, details, { cause });
}

/** Damage a recovery mode does not tolerate, at `offset` in segment `path`. */
export function corruptError(path: string, offset: number, reason: string): WalError {
  return new WalError(ErrorCode.CORRUPT, `${path} is corrupt at offset ${offset}: ${reason}`, {
    path,
    offset,
  });
}

/**
 * What a reader reports when reading segment `path` threw: a WalError as it is; a file that
 * vanished is WAL_SEGMENT_DELETED; any other error from the file system (EISDIR, EIO, a
 * dangling symbolic link...) is WAL_IO_ERROR naming the file. Anything else (a bug) is
 * returned as it is.
 */
export function segmentReadError(path: string, cause: unknown): unknown {
  if (cause instanceof WalError) return cause;
  const code = (cause as NodeJS.ErrnoException)?.code;
  // A name still there whose link points nowhere was not removed by retention.
  if (code === 'ENOENT' && !isSymlink(path)) return vanished(path);
  return typeof code === 'string' ? readFailed(path, cause) : cause;
}

/** A segment that could not be read (not a file, an I/O error): WAL_IO_ERROR naming it. */
export function readFailed(path: string, cause: unknown): WalError {
  return ioFailure(`cannot read ${path}`, path, cause);
}

/**
 * WAL_IO_ERROR for a file-system call on `path` that failed: `what` was being done, the
 * cause's message, errno and syscall. (`ioError` above is the writer's, whose
 * messages say which step of the writer failed.)
 */
export function ioFailure(what: string, path: string, cause: unknown): WalError {
  const e = cause as NodeJS.ErrnoException;
  return new WalError(
    ErrorCode.IO_ERROR,
    `${what}: ${e?.message ?? String(cause)}`,
    { errno: e?.code, syscall: e?.syscall, path },
    { cause },
  );
}

/** A segment retention deleted before a reader got to it. */
export function vanished(path: string): WalError {
  return new WalError(
    ErrorCode.SEGMENT_DELETED,
    `${path} was deleted (by retention) before this reader got to it; read again from a later LSN`,
    { path },
  );
}

/** Whether `path` itself is a symbolic link: a name that is there although its file is not. */
function isSymlink(path: string): boolean {
  try {
    return fs.lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

// ---- Constructors for the errors raised in more than one place, or far from their cause ----

/** Any argument or option that is wrong; `message` names it. */
export function invalidOption(message: string): WalError {
  return new WalError(ErrorCode.INVALID_OPTION, message);
}

export function closed(): WalError {
  return new WalError(ErrorCode.CLOSED, 'the log is closed');
}

/** The writer thread failed or exited; `message` says how. */
export function writerCrashed(message: string, cause?: unknown): WalError {
  return new WalError(ErrorCode.WRITER_CRASHED, message, {}, cause === undefined ? undefined : { cause });
}

export function encodeFailed(cause: unknown): WalError {
  return new WalError(
    ErrorCode.ENCODE_FAILED,
    `the value cannot be encoded as msgpack: ${reasonOf(cause)}`,
    {},
    { cause },
  );
}

export function entryTooLarge(bytes: number, maxEntryBytes: number): WalError {
  return new WalError(
    ErrorCode.ENTRY_TOO_LARGE,
    `the entry encodes to ${bytes} bytes, over maxEntryBytes (${maxEntryBytes})`,
  );
}

export function backpressure(maxPendingBytes: number): WalError {
  return new WalError(
    ErrorCode.BACKPRESSURE,
    `more than maxPendingBytes (${maxPendingBytes}) wait for the writer; await earlier appends`,
  );
}

export function flushTimeout(target: number, timeoutMs: number, durable: number): WalError {
  return new WalError(
    ErrorCode.FLUSH_TIMEOUT,
    `flushSync: entries up to LSN ${target} were not durable after ${timeoutMs} ms (durable: ${durable})`,
  );
}

/** An entry whose checksum matches but whose payload msgpack cannot decode, at `offset` of `path`. */
export function undecodableEntry(path: string, offset: number, cause: unknown): WalError {
  return new WalError(
    ErrorCode.CORRUPT,
    `${path} is corrupt at offset ${offset}: the entry's checksum matches but it is not valid MessagePack (${reasonOf(cause)})`,
    { path, offset },
    { cause },
  );
}

/** The same for a key's value shipped encoded from a recoverState worker. */
export function undecodableValue(key: string, cause: unknown): WalError {
  return new WalError(
    ErrorCode.CORRUPT,
    `the value of key ${JSON.stringify(key)} has a matching checksum but is not valid MessagePack (${reasonOf(cause)})`,
    {},
    { cause },
  );
}

function reasonOf(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
