/**
 * Public options (every field optional, each documented with its default and trade-off)
 * and the filled form the rest of the code uses. Validation happens once, here, and every
 * message names the option.
 */
import { ErrorCode, WalError } from './errors.js';
import { DEFAULT_DIR_MODE, DEFAULT_FILE_MODE } from './fs.js';

/**
 * RocksDB's WAL recovery modes:
 * - `'strict'`: any damage is an error, a torn tail included (open fails; nothing changes).
 * - `'tolerate-tail'` (default): only the end of the last segment may be dropped, and only
 *   when it cannot hold an acknowledged entry; any other damage is an error.
 * - `'point-in-time'`: stop at the first damage; it and everything after it are dropped.
 * - `'skip-corrupt'`: skip damaged records and keep going (LSNs may then have gaps).
 */
export type RecoveryMode = 'strict' | 'tolerate-tail' | 'point-in-time' | 'skip-corrupt';

export const RECOVERY_MODES: readonly RecoveryMode[] = [
  'strict',
  'tolerate-tail',
  'point-in-time',
  'skip-corrupt',
];

export const DEFAULT_RECOVERY: RecoveryMode = 'tolerate-tail';

/** One drop: bytes of a segment that recovery (or a reader) did not take, and why. */
export interface CorruptionReport {
  /** The segment's file name. */
  segment: string;
  /** File offset of the first byte dropped (0 for a whole segment). */
  offset: number;
  /** How many bytes were dropped from `offset`. */
  bytes: number;
  reason: string;
  /**
   * `'torn-tail'`: the end of the last segment, which no acknowledgement can have covered
   * (an interrupted write). `'corruption'`: damage to bytes that may have been acknowledged.
   */
  kind: 'torn-tail' | 'corruption';
  /** LSNs of the entries lost, where known (`to` null: up to the end of the log). */
  lsns: { from: number; to: number | null } | null;
  /** What was done: where a truncated file's bytes were kept, a renamed file's new name, or what a reader skipped. */
  action: string;
}

export type CorruptionHandler = (report: CorruptionReport) => void;

export function checkRecoveryMode(value: unknown, name: string): RecoveryMode {
  if (value === undefined) return DEFAULT_RECOVERY;
  if (!RECOVERY_MODES.includes(value as RecoveryMode)) {
    const shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
    throw new WalError(
      ErrorCode.INVALID_OPTION,
      `${name} must be one of ${RECOVERY_MODES.map((m) => `'${m}'`).join(', ')}; got ${shown}`,
    );
  }
  return value as RecoveryMode;
}

export function checkCorruptionHandler(value: unknown, name: string): CorruptionHandler | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') {
    throw new WalError(ErrorCode.INVALID_OPTION, `${name} must be a function`);
  }
  return value as CorruptionHandler;
}

export type SyncMode = 'always' | 'interval' | 'none';

