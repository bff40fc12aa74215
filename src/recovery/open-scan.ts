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
import { type FileSystem, syncDirectory, writeFileSynced } from '../fs.js';
import { MAX_ENTRY_BYTES } from '../options.js';
import { readAt, scanSegmentFile } from '../reader/scan-file.js';
import type { ScanResult } from '../reader/segment-scanner.js';
import {
  listSegments,
  NEXT_SEGMENT_DRAFT,
  parseSegmentName,
  type SegmentFile,
  TEMP_SUFFIX,
} from '../segment/naming.js';

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
  /** The last segment, with where its valid data ends; null when there is none. */
  tail: {
    path: string;
    name: string;
    firstLsn: number;
    validEnd: number;
    /** Complete entries in it. */
    entries: number;
    /** The size bounds its header records: appends may continue in it only within them. */
    maxRecordBytes: number;
    maxEntryBytes: number;
  } | null;
  repairs: TailRepair[];
}

export function recoverOnOpen(fsys: FileSystem, dir: string): OpenState {
  removeDrafts(fsys, dir);
  const segments = listSegments(fsys, dir);
  const repairs: TailRepair[] = [];
  for (const segment of segments.slice(0, -1)) checkHeader(fsys, segment);

  while (segments.length > 0) {
    const tail = segments[segments.length - 1];
    // The bounds recorded in each segment header apply; this cap only stops a header
    // that claims more than any writer could have used.
    const scan = scanSegmentFile(fsys, tail.path, { maxEntryBytes: MAX_ENTRY_BYTES });
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
    // Zeros from the last entry to the end of the file are preallocated space (or unsynced
    // pages a power cut reverted to zeros): nothing to repair, appends overwrite them.
    if (scan.stop !== 'eof' && !(scan.stop === 'zeros' && zerosToEnd(fsys, tail.path, scan.validEnd))) {
      repairTail(fsys, dir, tail, scan, repairs);
    }
    return {
      lastLsn: scan.lastLsn,
      tail: {
        path: tail.path,
        name: tail.name,
        firstLsn: tail.firstLsn,
        validEnd: scan.validEnd,
        entries: scan.entries,
        maxRecordBytes: scan.header!.maxRecordBytes,
        maxEntryBytes: scan.header!.maxEntryBytes,
      },
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
 * A tail segment whose header is invalid but that holds nothing else (all zeros) carries no
 * entry: records are written only after the header is synced and the file renamed into
 * place, so this is a file system that lost the header's blocks, not data. It is kept under
 * another name rather than deleted, and appends continue after the previous segment.
 */
function setAsideBadHeader(
  fsys: FileSystem,
  dir: string,
  tail: SegmentFile,
  scan: ScanResult,
  repairs: TailRepair[],
): void {
  const fd = fsys.openSync(tail.path, 'r');
  let rest: Uint8Array;
  try {
    rest = readAt(fsys, fd, SEGMENT_HEADER_BYTES, Math.max(0, scan.fileSize - SEGMENT_HEADER_BYTES));
  } finally {
    fsys.closeSync(fd);
  }
  if (rest.some((b) => b !== 0)) {
    throw corrupt(
      tail.path,
      0,
      `bad segment header (${scan.reason}) in front of ${rest.length} bytes of data`,
    );
  }
  const aside = uniqueName(fsys, dir, `${tail.name}.broken`);
  fsys.renameSync(tail.path, `${dir}/${aside}`);
  syncDirectory(fsys, dir);
  repairs.push({
    segment: tail.name,
    offset: 0,
    bytes: scan.fileSize,
    reason: `segment header: ${scan.reason}`,
    action: `renamed to ${aside}`,
  });
}

function repairTail(
  fsys: FileSystem,
  dir: string,
  tail: SegmentFile,
  scan: ScanResult,
  repairs: TailRepair[],
): void {
  const fd = fsys.openSync(tail.path, 'r+');
  try {
    const rest = readAt(fsys, fd, scan.validEnd, scan.fileSize - scan.validEnd);
    const later = findLaterRecord(rest, scan.lastLsn, scan.header!.maxRecordBytes);
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
      const aside = uniqueName(fsys, dir, `${tail.name}.torn-${scan.validEnd}`);
      writeFileSynced(fsys, `${dir}/${aside}`, rest, 'wx');
      // The copy's name must be durable before the bytes it saves are cut from the segment.
      syncDirectory(fsys, dir);
      action = `truncated; the bytes are kept in ${aside}`;
    }
    fsys.ftruncateSync(fd, scan.validEnd);
    fsys.fdatasyncSync(fd);
    repairs.push({ segment: tail.name, offset: scan.validEnd, bytes: rest.length, reason, action });
  } finally {
    fsys.closeSync(fd);
  }
}

function zerosToEnd(fsys: FileSystem, path: string, from: number): boolean {
  const fd = fsys.openSync(path, 'r');
  try {
    const chunk = 1024 * 1024;
    const size = fsys.fstatSize(fd);
    for (let at = from; at < size; at += chunk) {
      if (readAt(fsys, fd, at, Math.min(chunk, size - at)).some((b) => b !== 0)) return false;
    }
    return true;
  } finally {
    fsys.closeSync(fd);
  }
}

/** `name`, or `name.1`, `name.2`...: whichever does not exist yet, so no kept copy is overwritten. */
function uniqueName(fsys: FileSystem, dir: string, name: string): string {
  if (!fsys.existsSync(`${dir}/${name}`)) return name;
  for (let n = 1; ; n++) {
    if (!fsys.existsSync(`${dir}/${name}.${n}`)) return `${name}.${n}`;
  }
}

/**
 * Segments still under their temporary name hold only a header (records are written only
 * after the rename), and the prepared next segment only zeros or a header: what a crash
 * during segment creation leaves. Neither holds an entry.
 */
function removeDrafts(fsys: FileSystem, dir: string): void {
  let removed = false;
  for (const name of fsys.readdirSync(dir)) {
    const draft = name.endsWith(TEMP_SUFFIX) && parseSegmentName(name.slice(0, -TEMP_SUFFIX.length));
    if (draft || name === NEXT_SEGMENT_DRAFT) {
      fsys.unlinkSync(`${dir}/${name}`);
      removed = true;
    }
  }
  if (removed) syncDirectory(fsys, dir);
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
function findLaterRecord(bytes: Uint8Array, lastLsn: number, maxRecordBytes: number): number {
  for (let at = 8; at + 24 <= bytes.length; at += 8) {
    const r = parseRecord(bytes, at, bytes.length, maxRecordBytes);
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
