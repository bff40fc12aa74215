/**
 * Following a log: a reader that reaches the end of what is there and waits for more instead
 * of ending (`readWal(dir, { follow: true })`, `wal.tail()`, and the shipper's raw follower).
 *
 * The follower keeps a cursor: the segment it is in, the file offset just past the last entry
 * it consumed and the LSN expected there. Each pass reads that segment from the cursor to the
 * file's current end (the header is checked again, the rest is not read twice), delivers what
 * the source allows (`FollowSource.limit`: the durable LSN in the writer's process, whatever
 * the files hold in another), and moves to the next segment only once the current one is
 * sealed: a later segment exists and the file did not grow after it appeared. Between passes
 * it waits for the source to say there may be more.
 *
 * A range retention deleted before the follower read it is reported with its LSNs (`onDeleted`,
 * or WAL_SEGMENT_DELETED), never skipped silently. Memory is bounded whatever the lag: entries
 * are read in chunks within `bufferBytes` and handed out in batches of at most BATCH_ENTRIES,
 * only as fast as the caller takes them.
 */
import * as fs from 'node:fs';
import { decodeStoredAt } from '../encoding.js';
import { corruptError, ErrorCode, segmentReadError, WalError } from '../errors.js';
import type { EntryRun } from '../format/entry-run.js';
import { type ScanResult, scanSegment } from '../format/segment-scanner.js';
import { openRegularFile } from '../fs.js';
import { type CheckedFollowOptions, checkFollowOptions } from '../options.js';
import type { SegmentFile } from '../segment/naming.js';
import { BATCH_ENTRIES } from './decode-batches.js';
import { DirectoryWatch } from './directory-watch.js';
import { chunkBytesWithin, ReadAhead } from './read-ahead.js';
import { listSegmentsAsync } from './segment-list.js';
import type { DeletedRange, FollowOptions, FollowSource, RawEntry, WalEntry } from './types.js';

export type { DeletedRange, FollowOptions, FollowSource, RawEntry } from './types.js';

/** The smallest read at the live end of a segment (see `Follower.liveChunkBytes`). */
const LIVE_CHUNK_MIN = 16 * 1024;

/** How stale `bytesBehind()` may be before it measures again. */
const BEHIND_REFRESH_MS = 250;

/** Turns a run's entries into what the follower hands out: decoded or raw. */
interface Take<T> {
  /** Called with each run before its entries are taken. */
  run?(run: EntryRun): void;
  entry(run: EntryRun, k: number, path: string): T;
}

const takeDecoded: Take<WalEntry> = {
  entry: (run, k, path) => ({
    lsn: run.lsns[k],
    ts: run.ts[k],
    value: decodeStoredAt(run.bytes, run.starts[k], run.ends[k], path, run.offsets[k]),
  }),
};

/**
 * Raw entries. A run's bytes are a read buffer the next read reuses, so they are copied: once
 * per run, each entry a view of the copy (a copy per entry cost the shipper most of its time).
 */
function takeRaw(): Take<RawEntry> {
  let copy: Uint8Array = new Uint8Array(0);
  let base = 0;
  return {
    run(run) {
      base = run.count > 0 ? run.starts[0] : 0;
      copy = run.count > 0 ? run.bytes.slice(base, run.ends[run.count - 1]) : new Uint8Array(0);
    },
    entry: (run, k) => ({
      lsn: run.lsns[k],
      ts: run.ts[k],
      bytes: copy.subarray(run.starts[k] - base, run.ends[k] - base),
    }),
  };
}

/** Decoded entries of a directory another process may be writing, following it. */
export function followDirectory(dir: string, options: FollowOptions = {}): Follower<WalEntry> {
  const checked = checkFollowOptions(options);
  return new Follower(new DirectoryWatch(dir, checked.pollMs), checked, takeDecoded);
}

/** Raw entries (values undecoded) of a directory, following it. */
export function followRaw(dir: string, options: FollowOptions = {}): Follower<RawEntry> {
  const checked = checkFollowOptions(options);
  return new Follower(new DirectoryWatch(dir, checked.pollMs), checked, takeRaw());
}

/** Decoded or raw entries from `source` (a log open in this process). */
export function followSource<T extends 'decoded' | 'raw'>(
  source: FollowSource,
  options: FollowOptions,
  form: T,
): Follower<T extends 'raw' ? RawEntry : WalEntry> {
  const checked = checkFollowOptions(options);
  const take = (form === 'raw' ? takeRaw() : takeDecoded) as Take<T extends 'raw' ? RawEntry : WalEntry>;
  return new Follower(source, checked, take);
}

