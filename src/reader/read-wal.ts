/**
 * `readWal`: every entry of a log directory in LSN order, read sequentially with
 * asynchronous I/O. It never changes a file, so it can read a directory another process is
 * writing: the last segment is read up to its last complete, valid entry (the writer may be
 * in the middle of the next one), and segments created meanwhile are picked up.
 *
 * The readers produce entries in batches (`readWalBatches`); `readWal` hands them out one by
 * one (src/reader/entry-iterator.ts). Reads are large, into two reused buffers, the next one
 * under way while the current one is parsed and decoded (src/reader/read-ahead.ts); each run
 * of records the walk hands out is decoded in place in the read buffer
 * (src/reader/decode-batches.ts; docs/BENCHMARKS.md "Session 8").
 */

import { segmentReadError } from '../errors.js';
import { type ScanResult, scanSegment, summarize } from '../format/segment-scanner.js';
import { openRegularFile } from '../fs.js';
import { checkDir, checkReaderOptions } from '../options.js';
import type { SegmentFile } from '../segment/naming.js';
import { decodeRunInBatches } from './decode-batches.js';
import { EntryIterator } from './entry-iterator.js';
import { followDirectory } from './follow.js';
import { readParallel } from './parallel-read.js';
import { ReaderPolicy } from './policy.js';
import { chunkBytesWithin, ReadAhead } from './read-ahead.js';
import { Breather } from './segment-list.js';
import { SegmentWalk } from './segment-walk.js';
import type { CheckedReadOptions, ReadOptions, WalEntry } from './types.js';

export type { ReadOptions, WalEntry } from './types.js';

/** The readers' options checked (src/options.ts `checkReaderOptions`), the mode and handler made one policy. */
export function checkReadOptions(options: ReadOptions): CheckedReadOptions {
  const { recovery, onCorruption, ...rest } = checkReaderOptions(options);
  return { ...rest, policy: new ReaderPolicy(recovery, onCorruption) };
}

export function readWal(dir: string, options: ReadOptions = {}): AsyncGenerator<WalEntry, void, undefined> {
  return new EntryIterator(readWalBatches(dir, options));
}

/** `readWal` with `follow: true`: checked at the call, as the plain reader checks at its first step. */
function follow(dir: string, options: ReadOptions): AsyncGenerator<WalEntry[], void, undefined> {
  const { follow: _, ...rest } = options;
  return followDirectory(checkDir(dir), rest);
}

/**
 * `readWal`'s entries in arrays of up to 1,024 (BATCH_ENTRIES), in order: the same entries, reports
 * and errors, for a caller that handles many at a time. Each array is the caller's to keep.
 */
export async function* readWalBatches(
  dir: string,
  options: ReadOptions = {},
): AsyncGenerator<WalEntry[], void, undefined> {
  if (options?.follow === true) {
    yield* follow(dir, options);
    return;
  }
  checkDir(dir);
  const checked = checkReadOptions(options);
  if (checked.threads > 0) yield* readParallel(dir, checked);
  else yield* readSequential(dir, checked);
}

async function* readSequential(
  dir: string,
  options: CheckedReadOptions,
): AsyncGenerator<WalEntry[], void, undefined> {
  const { fromLsn, maxEntryBytes, policy } = options;
  const breather = new Breather();
  const skipCorrupt = policy.mode === 'skip-corrupt';
  const walk = new SegmentWalk(dir, policy);
  if (!(await walk.start(fromLsn))) return;
  // Two buffers of reads, together within bufferBytes (one record may exceed a chunk).
  const chunkBytes = chunkBytesWithin(options.bufferBytes);
  let nextLsn = fromLsn; // next LSN to deliver
  let segment = await walk.next();
  while (segment) {
    // Read again ('again' below), a segment is read from its start: only entries after the
    // last one delivered are yielded.
    const batches = scanFile(segment, chunkBytes, maxEntryBytes, nextLsn, skipCorrupt, policy);
    let result: ScanResult;
    try {
      while (true) {
        let step: IteratorResult<WalEntry[], ScanResult>;
        try {
          step = await batches.next();
        } catch (e) {
          throw segmentReadError(segment.path, e);
        }
        if (step.done) {
          result = step.value;
          break;
        }
        const batch = step.value;
        nextLsn = batch[batch.length - 1].lsn + 1;
        yield batch;
        if (breather.dueAfter(batch.length)) await breather.turn();
      }
    } finally {
      await batches.return(undefined as unknown as ScanResult); // closes the file if the caller stopped early
    }
    const then = await walk.finish(segment, summarize(result));
    if (then === 'stop') return;
    if (then === 'next') segment = await walk.next();
  }
}

/** Scans one file, yielding its decoded entries from `fromLsn` on in batches (src/reader/decode-batches.ts). */
async function* scanFile(
  segment: SegmentFile,
  chunkBytes: number,
  maxEntryBytes: number,
  fromLsn: number,
  skipCorrupt: boolean,
  policy: ReaderPolicy,
): AsyncGenerator<WalEntry[], ScanResult, undefined> {
  const handle = await openRegularFile(segment.path);
  let reads: ReadAhead | null = null;
  try {
    const fileSize = (await handle.stat()).size;
    reads = new ReadAhead(handle, fileSize, chunkBytes);
    const walk = scanSegment(fileSize, {
      maxEntryBytes,
      skipCorrupt,
      chunkBytes: reads.chunkBytes,
      nameFirstLsn: segment.firstLsn,
    });
    let reply: Uint8Array | undefined;
    while (true) {
      const step = walk.next(reply);
      if (step.done) return step.value;
      reply = undefined;
      const item = step.value;
      if (item.kind === 'read') {
        reply = await reads.read(item.position, item.length);
      } else if (item.kind === 'skip') {
        policy.skipped(segment.name, item.damage);
      } else {
        // Decoded before the walk goes on: the run's bytes may be a buffer the next read reuses.
        yield* decodeRunInBatches(item, segment.path, fromLsn);
      }
    }
  } finally {
    await reads?.settle();
    await handle.close();
  }
}
