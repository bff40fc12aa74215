/**
 * `readWal`: every entry of a log directory in LSN order, read sequentially with
 * asynchronous I/O. It never changes a file, so it can read a directory another process is
 * writing: the last segment is read up to its last complete, valid entry (the writer may be
 * in the middle of the next one), and segments created meanwhile are picked up.
 */

import type * as fs from 'node:fs';
import { decodeStored } from '../encoding.js';
import { segmentReadError } from '../errors.js';
import { type ScanResult, scanSegment, summarize } from '../format/segment-scanner.js';
import { openRegularFile } from '../fs.js';
import { checkDir, checkReaderOptions } from '../options.js';
import type { SegmentFile } from '../segment/naming.js';
import { readParallel } from './parallel-read.js';
import { ReaderPolicy } from './policy.js';
import { Breather } from './segment-list.js';
import { SegmentWalk } from './segment-walk.js';
import type { CheckedReadOptions, ReadOptions, WalEntry } from './types.js';

export type { ReadOptions, WalEntry } from './types.js';

/** The readers' options checked (src/options.ts `checkReaderOptions`), the mode and handler made one policy. */
export function checkReadOptions(options: ReadOptions): CheckedReadOptions {
  const { recovery, onCorruption, ...rest } = checkReaderOptions(options);
  return { ...rest, policy: new ReaderPolicy(recovery, onCorruption) };
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
    // Read again ('again' below), a segment is read from its start: only entries after the
    // last one delivered are yielded.
    const batches = scanFile(segment, maxEntryBytes, nextLsn, skipCorrupt, policy);
    try {
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
    } finally {
      // A caller that stops early (a `break`) returns this generator at a `yield` above:
      // close the file scanFile holds now, not when the garbage collector finds its handle.
      await batches.return(undefined as never);
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
  const handle = await openRegularFile(segment.path);
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
