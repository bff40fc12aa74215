/**
 * `readWal`: every entry of a log directory in LSN order, read sequentially with
 * asynchronous I/O. It never changes a file, so it can read a directory another process is
 * writing: the last segment is read up to its last complete, valid entry (the writer may be
 * in the middle of the next one), and segments created meanwhile are picked up.
 */
import * as fs from 'node:fs';
import { decode } from '../encoding.js';
import { ErrorCode, WalError } from '../errors.js';
import { MAX_ENTRY_BYTES } from '../options.js';
import { type SegmentFile, segmentsAmong } from '../segment/naming.js';
import { type ScanResult, scanSegment } from './segment-scanner.js';

export interface ReadOptions {
  /** First LSN to deliver. Default 1. */
  fromLsn?: number;
  /**
   * Largest entry this reader accepts, on top of the bounds each segment header records.
   * Default 1 GiB (the most `openWal` allows).
   */
  maxEntryBytes?: number;
}

export interface WalEntry {
  lsn: number;
  /** The entry's append time, ms since the Unix epoch. */
  ts: number;
  value: unknown;
}

async function listSegmentsAsync(dir: string): Promise<SegmentFile[]> {
  return segmentsAmong(dir, await fs.promises.readdir(dir));
}

function checkReadOptions(options: ReadOptions): { fromLsn: number; maxEntryBytes: number } {
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
  return { fromLsn, maxEntryBytes };
}

export async function* readWal(
  dir: string,
  options: ReadOptions = {},
): AsyncGenerator<WalEntry, void, undefined> {
  const { fromLsn, maxEntryBytes } = checkReadOptions(options);
  let segments = await listSegmentsAsync(dir);
  let nextLsn = fromLsn; // next LSN to deliver
  let expectFirst = 0; // LSN the next segment must start with (0: any)
  let i = segments.findLastIndex((s) => s.firstLsn <= fromLsn);
  if (i < 0) i = 0;
  let rescanned = false;
  while (i < segments.length) {
    const segment = segments[i];
    if (expectFirst !== 0 && segment.firstLsn !== expectFirst) {
      throw new WalError(
        ErrorCode.CORRUPT,
        `${segment.path}: the log has a gap; expected a segment starting at LSN ${expectFirst}`,
        { path: segment.path, offset: 0 },
      );
    }
    let result: ScanResult;
    try {
      const batches = scanFile(segment.path, maxEntryBytes, nextLsn);
      while (true) {
        const step = await batches.next();
        if (step.done) {
          result = step.value;
          break;
        }
        for (const entry of step.value) {
          yield entry;
          nextLsn = entry.lsn + 1;
        }
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      throw vanished(segment.path);
    }
    const wasLast = i === segments.length - 1;
    if (wasLast) {
      // Pick up segments created since the listing; retention may have removed older ones.
      segments = await listSegmentsAsync(dir);
      i = segments.findIndex((s) => s.name === segment.name);
      if (i < 0) throw vanished(segment.path);
    }
    const isLast = i === segments.length - 1;
    if (wasLast && !isLast && !rescanned) {
      // It was the live tail while we read it and has been sealed since (the writer syncs a
      // segment before it creates the next): read what was added meanwhile.
      rescanned = true;
      continue;
    }
    if (result.stop === 'bad-header') {
      // A last segment with a bad header and nothing but zeros holds no entry; the next open
      // sets it aside (src/recovery/open-scan.ts). Anything else is damage.
      if (isLast && (await isAllZeros(segment.path))) return;
      throw new WalError(ErrorCode.CORRUPT, `${segment.path}: bad segment header: ${result.reason}`, {
        path: segment.path,
        offset: 0,
      });
    }
    if (result.header!.firstLsn !== segment.firstLsn) {
      throw new WalError(
        ErrorCode.CORRUPT,
        `${segment.path}: the header's first LSN does not match the name`,
        {
          path: segment.path,
          offset: 8,
        },
      );
    }
    if (result.stop !== 'eof' && !isLast) {
      throw new WalError(
        ErrorCode.CORRUPT,
        `${segment.path} is corrupt at offset ${result.stopOffset}: ${result.reason ?? result.stop}`,
        { path: segment.path, offset: result.stopOffset },
      );
    }
    rescanned = false;
    expectFirst = result.lastLsn + 1;
    i++;
  }
}

async function isAllZeros(path: string): Promise<boolean> {
  const bytes = await fs.promises.readFile(path);
  return bytes.every((b) => b === 0);
}

function vanished(path: string): WalError {
  return new WalError(
    ErrorCode.SEGMENT_DELETED,
    `${path} was deleted (by retention) before this reader got to it; read again from a later LSN`,
    { path },
  );
}

/** Entries are handed over in batches of this many, bounding what one read holds decoded. */
const BATCH_ENTRIES = 1024;

/** Scans one file with asynchronous reads, yielding decoded entries from `fromLsn` in batches. */
async function* scanFile(
  file: string,
  maxEntryBytes: number,
  fromLsn: number,
): AsyncGenerator<WalEntry[], ScanResult, undefined> {
  const handle = await fs.promises.open(file, 'r');
  try {
    const walk = scanSegment((await handle.stat()).size, { maxEntryBytes });
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
      } else if (item.lsn >= fromLsn) {
        batch.push({ lsn: item.lsn, ts: item.ts, value: decode(item.payload) });
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
