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
import {
  type CorruptionHandler,
  type CorruptionReport,
  checkCorruptionHandler,
  checkRecoveryMode,
  judgeEnd,
  lsnsLost,
  ReaderPolicy,
  type RecoveryMode,
} from '../recovery/policy.js';
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

interface CheckedReadOptions {
  fromLsn: number;
  maxEntryBytes: number;
  policy: ReaderPolicy;
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
  return { fromLsn, maxEntryBytes, policy };
}

/** How long a reader waits before reading a live segment again to confirm damage in it. */
const CONFIRM_DELAY_MS = 20;

export async function* readWal(
  dir: string,
  options: ReadOptions = {},
): AsyncGenerator<WalEntry, void, undefined> {
  const { fromLsn, maxEntryBytes, policy } = checkReadOptions(options);
  const skipCorrupt = policy.mode === 'skip-corrupt';
  let segments = await listSegmentsAsync(dir);
  let nextLsn = fromLsn; // next LSN to deliver
  let expectFirst = 0; // LSN the next segment must start with (0: any)
  let i = segments.findLastIndex((s) => s.firstLsn <= fromLsn);
  if (i < 0) i = 0;
  let rescanned = false;
  let confirmed = false;
  while (i < segments.length) {
    const segment = segments[i];
    // Damage that ends this segment for the reader (a gap before it, its header, or its records).
    let damage: { offset: number; bytes: number; reason: string; lsns: CorruptionReport['lsns'] } | null =
      null;
    if (expectFirst !== 0 && segment.firstLsn !== expectFirst) {
      if (!skipCorrupt || segment.firstLsn < expectFirst) {
        damage = {
          offset: 0,
          bytes: 0,
          reason: `the log has a gap: expected a segment starting at LSN ${expectFirst}`,
          lsns: segment.firstLsn > expectFirst ? { from: expectFirst, to: segment.firstLsn - 1 } : null,
        };
      } else {
        policy.damaged(
          segment.path,
          segment.name,
          0,
          0,
          `the log has a gap: LSNs ${expectFirst} to ${segment.firstLsn - 1} are missing`,
          {
            from: expectFirst,
            to: segment.firstLsn - 1,
          },
        );
      }
    }
    let result: ScanResult | null = null;
    if (!damage) {
      try {
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
          }
        }
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        throw vanished(segment.path);
      }
    }
    const wasLast = i === segments.length - 1;
    if (wasLast) {
      // Pick up segments created since the listing; retention may have removed older ones.
      segments = await listSegmentsAsync(dir);
      i = segments.findIndex((s) => s.name === segment.name);
      if (i < 0) throw vanished(segment.path);
    }
    const isLast = i === segments.length - 1;
    if (result && wasLast && !isLast && !rescanned) {
      // It was the live tail while we read it and has been sealed since (the writer syncs a
      // segment before it creates the next): read what was added meanwhile.
      rescanned = true;
      continue;
    }
    if (result && !damage) {
      if (result.stop === 'bad-header') {
        // A last segment with a bad header and nothing but zeros holds no entry; the next open
        // sets it aside (src/recovery/open-scan.ts). Anything else is damage.
        if (isLast && (await isAllZeros(segment.path))) return;
        damage = {
          offset: 0,
          bytes: result.fileSize,
          reason: `bad segment header: ${result.reason}`,
          lsns: null,
        };
      } else if (result.header!.firstLsn !== segment.firstLsn) {
        damage = {
          offset: 8,
          bytes: result.fileSize,
          reason: `the header says first LSN ${result.header!.firstLsn}, the name says ${segment.firstLsn}`,
          lsns: null,
        };
      } else if (judgeEnd(result, isLast) === 'corrupt') {
        if (isLast && !confirmed) {
          // The writer may have been part-way through a record while it was read: look again.
          confirmed = true;
          await new Promise((resolve) => setTimeout(resolve, CONFIRM_DELAY_MS));
          continue;
        }
        const d = result.damage!;
        damage = {
          offset: d.offset,
          bytes: result.fileSize - d.offset,
          reason: d.next >= 0 ? `${d.reason}, and a valid record follows at offset ${d.next}` : d.reason,
          // Nothing after it is delivered (point-in-time) or it is thrown (strict, tolerate-tail).
          lsns: lsnsLost({ ...d, next: -1 }),
        };
      }
    }
    if (damage) {
      if (
        policy.damaged(
          segment.path,
          segment.name,
          damage.offset,
          damage.bytes,
          damage.reason,
          damage.lsns,
        ) === 'stop'
      ) {
        return;
      }
      expectFirst = 0;
    } else {
      expectFirst = result!.lastLsn + 1;
    }
    rescanned = false;
    confirmed = false;
    if (isLast) return;
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
  segment: SegmentFile,
  maxEntryBytes: number,
  fromLsn: number,
  skipCorrupt: boolean,
  policy: ReaderPolicy,
): AsyncGenerator<WalEntry[], ScanResult, undefined> {
  const handle = await fs.promises.open(segment.path, 'r');
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
