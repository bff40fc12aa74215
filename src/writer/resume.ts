/**
 * Going on from where an earlier writer stopped, once recovery (src/recovery/open-scan.ts) has
 * found where the log's valid data ends: the tail segment is made durable and reopened for
 * appends, or sealed when its header's bounds are too small for this open; the checkpoint is
 * read, and lowered if it is past the log's end. And the SYNC_FAILED note: a writer whose
 * fdatasync failed leaves it (`noteSyncFailure`) so that the next open rewrites the tail.
 */

import type { SegmentHeader } from '../format/segment-header.js';
import { type FileSystem, syncDirectory, writeFileSynced, writeFully } from '../fs.js';
import { corruptError, type RecoveryMode } from '../reader/policy.js';
import type { OpenState } from '../recovery/open-scan.js';
import { CHECKPOINT_FILE, readCheckpoint, writeCheckpoint } from '../segment/checkpoint.js';
import { SYNC_FAILED_FILE } from '../segment/naming.js';
import { readAt } from '../segment/scan-file.js';
import { ActiveSegment, sealSegmentFile } from '../segment/segment-file.js';
import type { SegmentSet } from '../segment/segment-set.js';

/** The record bounds this open writes with; a tail whose header promises less is not appended to. */
export type RecordBounds = Pick<SegmentHeader, 'maxRecordBytes' | 'maxEntryBytes'>;

/**
 * Reopens the tail segment for appends, made durable up to its valid end; `segments` (loaded)
 * learns its size. Null when there is no segment to go on in, so the caller starts one at
 * `state.lastLsn + 1`: there is no tail, or it was sealed (or, holding no entry, removed).
 */
export function resumeTail(
  fsys: FileSystem,
  dir: string,
  state: OpenState,
  bounds: RecordBounds,
  segments: SegmentSet,
): ActiveSegment | null {
  const tail = state.tail;
  if (tail && tail.maxRecordBytes >= bounds.maxRecordBytes && tail.maxEntryBytes >= bounds.maxEntryBytes) {
    const fd = fsys.openSync(tail.path, 'r+');
    makeTailDurable(fsys, dir, fd, tail.lastSyncMark, tail.validEnd);
    clearSyncFailure(fsys, dir);
    const allocated = Math.max(tail.validEnd, fsys.fstatSize(fd));
    const segment = new ActiveSegment(fsys, tail.path, fd, tail.validEnd, allocated);
    segments.active!.bytes = tail.validEnd;
    return segment;
  }
  // The tail's header promises readers smaller records than this open may write: seal it
  // and start a segment whose header says the new bounds.
  if (tail && tail.entries === 0) {
    // Nothing but a header: remove it, as its first LSN is the one the new segment takes.
    fsys.unlinkSync(tail.path);
    segments.dropActive();
  } else if (tail) {
    sealSegmentFile(fsys, tail.path, tail.validEnd);
  }
  return null;
}

/**
 * The durable checkpoint to go on from. One that covers entries the log no longer holds
 * (dropped as corruption, or a checkpoint taken past what was synced) is lowered to the log's
 * end, and that is reported in `state.corruptions`: new entries will take those LSNs, so a
 * checkpoint left above them would let retention delete them. In strict mode it is an error.
 */
export function resumeCheckpoint(
  fsys: FileSystem,
  dir: string,
  mode: RecoveryMode,
  state: OpenState,
): number {
  const checkpointLsn = readCheckpoint(fsys, dir);
  if (checkpointLsn <= state.lastLsn) return checkpointLsn;
  const file = `${dir}/${CHECKPOINT_FILE}`;
  const reason = `the checkpoint (LSN ${checkpointLsn}) is past the log's last entry (LSN ${state.lastLsn})`;
  if (mode === 'strict') throw corruptError(file, 0, reason);
  writeCheckpoint(fsys, dir, state.lastLsn);
  state.corruptions.push({
    segment: CHECKPOINT_FILE,
    offset: 0,
    bytes: 0,
    reason,
    kind: 'corruption',
    lsns: { from: state.lastLsn + 1, to: checkpointLsn },
    action: `checkpoint lowered to LSN ${state.lastLsn}`,
  });
  return state.lastLsn;
}

/**
 * Leaves a durable note that an fdatasync failed, for the next open (makeTailDurable), before
 * anyone hears of the failure. Best effort: a disk failing its writes may fail this too.
 */
export function noteSyncFailure(fsys: FileSystem, dir: string): void {
  try {
    writeFileSynced(fsys, `${dir}/${SYNC_FAILED_FILE}`, new Uint8Array(0), 'w');
    syncDirectory(fsys, dir);
  } catch {
    // The error itself is what the caller needs; the note only helps a reopen without a reboot.
  }
}

/**
 * What a previous writer left after its last sync mark may be in the page cache only. If it
 * crashed in 'none' or 'interval' mode the pages are dirty and the fdatasync here writes
 * them. If its fdatasync failed, Linux may have kept the pages but marked them clean, so an
 * fdatasync would never write them: that writer left a SYNC_FAILED file, and then those
 * bytes are written back first (making them dirty again). Only then: they contain no
 * acknowledged entry (their batch's sync failed), while rewriting bytes that were synced
 * would put acknowledged entries at the mercy of a power cut during the rewrite. Either way
 * the tail is durable before durableLsn says so and before a record written here is
 * marked SYNCED_BEFORE.
 */
function makeTailDurable(fsys: FileSystem, dir: string, fd: number, from: number, to: number): void {
  const chunk = 1024 * 1024;
  const rewrite = fsys.existsSync(`${dir}/${SYNC_FAILED_FILE}`);
  for (let at = from; rewrite && at < to; at += chunk) {
    const bytes = readAt(fsys, fd, at, Math.min(chunk, to - at));
    writeFully(fsys, fd, [bytes], at, bytes.length);
  }
  fsys.fdatasyncSync(fd);
}

/** Removes the note once the tail it was about is durable. */
function clearSyncFailure(fsys: FileSystem, dir: string): void {
  const note = `${dir}/${SYNC_FAILED_FILE}`;
  if (!fsys.existsSync(note)) return;
  fsys.unlinkSync(note);
  syncDirectory(fsys, dir);
}
