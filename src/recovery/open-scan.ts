/**
 * What the writer does on open, before the first append: find the last valid entry, act on
 * damage as the recovery mode says (src/reader/policy.ts), and say where appending
 * continues. Nothing is ever destroyed: bytes cut from a segment are first copied next to it
 * (`<segment>.torn-<offset>` for a torn tail, `<segment>.broken-<offset>` for corruption), and
 * whole segments are renamed (`<segment>.broken`), each copy durable before the cut.
 *
 * - strict: every segment is verified; any damage is WAL_CORRUPT and nothing changes.
 * - tolerate-tail: sealed segments' headers are checked (readers verify their records); the
 *   last segment is walked; a torn end is set aside and truncated; other damage is
 *   WAL_CORRUPT and nothing changes.
 * - point-in-time: every segment is verified; at the first damage the log is cut: the rest of
 *   that segment is set aside and truncated, and every later segment renamed aside.
 * - skip-corrupt: like tolerate-tail, but damage is skipped: reported, left in place (readers
 *   in this mode skip it too); only a torn end is cut.
 */

import { SEGMENT_HEADER_BYTES } from '../format/constants.js';
import { headerProblem } from '../format/header-check.js';
import { decodeSegmentHeader } from '../format/segment-header.js';
import type { ScanResult } from '../format/segment-scanner.js';
import { type FileSystem, syncDirectory, writeFileSynced } from '../fs.js';
import { MAX_ENTRY_BYTES } from '../options.js';
import {
  type CorruptionReport,
  corruptError,
  judgeEnd,
  lsnsLost,
  type RecoveryMode,
} from '../reader/policy.js';
import {
  listSegments,
  NEXT_SEGMENT_DRAFT,
  parseSegmentName,
  type SegmentFile,
  TEMP_SUFFIX,
} from '../segment/naming.js';
import { readAt, scanSegmentFile } from '../segment/scan-file.js';

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
    /** Where its last sync mark is: bytes from here on may never have reached the disk. */
    lastSyncMark: number;
    /** The size bounds its header records: appends may continue in it only within them. */
    maxRecordBytes: number;
    maxEntryBytes: number;
  } | null;
  /** Every drop, in the order made. */
  corruptions: CorruptionReport[];
}

/** A segment that failed before its records: a bad header, a name it contradicts, or a gap before it. */
interface FrontProblem {
  offset: number;
  reason: string;
}