export interface WalOptions {
  /**
   * When an append's promise resolves. Default `'always'`.
   * - `'always'`: after the entry is fdatasync'd (and its segment's directory entry fsynced).
   *   Survives power loss. Group commit shares each fdatasync among every entry that arrived
   *   during the previous one.
   * - `'interval'`: after the entry is written to the OS (survives a process crash, not power
   *   loss); the writer fdatasyncs at most `syncIntervalMs` later. `durableLsn` says how far.
   * - `'none'`: after the entry is written to the OS; fdatasync only on `sync()`, `flushSync()`,
   *   rotation and `close()`.
   */
  sync?: SyncMode;
  /** With `sync: 'interval'`, the longest an acknowledged entry stays unsynced. Default 100 ms. */
  syncIntervalMs?: number;
  /**
   * Bytes of the shared ring between the main thread and the writer; a power of two,
   * 64 KiB to 1 GiB. Default 4 MiB. A larger ring absorbs longer bursts before appends wait;
   * entries larger than a quarter of the ring are written in fragments.
   */
  ringBytes?: number;
  /**
   * Largest encoded entry accepted; larger ones reject with `WAL_ENTRY_TOO_LARGE` and the log
   * stays healthy. Default 64 MiB, at most 1 GiB. Readers refuse records claiming more, so a
   * corrupt length field never drives a large allocation.
   */
  maxEntryBytes?: number;
  /**
   * Encoded bytes allowed to wait outside the ring when it is full. Past it, appends reject
   * with `WAL_BACKPRESSURE` (nothing already accepted is affected). Default 64 MiB; it is
   * raised to `maxEntryBytes` if smaller, so any one entry can always be accepted.
   */
  maxPendingBytes?: number;
  /**
   * Target size of one segment file. Default 64 MiB. A new segment starts at the first
   * entry boundary past this size: a segment exceeds it by at most a batch and the rest of
   * an entry written in fragments.
   */
  segmentBytes?: number;
  /**
   * Install a blocking `flushSync()` on the process `exit` event, so `process.exit()` right
   * after appending loses nothing. Default true.
   */
  flushOnExit?: boolean;
  /** The longest `flushSync()` (and so the exit hook) blocks. Default 10 000 ms. */
  flushTimeoutMs?: number;
  /**
   * Also start a new segment when the current one is this old and holds at least one entry.
   * Default 0: rotate by size only. Driven by the writer's own wait timeout, no timers.
   */
  rotateIntervalMs?: number;
  /** Which sealed segments the writer deletes. Default: none; the log keeps everything. */
  retention?: RetentionOptions;
  /**
   * Keep about 1 MiB of zero-filled, synced space ahead of the write position in the open
   * segment, so each commit's fdatasync overwrites allocated blocks instead of growing the
   * file (cheaper: no metadata to journal). Default true. The space is trimmed off when a
   * segment is sealed or the log closed.
   */
  preallocate?: boolean;
  /**
   * What open does with damage it finds. Default `'tolerate-tail'`: only a torn end of the
   * last segment (an interrupted write, never acknowledged) is set aside; any other damage
   * makes open fail with `WAL_CORRUPT` and changes nothing, so no acknowledged entry is ever
   * dropped without a person deciding to. See docs/FORMAT.md "Recovery modes".
   */
  recovery?: RecoveryMode;
  /** Called on open for each drop recovery made (also listed in `wal.recoveryReport`). */
  onCorruption?: CorruptionHandler;
  /**
   * Permission bits of every file the log creates (segments, CHECKPOINT, LOCK, copies set
   * aside by recovery), applied exactly whatever the process umask. Default `0o600`: entries
   * often hold user data, and on a shared host no other user should read them. Give a group
   * read access (`0o640`) for a shipper or backup running as another user. Must include
   * `0o600` (the owner reads and writes). Existing files keep their mode.
   */
  fileMode?: number;
  /**
   * Permission bits of directories `openWal` creates (the log directory and any missing
   * parents). Default: `0o700`, plus search and read for whoever `fileMode` lets read
   * (`0o750` for `fileMode: 0o640`). Must include `0o700`. An existing directory's mode is
   * left alone: set it yourself (docs/DURABILITY.md, "Who can read a log").
   */
  dirMode?: number;
  /**
   * Take over the directory lock even when its holder cannot be told dead from here: a
   * holder in another PID namespace (another container) on a platform without kernel locks,
   * on another host, or with an unreadable lock record. Refused (WAL_LOCKED) while the holder
   * is provably alive. Default false. Use only once you have made sure no process still
   * writes this log: two writers on one log lose acknowledged entries.
   */
  breakLock?: boolean;
  /**
   * How long, in microseconds, the main thread keeps checking for pending acknowledgements
   * between turns of the event loop (from `setImmediate`) instead of sleeping until the writer
   * wakes it; polling stops once nothing is pending or the writer has made no progress for
   * this long. Default 0: no polling. The writer's wake-up costs ~25-35 µs on top of the
   * fdatasync (docs/BENCHMARKS.md): a quarter of an append awaited alone. Polling saves it but
   * keeps a core busy while anything is pending, and event-loop utilization then reads 100%
   * (the loop still runs timers and I/O between checks). For latency-bound servers with few
   * appends in flight and a core to spare; at most 1 000 000.
   */
  ackPollUs?: number;
}

/**
 * Retention deletes whole sealed segments, oldest first, never the one being written, and
 * syncs the directory after. Without `requireCheckpoint` it is a log rotator: a segment goes
 * once any limit is exceeded. With `requireCheckpoint: true` the checkpoint decides: every
 * sealed segment wholly at or below `checkpointLsn` is deleted, and nothing above it ever is,
 * whatever the limits say (they are then not used).
 */