interface Cursor {
  segment: SegmentFile;
  handle: fs.promises.FileHandle | null;
  /** File offset just past the last entry consumed; 0: read from the segment's start. */
  offset: number;
  /** LSN of the entry at `offset` (for offset 0: the segment's first). */
  lsn: number;
  /** A later segment was seen after a read of this one began. */
  sealed: boolean;
  /** Where the last read found the segment's data to end (its last complete entry). */
  dataEnd: number;
}

/**
 * The entries of a source in LSN order, in arrays of up to BATCH_ENTRIES, waiting for more at
 * the end: an async generator of batches, plus `position` and `bytesBehind()`.
 */
export class Follower<T extends { lsn: number }> implements AsyncGenerator<T[], void, undefined> {
  private nextLsn: number;
  /** Whether a missing first LSN is a deleted range (it was asked for, or entries were read). */
  private startReported: boolean;
  private cursor: Cursor | null = null;
  private readonly chunkBytes: number;
  /**
   * Read size at the live end of a segment: about twice what the last pass there consumed
   * (from LIVE_CHUNK_MIN up to `chunkBytes`). The file past the live end is preallocated zeros;
   * reading a full chunk of them (and a chunk ahead) at every wake-up cost more than the entries.
   */
  private liveChunkBytes = LIVE_CHUNK_MIN;
  private readonly batches: AsyncGenerator<T[], void, undefined>;

  constructor(
    private readonly source: FollowSource,
    private readonly options: CheckedFollowOptions,
    private readonly take: Take<T>,
  ) {
    this.startReported = options.fromLsn !== null;
    this.nextLsn = options.fromLsn ?? 1;
    this.chunkBytes = chunkBytesWithin(options.bufferBytes);
    this.batches = this.run();
  }

  /** The next LSN the follower will deliver. */
  get position(): number {
    return this.nextLsn;
  }

  /**
   * Bytes of the log's files after the last entry delivered: the rest of the current segment
   * and every later one (record headers included). The live segment's preallocated zeros are
   * left out once the follower is in it; while it is behind it, that segment counts its whole
   * allocated size, so the figure is high by up to one preallocation (a few hundred KiB). Cheap to call often: it answers from the last measure, and measures again
   * in the background (listing the directory) when that is older than BEHIND_REFRESH_MS.
   */
  bytesBehind(): number {
    if (!this.measuring && performance.now() - this.behindAt >= BEHIND_REFRESH_MS) {
      this.measuring = true;
      this.measureBehind()
        .then((bytes) => {
          this.behind = bytes;
        })
        .catch(() => {}) // a directory that cannot be listed: the reader reports it
        .finally(() => {
          this.behindAt = performance.now();
          this.measuring = false;
        });
    }
    return this.behind;
  }

  private behind = 0;
  private behindAt = Number.NEGATIVE_INFINITY;
  private measuring = false;

  private async measureBehind(): Promise<number> {
    const cursor = this.cursor;
    const segments = await listSegmentsAsync(this.source.dir);
    let bytes = 0;
    for (const [i, segment] of segments.entries()) {
      if (cursor && segment.firstLsn < cursor.segment.firstLsn) continue;
      if (cursor && segment.name === cursor.segment.name && i === segments.length - 1) {
        // The live tail: its size counts preallocated zeros; its last read found where data ends.
        bytes += Math.max(0, cursor.dataEnd - cursor.offset);
        continue;
      }
      let size = 0;
      try {
        size = (await fs.promises.stat(segment.path)).size; // sealed segments end at their data
      } catch {
        // Deleted meanwhile.
      }
      bytes += cursor && segment.name === cursor.segment.name ? Math.max(0, size - cursor.offset) : size;
    }
    return bytes;
  }

  next(): Promise<IteratorResult<T[], void>> {
    return this.batches.next();
  }

  return(): Promise<IteratorResult<T[], void>> {
    return this.batches.return(undefined);
  }

