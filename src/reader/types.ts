/**
 * The readers' public types (`readWal`'s options and entries) and the options as checked once
 * at the entry point, which both readers (src/reader/read-wal.ts, src/reader/parallel-read.ts)
 * take.
 */
import type { CorruptionHandler, ReaderPolicy, RecoveryMode } from './policy.js';

export interface ReadOptions {
  /** First LSN to deliver. Default 1. */
  fromLsn?: number;
  /**
   * Largest entry this reader accepts, on top of the bounds each segment header records.
   * Default 1 GiB (the most `openWal` allows).
   */
  maxEntryBytes?: number;
  /**
   * What the reader does with damage (docs/FORMAT.md "Recovery modes"). Default
   * `'tolerate-tail'`. A reader never changes a file, and cannot tell a torn end of the last
   * segment from a write in progress, so that end is always just the end of what it
   * delivers; `'strict'` and `'tolerate-tail'` throw WAL_CORRUPT for any other damage,
   * `'point-in-time'` reports it and stops, `'skip-corrupt'` reports it and goes on.
   */
  recovery?: RecoveryMode;
  /** Called for each piece of damage the reader passes over (`'point-in-time'`, `'skip-corrupt'`). */
  onCorruption?: CorruptionHandler;
  /**
   * Read on a pool of this many worker threads (src/reader/parallel-read.ts): each reads and
   * verifies ranges of segments, the caller's thread only decodes. Same entries, order and
   * errors. Default: none, the sequential reader (no pool to start; best for small reads and
   * for following a live log).
   */
  threads?: number;
  /**
   * The most bytes read ahead and held: with `threads`, of entries in ranges read by the
   * pool; without, of file read in two buffers (at most 1 MiB each, at least 16 KiB), the next
   * read under way while the last one is decoded. One entry larger than that still fits.
   * Default 16 MiB.
   */
  bufferBytes?: number;
}

export interface WalEntry {
  lsn: number;
  /** When the writer took the entry for its group commit (after the append, before its ack), ms since the Unix epoch. */
  ts: number;
  value: unknown;
}

/** `ReadOptions` checked and filled in (`checkReadOptions`): the recovery mode and handler become one policy. */
export interface CheckedReadOptions {
  fromLsn: number;
  maxEntryBytes: number;
  policy: ReaderPolicy;
  /** 0: the sequential reader. */
  threads: number;
  bufferBytes: number;
}