export interface RetentionOptions {
  /** Keep at most this many segments, the one being written included. */
  maxSegments?: number;
  /** Keep at most this many bytes of segments, the one being written included. */
  maxBytes?: number;
  /** Delete a segment once its newest entry is older than this (measured from when it was sealed). */
  maxAgeMs?: number;
  /** Only segments wholly at or below the checkpoint may be deleted, and all of those are. */
  requireCheckpoint?: boolean;
}

export interface FilledRetention {
  maxSegments: number;
  maxBytes: number;
  maxAgeMs: number;
  requireCheckpoint: boolean;
}

export interface FilledOptions {
  sync: SyncMode;
  syncIntervalMs: number;
  ringBytes: number;
  maxEntryBytes: number;
  maxPendingBytes: number;
  segmentBytes: number;
  flushOnExit: boolean;
  flushTimeoutMs: number;
  rotateIntervalMs: number;
  retention: FilledRetention;
  preallocate: boolean;
  recovery: RecoveryMode;
  onCorruption: CorruptionHandler | undefined;
  fileMode: number;
  dirMode: number;
  breakLock: boolean;
  ackPollUs: number;
}

export const DEFAULTS: FilledOptions = {
  sync: 'always',
  syncIntervalMs: 100,
  ringBytes: 4 * 1024 * 1024,
  maxEntryBytes: 64 * 1024 * 1024,
  maxPendingBytes: 64 * 1024 * 1024,
  segmentBytes: 64 * 1024 * 1024,
  flushOnExit: true,
  flushTimeoutMs: 10_000,
  rotateIntervalMs: 0,
  preallocate: true,
  recovery: DEFAULT_RECOVERY,
  onCorruption: undefined,
  fileMode: DEFAULT_FILE_MODE,
  dirMode: DEFAULT_DIR_MODE,
  breakLock: false,
  ackPollUs: 0,
  retention: {
    maxSegments: Number.POSITIVE_INFINITY,
    maxBytes: Number.POSITIVE_INFINITY,
    maxAgeMs: Number.POSITIVE_INFINITY,
    requireCheckpoint: false,
  },
};

/** The largest `maxEntryBytes` allowed, and what readers accept by default. */
export const MAX_ENTRY_BYTES = 1024 ** 3;

const KNOWN = new Set<string>(Object.keys(DEFAULTS));

function invalid(name: string, expected: string, got: unknown): WalError {
  const shown = typeof got === 'string' ? JSON.stringify(got) : String(got);
  const what = name === '' ? 'options' : `options.${name}`;
  return new WalError(ErrorCode.INVALID_OPTION, `${what} must be ${expected}; got ${shown}`);
}

function integerIn(options: WalOptions, name: keyof FilledOptions, min: number, max: number): number {
  const value = (options as Record<string, unknown>)[name];
  if (value === undefined) return DEFAULTS[name] as number;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(name, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

function booleanOf(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalid(name, 'a boolean', value);
  return value;
}

function fillRetention(retention: RetentionOptions | undefined): FilledRetention {
  if (retention === undefined) return { ...DEFAULTS.retention };
  if (retention === null || typeof retention !== 'object') throw invalid('retention', 'an object', retention);
  const known = new Set(['maxSegments', 'maxBytes', 'maxAgeMs', 'requireCheckpoint']);
  for (const key of Object.keys(retention)) {
    if (!known.has(key))
      throw new WalError(ErrorCode.INVALID_OPTION, `options.retention.${key} is not a retention option`);
  }
  const limit = (name: 'maxSegments' | 'maxBytes' | 'maxAgeMs', min: number): number => {
    const value = retention[name];
    if (value === undefined) return Number.POSITIVE_INFINITY;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      throw invalid(`retention.${name}`, `an integer of at least ${min}`, value);
    }
    return value;
  };
  return {
    maxSegments: limit('maxSegments', 1),
    maxBytes: limit('maxBytes', 1),
    maxAgeMs: limit('maxAgeMs', 0),
    requireCheckpoint: booleanOf(retention.requireCheckpoint, 'retention.requireCheckpoint', false),
  };
}

/** A permission mode: an integer of at most 0o777 that grants the owner at least `required`. */
function modeOf(
  options: WalOptions,
  name: 'fileMode' | 'dirMode',
  required: number,
  fallback: number,
): number {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0o777) {
    throw invalid(name, 'a permission mode from 0 to 0o777 (for example 0o600)', value);
  }
  if ((value & required) !== required) {
    throw invalid(
      name,
      `a mode that includes 0o${required.toString(8)} (the log's owner needs it)`,
      `0o${value.toString(8)}`,
    );
  }
  return value;
}