export function recoverOnOpen(fsys: FileSystem, dir: string, mode: RecoveryMode): OpenState {
  removeDrafts(fsys, dir);
  const segments = listSegments(fsys, dir);
  const reports: CorruptionReport[] = [];
  const verifyAll = mode === 'strict' || mode === 'point-in-time';
  // The bounds recorded in each segment header apply; this cap only stops a header that
  // claims more than any writer could have used.
  const scanOptions = { maxEntryBytes: MAX_ENTRY_BYTES, skipCorrupt: mode === 'skip-corrupt' };

  // expectFirst[i]: the first LSN segment i must have, once the one before it is verified.
  const expectFirst: number[] = [];
  for (let i = 0; i < segments.length - 1; i++) {
    const segment = segments[i];
    if (!verifyAll) {
      const problem = sealedHeaderProblem(fsys, segment);
      if (!problem) continue;
      if (mode === 'tolerate-tail') throw corruptError(segment.path, problem.offset, problem.reason);
      reports.push({
        segment: segment.name,
        offset: 0,
        bytes: fileSize(fsys, segment.path),
        reason: problem.reason,
        kind: 'corruption',
        lsns: { from: segment.firstLsn, to: segments[i + 1].firstLsn - 1 },
        action: 'left in place; readers in skip-corrupt mode skip the segment',
      });
      continue;
    }
    const scan = scanSegmentFile(fsys, segment.path, scanOptions);
    const front = scanProblem(scan, segment, expectFirst[i] ?? 0);
    if (!front && judgeEnd(scan, false) === 'clean') {
      expectFirst[i + 1] = scan.lastLsn + 1;
      continue;
    }
    const offset = front ? front.offset : scan.stopOffset;
    const reason = front ? front.reason : (scan.reason ?? scan.stop);
    if (mode === 'strict') throw corruptError(segment.path, offset, reason);
    // point-in-time: the log ends here.
    setAsideSegments(fsys, dir, segments.slice(i + 1), reports, `after damage in ${segment.name}`);
    if (front) {
      setAsideSegments(fsys, dir, [segment], reports, reason);
      segments.length = i;
    } else {
      cutAt(fsys, dir, segment, scan, 'corruption', reports);
      return stateOf(segment, scan, reports);
    }
    break;
  }

  while (segments.length > 0) {
    const tail = segments[segments.length - 1];
    const scan = scanSegmentFile(fsys, tail.path, scanOptions);
    const front = scanProblem(scan, tail, expectFirst[segments.length - 1] ?? 0);
    if (front) {
      if (mode === 'strict') throw corruptError(tail.path, front.offset, front.reason);
      if (mode === 'tolerate-tail' && (scan.stop !== 'bad-header' || !restIsZero(fsys, tail, scan))) {
        const reason =
          scan.stop === 'bad-header' ? `bad segment header (${scan.reason}) in front of data` : front.reason;
        throw corruptError(tail.path, front.offset, reason);
      }
      // No entry can be read from it. A header that never became durable (all zeros behind
      // it) is what a file system that lost the header's blocks leaves; the other cases are
      // damage, dropped in point-in-time and skip-corrupt modes.
      setAsideSegments(fsys, dir, [tail], reports, front.reason);
      segments.pop();
      continue;
    }
    for (const skipped of scan.skipped) {
      reports.push({
        segment: tail.name,
        offset: skipped.offset,
        bytes: skipped.end - skipped.offset,
        reason: skipped.reason,
        kind: 'corruption',
        lsns: lsnsLost(skipped),
        action: 'left in place; readers in skip-corrupt mode skip it',
      });
    }
    const verdict = judgeEnd(scan, true);
    if (verdict === 'torn') {
      if (mode === 'strict') throw corruptError(tail.path, scan.stopOffset, `torn tail: ${scan.reason}`);
      const d = scan.damage!;
      const reason =
        d.next >= 0
          ? `${scan.reason}; valid records follow from offset ${d.next}, all written after the last sync (an interrupted write)`
          : scan.reason;
      cutAt(fsys, dir, tail, { ...scan, reason }, 'torn-tail', reports);
    } else if (verdict === 'corrupt') {
      const reason = `${scan.reason}, and a record written after a sync follows`;
      if (mode !== 'point-in-time') throw corruptError(tail.path, scan.stopOffset, reason);
      cutAt(fsys, dir, tail, { ...scan, reason }, 'corruption', reports);
    }
    return stateOf(tail, scan, reports);
  }
  return { lastLsn: 0, tail: null, corruptions: reports };
}

function stateOf(segment: SegmentFile, scan: ScanResult, corruptions: CorruptionReport[]): OpenState {
  return {
    lastLsn: scan.lastLsn,
    tail: {
      path: segment.path,
      name: segment.name,
      firstLsn: segment.firstLsn,
      validEnd: scan.validEnd,
      entries: scan.entries,
      lastSyncMark: Math.min(scan.lastSyncMark, scan.validEnd),
      maxRecordBytes: scan.header!.maxRecordBytes,
      maxEntryBytes: scan.header!.maxEntryBytes,
    },
    corruptions,
  };
}

/** A bad header, a first LSN that contradicts the name, or a gap after the previous segment. */
function scanProblem(scan: ScanResult, segment: SegmentFile, expectFirst: number): FrontProblem | null {
  const seen = scan.stop === 'bad-header' ? { firstLsn: null, reason: scan.reason } : scan.header!;
  const problem = headerProblem(seen, segment.firstLsn);
  if (problem) return problem;
  if (expectFirst !== 0 && segment.firstLsn !== expectFirst) {
    return { offset: 0, reason: `the log has a gap: expected a segment starting at LSN ${expectFirst}` };
  }
  return null;
}

