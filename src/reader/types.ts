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
  /**
   * Follow the log: at the end of what is there, wait for more instead of ending
   * (src/reader/follow.ts; docs/DURABILITY.md "Following a log"). The follower delivers what
   * the files hold, which may include entries written and not yet fdatasync'd; it takes
   * `pollMs`, `readIntervalMs`, `signal` and `onDeleted` (see `FollowOptions`), and neither `threads` nor a
   * recovery mode: damage anywhere but the live tail is WAL_CORRUPT. Without `fromLsn` it
   * starts at the oldest entry there.
   */
  follow?: boolean;
  /** With `follow`: see `FollowOptions.pollMs`. */
  pollMs?: number;
  /** With `follow`: see `FollowOptions.readIntervalMs`. */
  readIntervalMs?: number;
  /** With `follow`: see `FollowOptions.signal`. */
  signal?: AbortSignal;
  /** With `follow`: see `FollowOptions.onDeleted`. */
  onDeleted?: (range: DeletedRange) => void;
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

export interface FollowOptions {
  /**
   * First LSN to deliver. Default: the oldest entry the directory holds. An explicit `fromLsn`
   * whose entry retention has already deleted is a deleted range (see `onDeleted`).
   */
  fromLsn?: number;
  /** Largest entry accepted, on top of the bounds each segment header records. Default 1 GiB. */
  maxEntryBytes?: number;
  /** The most bytes of file read ahead and held. Default 16 MiB. */
  bufferBytes?: number;
  /**
   * From another process (`readWal(dir, { follow: true })`): how often, in ms, the files are
   * looked at when no file-system notification came. Default 100.
   */
  pollMs?: number;
  /**
   * Least time in ms between two reads of the log's end. Default 1. Under a high append rate
   * there is more at every group commit; a read costs about as much for one entry as for a
   * thousand, so a follower that read at each one took a quarter of the main thread and a fifth
   * of the append rate at 64 appends in flight (measured). It delays an entry by at most this
   * much; 0 reads as soon as there is more.
   */
  readIntervalMs?: number;
  /** Ends the follow: the iterator finishes (done) once it sees the signal aborted. */
  signal?: AbortSignal;
  /**
   * Entries the follower could not deliver because retention deleted them first. Without a
   * handler the iterator throws WAL_SEGMENT_DELETED (its `firstLsn` and `lastLsn` give the
   * range); with one, the handler is called and the follower goes on after the range.
   */
  onDeleted?: (range: DeletedRange) => void;
}

export interface DeletedRange {
  firstLsn: number;
  lastLsn: number;
}

/** An entry as stored: its msgpack value undecoded (the caller's to keep). */
export interface RawEntry {
  lsn: number;
  ts: number;
  bytes: Uint8Array;
}

/**
 * Where a follower's entries come from and how it learns of more: a directory it watches
 * (src/reader/directory-watch.ts), or a log open in this process (src/wal.ts).
 */
export interface FollowSource {
  readonly dir: string;
  /** The highest LSN that may be delivered now (Infinity: whatever the files hold). */
  limit(): number;
  /**
   * Resolves true once there may be more than `lsn` to deliver, false once nothing more will
   * come (the log closed); rejects with the log's error once it failed. Once `signal` aborts it
   * may resolve true at once, and must let go of whatever keeps the process alive for it.
   */
  changed(lsn: number, signal?: AbortSignal): Promise<boolean>;
  /** Releases what the source holds (watchers, timers). */
  close(): void;
}