/** A directory mode for files of `fileMode`: rwx for the owner, r-x for whoever may read the files. */
function dirModeFor(fileMode: number): number {
  let mode = DEFAULT_DIR_MODE;
  if (fileMode & 0o040) mode |= 0o050;
  if (fileMode & 0o004) mode |= 0o005;
  return mode;
}

export function fillOptions(options: WalOptions | undefined): FilledOptions {
  if (options === undefined) return { ...DEFAULTS, retention: { ...DEFAULTS.retention } };
  if (options === null || typeof options !== 'object') throw invalid('', 'an object', options);
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) {
      throw new WalError(ErrorCode.INVALID_OPTION, `options.${key} is not an option of openWal`);
    }
  }
  const sync = options.sync ?? DEFAULTS.sync;
  if (sync !== 'always' && sync !== 'interval' && sync !== 'none') {
    throw invalid('sync', "'always', 'interval' or 'none'", sync);
  }
  const ringBytes = integerIn(options, 'ringBytes', 64 * 1024, 1024 ** 3);
  if ((ringBytes & (ringBytes - 1)) !== 0) throw invalid('ringBytes', 'a power of two', ringBytes);
  const maxEntryBytes = integerIn(options, 'maxEntryBytes', 1, MAX_ENTRY_BYTES);
  const fileMode = modeOf(options, 'fileMode', 0o600, DEFAULT_FILE_MODE);
  return {
    sync,
    syncIntervalMs: integerIn(options, 'syncIntervalMs', 1, 3_600_000),
    ringBytes,
    maxEntryBytes,
    maxPendingBytes: Math.max(maxEntryBytes, integerIn(options, 'maxPendingBytes', 0, 2 ** 40)),
    segmentBytes: integerIn(options, 'segmentBytes', 4096, 2 ** 40),
    flushOnExit: booleanOf(options.flushOnExit, 'flushOnExit', DEFAULTS.flushOnExit),
    flushTimeoutMs: integerIn(options, 'flushTimeoutMs', 0, 3_600_000),
    rotateIntervalMs: integerIn(options, 'rotateIntervalMs', 0, 2 ** 40),
    retention: fillRetention(options.retention),
    preallocate: booleanOf(options.preallocate, 'preallocate', DEFAULTS.preallocate),
    recovery: checkRecoveryMode(options.recovery, 'options.recovery'),
    onCorruption: checkCorruptionHandler(options.onCorruption, 'options.onCorruption'),
    fileMode,
    dirMode: modeOf(options, 'dirMode', 0o700, dirModeFor(fileMode)),
    breakLock: booleanOf(options.breakLock, 'breakLock', DEFAULTS.breakLock),
    ackPollUs: integerIn(options, 'ackPollUs', 0, 1_000_000),
  };
}

/** A reader's `dir` argument: a non-empty string, or WAL_INVALID_OPTION. */
export function checkDir(dir: unknown): string {
  if (typeof dir !== 'string' || dir === '') {
    throw new WalError(ErrorCode.INVALID_OPTION, 'dir must be a non-empty string');
  }
  return dir;
}

/** A `threads` option: an integer from 1 to 256, or WAL_INVALID_OPTION naming it. */
export function checkThreads(threads: unknown, name: string): number {
  if (!Number.isInteger(threads) || (threads as number) < 1 || (threads as number) > 256) {
    throw new WalError(ErrorCode.INVALID_OPTION, `${name} must be an integer from 1 to 256; got ${threads}`);
  }
  return threads as number;
}

/**
 * The options every reader takes (`readWal`; `recoverState` uses the same checks), checked
 * and filled. The readers' own types are in src/reader/types.ts; this module only checks.
 */
