/**
 * What the writer does on open, before the first append: find the last valid entry, set a
 * torn tail aside and truncate it, and say where appending continues.
 *
 * Policy (docs/FORMAT.md "Torn tails"): only the tail segment may end in an incomplete or
 * damaged record. It is a torn tail, never acknowledged (each batch is fdatasync'd before its
 * acks), when nothing valid follows it, or when what follows comes after a whole zero sector
 * (the mark of unsynced pages lost in a power cut). The torn bytes are copied aside to
 * `<segment>.torn-<offset>` and truncated. Damage anywhere else is a WAL_CORRUPT error
 * naming the file and offset, and nothing is changed.
 */

import { ErrorCode, WalError } from '../errors.js';
import { RecordType, SEGMENT_HEADER_BYTES } from '../format/constants.js';
import { parseRecord } from '../format/record.js';
import { decodeSegmentHeader } from '../format/segment-header.js';
import { type FileSystem, syncDirectory, writeFully } from '../fs.js';
import { readAt, scanSegmentFile } from '../reader/scan-file.js';
import type { ScanResult } from '../reader/segment-scanner.js';
import { listSegments, type SegmentFile } from '../segment/naming.js';

export interface TailRepair {
  segment: string;
  offset: number;
  bytes: number;
  reason: string;
  /** Where the removed bytes were kept, or what was done with the file. */
  action: string;
}

export interface OpenState {
  /** LSN of the last valid entry; 0 for an empty log. */
  lastLsn: number;
  /** The segment appends continue in, with the offset they continue at; null: start a new one. */
  tail: { path: string; name: string; firstLsn: number; validEnd: number } | null;
  repairs: TailRepair[];
}

export function recoverOnOpen(fsys: FileSystem, dir: string, maxEntryBytes: number): OpenState {
  const segments = listSegments(fsys, dir);
  const repairs: TailRepair[] = [];
  for (const segment of segments.slice(0, -1)) checkHeader(fsys, segment);

  while (segments.length > 0) {
    const tail = segments[segments.length - 1];
    const scan = scanSegmentFile(fsys, tail.path, { maxEntryBytes });
    if (scan.stop === 'bad-header') {
      setAsideBadHeader(fsys, dir, tail, scan, repairs);
      segments.pop();
      continue;
    }
    if (scan.header!.firstLsn !== tail.firstLsn) {
      throw corrupt(
        tail.path,
        8,
        `header says first LSN ${scan.header!.firstLsn}, the name says ${tail.firstLsn}`,
      );
    }
    if (scan.stop !== 'eof') repairTail(fsys, dir, tail, scan, maxEntryBytes, repairs);
    return {
      lastLsn: scan.lastLsn,
      tail: { path: tail.path, name: tail.name, firstLsn: tail.firstLsn, validEnd: scan.validEnd },
      repairs,
    };
  }
  return { lastLsn: 0, tail: null, repairs };
}

function corrupt(path: string, offset: number, reason: string): WalError {
  return new WalError(ErrorCode.CORRUPT, `${path} is corrupt at offset ${offset}: ${reason}`, {
    path,
    offset,
  });
}

function checkHeader(fsys: FileSystem, segment: SegmentFile): void {
  const fd = fsys.openSync(segment.path, 'r');
  try {
    const header = decodeSegmentHeader(readAt(fsys, fd, 0, SEGMENT_HEADER_BYTES));
    if ('invalid' in header) throw corrupt(segment.path, 0, header.invalid);
    if (header.firstLsn !== segment.firstLsn) {
      throw corrupt(
        segment.path,
        8,
        `header says first LSN ${header.firstLsn}, the name says ${segment.firstLsn}`,
      );
    }
  } finally {
    fsys.closeSync(fd);
  }
}

/**
 * A tail segment whose header never became durable was created by a rotation that crashed
 * before anything in it could be acknowledged (the header and the directory entry are
 * synced before the first record). Keep it under another name rather than delete it.
 */