  throw(error: unknown): Promise<IteratorResult<T[], void>> {
    return this.batches.throw(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.return();
  }

  private aborted(): boolean {
    return this.options.signal?.aborted === true;
  }

  private async *run(): AsyncGenerator<T[], void, undefined> {
    try {
      while (!this.aborted()) {
        yield* this.pass(this.source.limit());
        const passEnd = performance.now();
        if (this.aborted()) return;
        const more = await this.waitForMore();
        // Under a high append rate more comes at every group commit: gather some before the
        // next read (a read of the live end costs the same for one entry as for a thousand).
        const wait = this.options.readIntervalMs - (performance.now() - passEnd);
        if (more && wait > 0 && !this.aborted()) await new Promise((resolve) => setTimeout(resolve, wait));
        if (!more) {
          // The log closed: what it made durable before closing is delivered, then the end.
          yield* this.pass(this.source.limit());
          return;
        }
      }
    } finally {
      this.source.close();
      await this.closeCursor();
    }
  }

  /** Waits until the source may have more, or the signal aborts (then true: the loop sees it). */
  private waitForMore(): Promise<boolean> {
    const signal = this.options.signal;
    const changed = this.source.changed(this.nextLsn - 1, signal ?? undefined);
    if (!signal) return changed;
    return new Promise<boolean>((resolve, reject) => {
      const onAbort = (): void => resolve(true);
      signal.addEventListener('abort', onAbort, { once: true });
      changed.then(
        (more) => {
          signal.removeEventListener('abort', onAbort);
          resolve(more);
        },
        (error) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
    });
  }

  /** Delivers what the files hold from the cursor on, up to `limit`, moving across sealed segments. */
  private async *pass(limit: number): AsyncGenerator<T[], void, undefined> {
    while (this.nextLsn <= limit && !this.aborted()) {
      const cursor = this.cursor ?? (await this.locate());
      if (!cursor) return; // no segment yet
      if (!cursor.handle) {
        try {
          cursor.handle = await openRegularFile(cursor.segment.path);
        } catch (cause) {
          const error = segmentReadError(cursor.segment.path, cause);
          if ((error as WalError).code !== ErrorCode.SEGMENT_DELETED) throw error;
          this.cursor = null; // deleted since it was listed: locate again (reports what is lost)
          continue;
        }
      }
      const scannedSize = (await cursor.handle.stat()).size;
      const result = yield* this.scan(cursor, scannedSize, limit);
      if (result === null) return;
      cursor.dataEnd = result.validEnd;
      if (this.nextLsn > limit) return;
      // The end of what the file held: go on only once the segment is sealed (a later one
      // exists) or gone (retention deleted it, or the next open set it aside).
      const segments = await listSegmentsAsync(this.source.dir);
      const present = segments.some((s) => s.name === cursor.segment.name);
      const next = segments.find((s) => s.firstLsn > cursor.segment.firstLsn);
      if (present && !next) return; // the live tail (a bad header too: the writer may not have written it yet)
      if (!cursor.sealed) {
        // Written to until it was sealed (in preallocated space, so its size says nothing): the
        // writer syncs a segment before it creates the next, so one more read sees all of it.
        cursor.sealed = true;
        continue;
      }
      if (!present || !next) {
        // Read to its end through the open file; what comes next is found by LSN, and a range
        // deleted unread is reported (locate).
        await this.closeCursor();
        this.cursor = null;
        continue;
      }
      checkSealedEnd(cursor, result, next);
      await this.closeCursor();
      this.cursor = { segment: next, handle: null, offset: 0, lsn: next.firstLsn, sealed: false, dataEnd: 0 };
    }
  }

  /**
   * Reads the cursor's segment from the cursor to `fileSize`, delivering the entries from
   * `nextLsn` to `limit` and moving the cursor past each entry consumed. Null if the signal
   * aborted meanwhile.
   */
  private async *scan(
    cursor: Cursor,
    fileSize: number,
    limit: number,
  ): AsyncGenerator<T[], ScanResult | null, undefined> {
    const path = cursor.segment.path;
    const chunk = cursor.sealed ? this.chunkBytes : Math.min(this.chunkBytes, this.liveChunkBytes);
    const reads = new ReadAhead(
      cursor.handle as fs.promises.FileHandle,
      fileSize,
      chunk - (chunk % 8),
      cursor.sealed,
    );
    const from = cursor.offset;
    const walk = scanSegment(fileSize, {
      maxEntryBytes: this.options.maxEntryBytes,
      chunkBytes: reads.chunkBytes,
      nameFirstLsn: cursor.segment.firstLsn,
      startAt: cursor.offset > 0 ? { offset: cursor.offset, lsn: cursor.lsn } : undefined,
      // Past the live end lie the writer's next bytes and preallocated zeros: searching them at
      // every wake-up cost O(preallocation) each. A sealed segment's last read searches, once,
      // so that damage followed by valid records is reported (checkSealedEnd).
      searchPastStop: cursor.sealed,
    });
    try {
      let reply: Uint8Array | undefined;
      while (true) {
        const step = walk.next(reply);
        if (step.done) {
          if (!cursor.sealed) {
            const consumed = cursor.offset - from;
            this.liveChunkBytes = Math.max(
              LIVE_CHUNK_MIN,
              Math.min(this.chunkBytes, 2 ** Math.ceil(Math.log2(2 * consumed + 1))),
            );
          }
          return step.value;
        }
        reply = undefined;
        const item = step.value;
        if (item.kind === 'read') {
          try {
            reply = await reads.read(item.position, item.length);
          } catch (e) {
            throw segmentReadError(path, e);
          }
        } else if (item.kind === 'entries') {
          // Consumed before the walk goes on: the run's bytes may be a buffer the next read reuses.
          this.take.run?.(item);
          let batch: T[] = [];
          for (let k = 0; k < item.count; k++) {
            const lsn = item.lsns[k];
            if (lsn > limit) break;
            if (lsn >= this.nextLsn) {
              let entry: T;
              try {
                entry = this.take.entry(item, k, path);
              } catch (error) {
                if (batch.length > 0) yield batch; // every entry before the bad one is delivered
                throw error;
              }
              batch.push(entry);
              this.nextLsn = lsn + 1;
              this.startReported = true;
            }
            cursor.offset = item.fileEnds[k];
            cursor.lsn = lsn + 1;
            if (batch.length === BATCH_ENTRIES) {
              yield batch;
              batch = [];
              if (this.aborted()) return null;
            }
          }
          if (batch.length > 0) yield batch;
          if (this.aborted()) return null;
        }
      }
    } finally {
      await reads.settle();
    }
  }

  /**
   * A cursor for the next LSN to deliver: the segment holding it. Entries below the oldest
   * segment were deleted: reported, unless the follower was only told to start at the oldest.
   */
  private async locate(): Promise<Cursor | null> {
    const segments = await listSegmentsAsync(this.source.dir);
    if (segments.length === 0) return null;
    let index = segments.findLastIndex((s) => s.firstLsn <= this.nextLsn);
    if (index < 0) {
      const oldest = segments[0];
      if (this.startReported) this.deleted({ firstLsn: this.nextLsn, lastLsn: oldest.firstLsn - 1 });
      this.nextLsn = oldest.firstLsn;
      index = 0;
    }
    this.startReported = true;
    const segment = segments[index];
    this.cursor = { segment, handle: null, offset: 0, lsn: segment.firstLsn, sealed: false, dataEnd: 0 };
    return this.cursor;
  }

  private deleted(range: DeletedRange): void {
    const handler = this.options.onDeleted;
    if (!handler) throw segmentDeleted(this.source.dir, range);
    handler(range);
  }

  private async closeCursor(): Promise<void> {
    const handle = this.cursor?.handle;
    if (this.cursor) this.cursor.handle = null;
    await handle?.close();
  }
}

/**
 * A sealed segment read to its end must end cleanly, with the entry before the next segment's
 * first: anything else is damage no later write can mend.
 */
function checkSealedEnd(cursor: Cursor, result: ScanResult, next: SegmentFile): void {
  const path = cursor.segment.path;
  if (result.stop === 'bad-header') {
    throw corruptError(path, 0, `bad segment header: ${result.reason ?? 'invalid'}`);
  }
  const damage = result.damage;
  if (damage && !(damage.stop === 'zeros' && damage.next < 0)) {
    throw corruptError(path, damage.offset, damage.reason);
  }
  if (cursor.lsn !== next.firstLsn) {
    throw corruptError(
      path,
      cursor.offset,
      `the segment ends at LSN ${cursor.lsn - 1} and the next one (${next.name}) starts at ${next.firstLsn}`,
    );
  }
}

/** WAL_SEGMENT_DELETED for entries a follower could not read: retention deleted them first. */
export function segmentDeleted(dir: string, range: DeletedRange): WalError {
  return new WalError(
    ErrorCode.SEGMENT_DELETED,
    `entries ${range.firstLsn} to ${range.lastLsn} of ${dir} were deleted (by retention) before this reader got to them`,
    { path: dir, firstLsn: range.firstLsn, lastLsn: range.lastLsn },
  );
}
