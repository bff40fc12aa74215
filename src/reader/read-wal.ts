/**
 * `readWal`: every entry of a log directory in LSN order, read sequentially with
 * asynchronous I/O. It never changes a file, so it can read a directory another process is
 * writing: the last segment is read up to its last complete, valid entry (the writer may be
 * in the middle of the next one), and segments created meanwhile are picked up.
 */
import type * as fs from 'node:fs';
import { decodeStored } from '../encoding.js';
import { ErrorCode, WalError } from '../errors.js';
import { type ScanResult, scanSegment, summarize } from '../format/segment-scanner.js';
import { MAX_ENTRY_BYTES } from '../options.js';
import type { SegmentFile } from '../segment/naming.js';
import { readParallel } from './parallel-read.js';
import {
  type CorruptionHandler,
  checkCorruptionHandler,
  checkRecoveryMode,
  ReaderPolicy,
  type RecoveryMode,
} from './policy.js';
import { Breather, checkDir, openSegment, segmentReadError } from './segment-list.js';
import { SegmentWalk } from './segment-walk.js';

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
  /** With `threads`: the most bytes of entries read ahead and held. Default 16 MiB. */
  bufferBytes?: number;
}

export interface WalEntry {
  lsn: number;
  /** When the writer took the entry for its group commit (after the append, before its ack), ms since the Unix epoch. */
  ts: number;
  value: unknown;
}

interface CheckedReadOptions {
  fromLsn: number;
  maxEntryBytes: number;
  policy: ReaderPolicy;
  threads: number;
  bufferBytes: number;
}

export function checkReadOptions(options: ReadOptions): CheckedReadOptions {
  if (options === null || typeof options !== 'object') {
    throw new WalError(ErrorCode.INVALID_OPTION, 'options must be an object');
  }
  const fromLsn = options.fromLsn ?? 1;
  if (!Number.isSafeInteger(fromLsn) || fromLsn < 1) {
    throw new WalError(
      ErrorCode.INVALID_OPTION,
      `options.fromLsn must be a positive integer; got ${fromLsn}`,
    );
  }
  const maxEntryBytes = options.maxEntryBytes ?? MAX_ENTRY_BYTES;
  if (!Number.isSafeInteger(maxEntryBytes) || maxEntryBytes < 1) {
    throw new WalError(
      ErrorCode.INVALID_OPTION,
      `options.maxEntryBytes must be a positive integer; got ${maxEntryBytes}`,
    );
  }
  const policy = new ReaderPolicy(
    checkRecoveryMode(options.recovery, 'options.recovery'),
    checkCorruptionHandler(options.onCorruption, 'options.onCorruption'),
  );
  const threads = options.threads ?? 0;
  if (options.threads !== undefined && (!Number.isInteger(threads) || threads < 1 || threads > 256)) {
    throw new WalError(
      ErrorCode.INVALID_OPTION,
      `options.threads must be an integer from 1 to 256; got ${threads}`,
    );
  }
  const bufferBytes = options.bufferBytes ?? 16 * 1024 * 1024;
  if (!Number.isSafeInteger(bufferBytes) || bufferBytes < 1) {
    throw new WalError(
      ErrorCode.INVALID_OPTION,
      `options.bufferBytes must be a positive integer; got ${bufferBytes}`,
    );
  }
  return { fromLsn, maxEntryBytes, policy, threads, bufferBytes };
}

export async function* readWal(
  dir: string,
  options: ReadOptions = {},
): AsyncGenerator<WalEntry, void, undefined> {
  checkDir(dir);
  const checked = checkReadOptions(options);
  if (checked.threads > 0) {
    yield* readParallel(dir, checked);
    return;
  }
  const { fromLsn, maxEntryBytes, policy } = checked;
  const breather = new Breather();
  const skipCorrupt = policy.mode === 'skip-corrupt';
  const walk = new SegmentWalk(dir, policy);
  if (!(await walk.start(fromLsn))) return;
  let nextLsn = fromLsn; // next LSN to deliver
  let segment = await walk.next();
  while (segment) {
    let result: ScanResult;
    try {
      // Read again ('again' below), a segment is read from its start: only entries after the
      // last one delivered are yielded.
      const batches = scanFile(segment, maxEntryBytes, nextLsn, skipCorrupt, policy);
      while (true) {
        const step = await batches.next();
        if (step.done) {
          result = step.value;
          break;
        }
        for (const entry of step.value) {
          yield entry;
          nextLsn = entry.lsn + 1;
          if (breather.due()) await breather.turn();
        }
      }
    } catch (e) {
      throw segmentReadError(segment.path, e);
    }
    const then = await walk.finish(segment, summarize(result));
    if (then === 'stop') return;
    if (then === 'next') segment = await walk.next();
  }
}

/** Entries are handed over in batches of this many, bounding what one read holds decoded. */
const BATCH_ENTRIES = 1024;

/** Scans one file with asynchronous reads, yielding decoded entries from `fromLsn` in batches. */
async function* scanFile(
  segment: SegmentFile,
  maxEntryBytes: number,
  fromLsn: number,
  skipCorrupt: boolean,
  policy: ReaderPolicy,
): AsyncGenerator<WalEntry[], ScanResult, undefined> {
  const handle = await openSegment(segment.path);
  try {
    const walk = scanSegment((await handle.stat()).size, { maxEntryBytes, skipCorrupt });
    let batch: WalEntry[] = [];
    let reply: Uint8Array | undefined;
    while (true) {
      const step = walk.next(reply);
      if (step.done) {
        if (batch.length > 0) yield batch;
        return step.value;
      }
      reply = undefined;
      const item = step.value;
      if (item.kind === 'read') {
        if (batch.length >= BATCH_ENTRIES) {
          yield batch;
          batch = [];
        }
        reply = await readAt(handle, item.position, item.length);
      } else if (item.kind === 'skip') {
        policy.skipped(segment.name, item.damage);
      } else if (item.lsn >= fromLsn) {
        batch.push({
          lsn: item.lsn,
          ts: item.ts,
          value: decodeStored(item.payload, segment.path, item.offset),
        });
      }
    }
  } finally {
    await handle.close();
  }
}

async function readAt(handle: fs.promises.FileHandle, position: number, length: number): Promise<Uint8Array> {
  const buffer = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await handle.read(buffer, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === length ? buffer : buffer.subarray(0, got);
}