function setAsideBadHeader(
  fsys: FileSystem,
  dir: string,
  tail: SegmentFile,
  scan: ScanResult,
  repairs: TailRepair[],
): void {
  const aside = `${tail.path}.broken`;
  fsys.renameSync(tail.path, aside);
  syncDirectory(fsys, dir);
  repairs.push({
    segment: tail.name,
    offset: 0,
    bytes: scan.fileSize,
    reason: `segment header: ${scan.reason}`,
    action: `renamed to ${tail.name}.broken`,
  });
}

function repairTail(
  fsys: FileSystem,
  dir: string,
  tail: SegmentFile,
  scan: ScanResult,
  maxEntryBytes: number,
  repairs: TailRepair[],
): void {
  const fd = fsys.openSync(tail.path, 'r+');
  try {
    const rest = readAt(fsys, fd, scan.validEnd, scan.fileSize - scan.validEnd);
    const later = findLaterRecord(rest, scan.lastLsn, maxEntryBytes);
    if (later >= 0 && !hasZeroSector(rest, scan.validEnd, later)) {
      throw corrupt(
        tail.path,
        scan.stopOffset,
        `${scan.reason ?? scan.stop}, and a valid record follows at offset ${scan.validEnd + later}`,
      );
    }
    const reason = scan.stop === 'zeros' ? 'zeros after the last entry' : (scan.reason ?? scan.stop);
    let action = 'truncated (the bytes were all zeros)';
    if (rest.some((b) => b !== 0)) {
      const asideName = `${tail.name}.torn-${scan.validEnd}`;
      keepCopy(fsys, `${dir}/${asideName}`, rest);
      action = `truncated; the bytes are kept in ${asideName}`;
    }
    fsys.ftruncateSync(fd, scan.validEnd);
    fsys.fdatasyncSync(fd);
    syncDirectory(fsys, dir);
    repairs.push({ segment: tail.name, offset: scan.validEnd, bytes: rest.length, reason, action });
  } finally {
    fsys.closeSync(fd);
  }
}

/**
 * Whether `bytes[0, end)` (which starts at file offset `fileOffset`) holds a whole 512-byte
 * sector of zeros. Valid records after damage are then the pattern of a power loss: pages
 * of an unsynced batch that never reached the disk read back as zeros while later pages
 * did, and none of it was acknowledged. Damage without such a sector (a flipped bit, a
 * scribbled record) is corruption of synced data.
 */
function hasZeroSector(bytes: Uint8Array, fileOffset: number, end: number): boolean {
  const SECTOR = 512;
  let start = Math.ceil(fileOffset / SECTOR) * SECTOR - fileOffset;
  for (; start + SECTOR <= end; start += SECTOR) {
    let zero = true;
    for (let i = start; i < start + SECTOR; i++) {
      if (bytes[i] !== 0) {
        zero = false;
        break;
      }
    }
    if (zero) return true;
  }
  return false;
}

/** Offset in `bytes` of a valid record (FULL or FIRST) after `lastLsn`, or -1. */
function findLaterRecord(bytes: Uint8Array, lastLsn: number, maxEntryBytes: number): number {
  for (let at = 8; at + 24 <= bytes.length; at += 8) {
    const r = parseRecord(bytes, at, bytes.length, maxEntryBytes);
    if (
      r.kind === 'record' &&
      r.lsn > lastLsn &&
      (r.type === RecordType.FULL || r.type === RecordType.FIRST)
    ) {
      return at;
    }
  }
  return -1;
}

function keepCopy(fsys: FileSystem, path: string, bytes: Uint8Array): void {
  const fd = fsys.openSync(path, 'w');
  try {
    writeFully(fsys, fd, [bytes], 0, bytes.length);
    fsys.fsyncSync(fd);
  } finally {
    fsys.closeSync(fd);
  }
}
