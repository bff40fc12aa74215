/**
 * Public options (every field optional, each documented with its default and trade-off)
 * and the filled form the rest of the code uses. Validation happens once, here, and every
 * message names the option.
 */
import { ErrorCode, WalError } from './errors.js';

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
};

/** The largest `maxEntryBytes` allowed, and what readers accept by default. */
export const MAX_ENTRY_BYTES = 1024 ** 3;

const KNOWN = new Set<string>(Object.keys(DEFAULTS));

function invalid(name: string, expected: string, got: unknown): WalError {
  const shown = typeof got === 'string' ? JSON.stringify(got) : String(got);
  return new WalError(ErrorCode.INVALID_OPTION, `options.${name} must be ${expected}; got ${shown}`);
}

function integerIn(options: WalOptions, name: keyof FilledOptions, min: number, max: number): number {
  const value = (options as Record<string, unknown>)[name];
  if (value === undefined) return DEFAULTS[name] as number;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(name, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

function booleanOf(options: WalOptions, name: 'flushOnExit'): boolean {
  const value = options[name];
  if (value === undefined) return DEFAULTS[name];
  if (typeof value !== 'boolean') throw invalid(name, 'a boolean', value);
  return value;
}

export function fillOptions(options: WalOptions | undefined): FilledOptions {
  if (options === undefined) return { ...DEFAULTS };
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
  return {
    sync,
    syncIntervalMs: integerIn(options, 'syncIntervalMs', 1, 3_600_000),
    ringBytes,
    maxEntryBytes,
    maxPendingBytes: Math.max(maxEntryBytes, integerIn(options, 'maxPendingBytes', 0, 2 ** 40)),
    segmentBytes: integerIn(options, 'segmentBytes', 4096, 2 ** 40),
    flushOnExit: booleanOf(options, 'flushOnExit'),
    flushTimeoutMs: integerIn(options, 'flushTimeoutMs', 0, 3_600_000),
  };
}