function sealedHeaderProblem(fsys: FileSystem, segment: SegmentFile): FrontProblem | null {
  const fd = fsys.openSync(segment.path, 'r');
  try {
    return headerProblem(decodeSegmentHeader(readAt(fsys, fd, 0, SEGMENT_HEADER_BYTES)), segment.firstLsn);
  } finally {
    fsys.closeSync(fd);
  }
}

function fileSize(fsys: FileSystem, path: string): number {
  const fd = fsys.openSync(path, 'r');
  try {
    return fsys.fstatSize(fd);
  } finally {
    fsys.closeSync(fd);
  }
}

/** Whether everything after a segment's header area is zero (no entry was ever written behind it). */
function restIsZero(fsys: FileSystem, segment: SegmentFile, scan: ScanResult): boolean {
  const fd = fsys.openSync(segment.path, 'r');
  try {
    const chunk = 1024 * 1024;
    for (let at = SEGMENT_HEADER_BYTES; at < scan.fileSize; at += chunk) {
      if (readAt(fsys, fd, at, Math.min(chunk, scan.fileSize - at)).some((b) => b !== 0)) return false;
    }
    return true;
  } finally {
    fsys.closeSync(fd);
  }
}

/** Renames whole segments aside (`<name>.broken`) and syncs the directory once. */
function setAsideSegments(
  fsys: FileSystem,
  dir: string,
  segments: SegmentFile[],
  reports: CorruptionReport[],
  reason: string,
): void {
  if (segments.length === 0) return;
  // Newest first: a crash part-way leaves a log that still ends cleanly where it did.
  for (const segment of [...segments].reverse()) {
    const bytes = fileSize(fsys, segment.path);
    const aside = uniqueName(fsys, dir, `${segment.name}.broken`);
    fsys.renameSync(segment.path, `${dir}/${aside}`);
    reports.push({
      segment: segment.name,
      offset: 0,
      bytes,
      reason,
      kind: 'corruption',
      lsns: { from: segment.firstLsn, to: null },
      action: `renamed to ${aside}`,
    });
  }
  syncDirectory(fsys, dir);
}

/**
 * Cuts a segment at `scan.validEnd`: the bytes after it are copied to `<name>.torn-<offset>`
 * or `<name>.broken-<offset>` (unless all zeros), the copy's name made durable, and only then
 * is the segment truncated and synced.
 */
function cutAt(
  fsys: FileSystem,
  dir: string,
  segment: SegmentFile,
  scan: ScanResult,
  kind: CorruptionReport['kind'],
  reports: CorruptionReport[],
): void {
  const fd = fsys.openSync(segment.path, 'r+');
  try {
    const rest = readAt(fsys, fd, scan.validEnd, scan.fileSize - scan.validEnd);
    let action = 'truncated (the bytes were all zeros)';
    if (rest.some((b) => b !== 0)) {
      const suffix = kind === 'torn-tail' ? 'torn' : 'broken';
      const aside = uniqueName(fsys, dir, `${segment.name}.${suffix}-${scan.validEnd}`);
      try {
        writeFileSynced(fsys, `${dir}/${aside}`, rest, 'wx');
      } catch (e) {
        // A full disk, say: leave no partial copy behind (the segment is still untouched).
        try {
          fsys.unlinkSync(`${dir}/${aside}`);
        } catch {}
        throw e;
      }
      // The copy's name must be durable before the bytes it saves are cut from the segment.
      syncDirectory(fsys, dir);
      action = `truncated; the bytes are kept in ${aside}`;
    }
    fsys.ftruncateSync(fd, scan.validEnd);
    fsys.fdatasyncSync(fd);
    reports.push({
      segment: segment.name,
      offset: scan.validEnd,
      bytes: rest.length,
      reason:
        scan.stop === 'zeros' && kind === 'torn-tail'
          ? 'zeros after the last entry'
          : (scan.reason ?? scan.stop),
      kind,
      // A torn tail loses only what was never acknowledged; list it when records follow.
      lsns:
        scan.damage && (kind === 'corruption' || scan.damage.next >= 0)
          ? lsnsLost({ ...scan.damage, next: -1 })
          : null,
      action,
    });
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