export function checkReaderOptions(options: {
  follow?: unknown;
  fromLsn?: number;
  maxEntryBytes?: number;
  recovery?: RecoveryMode;
  onCorruption?: CorruptionHandler;
  threads?: number;
  bufferBytes?: number;
}): {
  fromLsn: number;
  maxEntryBytes: number;
  recovery: RecoveryMode;
  onCorruption: CorruptionHandler | undefined;
  threads: number;
  bufferBytes: number;
} {
  if (options === null || typeof options !== 'object') throw invalid('', 'an object', options);
  if (options.follow !== undefined && typeof options.follow !== 'boolean') {
    throw invalid('follow', 'a boolean', options.follow);
  }
  return {
    fromLsn: positiveInteger(options.fromLsn ?? 1, 'options.fromLsn'),
    maxEntryBytes: positiveInteger(options.maxEntryBytes ?? MAX_ENTRY_BYTES, 'options.maxEntryBytes'),
    recovery: checkRecoveryMode(options.recovery, 'options.recovery'),
    onCorruption: checkCorruptionHandler(options.onCorruption, 'options.onCorruption'),
    threads: options.threads === undefined ? 0 : checkThreads(options.threads, 'options.threads'),
    bufferBytes: positiveInteger(options.bufferBytes ?? 16 * 1024 * 1024, 'options.bufferBytes'),
  };
}

/** A follower's options (src/reader/follow.ts) checked and filled. */
export interface CheckedFollowOptions {
  /** null: start at the oldest entry there. */
  fromLsn: number | null;
  maxEntryBytes: number;
  bufferBytes: number;
  pollMs: number;
  readIntervalMs: number;
  signal: AbortSignal | null;
  onDeleted: ((range: { firstLsn: number; lastLsn: number }) => void) | null;
}

/**
 * A follower's options (`readWal(dir, { follow: true })`, `wal.tail()`), checked and filled.
 * A follower reads in one way only: no `threads`, no recovery mode.
 */
export function checkFollowOptions(options: {
  fromLsn?: number;
  maxEntryBytes?: number;
  bufferBytes?: number;
  pollMs?: number;
  readIntervalMs?: number;
  signal?: AbortSignal;
  onDeleted?: (range: { firstLsn: number; lastLsn: number }) => void;
  threads?: number;
  recovery?: RecoveryMode;
  onCorruption?: CorruptionHandler;
}): CheckedFollowOptions {
  if (options === null || typeof options !== 'object') throw invalid('', 'an object', options);
  for (const name of ['threads', 'recovery', 'onCorruption'] as const) {
    if (options[name] !== undefined) {
      throw new WalError(ErrorCode.INVALID_OPTION, `options.${name} cannot be used when following a log`);
    }
  }
  const { signal, onDeleted } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal))
    throw invalid('signal', 'an AbortSignal', signal);
  if (onDeleted !== undefined && typeof onDeleted !== 'function')
    throw invalid('onDeleted', 'a function', onDeleted);
  const pollMs = options.pollMs ?? 100;
  if (!Number.isSafeInteger(pollMs) || pollMs < 1 || pollMs > 60_000) {
    throw invalid('pollMs', 'an integer from 1 to 60000', pollMs);
  }
  const readIntervalMs = options.readIntervalMs ?? 1;
  if (typeof readIntervalMs !== 'number' || !(readIntervalMs >= 0 && readIntervalMs <= 60_000)) {
    throw invalid('readIntervalMs', 'a number of ms from 0 to 60000', readIntervalMs);
  }
  return {
    fromLsn: options.fromLsn === undefined ? null : positiveInteger(options.fromLsn, 'options.fromLsn'),
    maxEntryBytes: positiveInteger(options.maxEntryBytes ?? MAX_ENTRY_BYTES, 'options.maxEntryBytes'),
    bufferBytes: positiveInteger(options.bufferBytes ?? 16 * 1024 * 1024, 'options.bufferBytes'),
    pollMs,
    readIntervalMs,
    signal: signal ?? null,
    onDeleted: onDeleted ?? null,
  };
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new WalError(ErrorCode.INVALID_OPTION, `${name} must be a positive integer; got ${value}`);
  }
  return value;
}
