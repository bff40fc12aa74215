/**
 * What `wal.segments()` lists: each segment file of a log's directory with its LSN range,
 * size and creation time, read from the names and the segment headers. The live segment's
 * progress is not on disk yet: the writer publishes it in shared memory, and the caller
 * passes it in (`LiveSegment`).
 */

import * as fs from 'node:fs';
import { segmentReadError } from '../errors.js';
import { SEGMENT_HEADER_BYTES } from '../format/constants.js';
import { decodeSegmentHeader } from '../format/segment-header.js';
import { openRegularFile } from '../fs.js';
import { segmentsAmong } from './naming.js';

/** One segment file, as `wal.segments()` lists it. */
export interface SegmentInfo {
  name: string;
  firstLsn: number;
  /** Its last entry's LSN (firstLsn - 1 when it holds none yet). */
  lastLsn: number;
  bytes: number;
  createdAt: Date;
  /** False only for the segment being written. */
  sealed: boolean;
}

/** The writer's progress in the segment being written, read when that segment is reached. */
export interface LiveSegment {
  /** Highest LSN written to the OS. */
  writtenLsn(): number;
  /** Bytes of data in the segment being written. */
  activeSegmentBytes(): number;
}

/**
 * The segment files of `dir`, oldest first; the last one is being written. A file deleted
 * (by retention) while listing is left out.
 */
export async function segmentInfos(dir: string, live: LiveSegment): Promise<SegmentInfo[]> {
  const files = segmentsAmong(dir, await fs.promises.readdir(dir));
  const out: SegmentInfo[] = [];
  for (let i = 0; i < files.length; i++) {
    const file = files[i];
    let handle: fs.promises.FileHandle;
    try {
      handle = await openRegularFile(file.path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // deleted by retention meanwhile
      throw segmentReadError(file.path, e);
    }
    try {
      const head = new Uint8Array(SEGMENT_HEADER_BYTES);
      await handle.read(head, 0, head.length, 0);
      const header = decodeSegmentHeader(head);
      const sealed = i < files.length - 1;
      out.push({
        name: file.name,
        firstLsn: file.firstLsn,
        lastLsn: sealed ? files[i + 1].firstLsn - 1 : Math.max(file.firstLsn - 1, live.writtenLsn()),
        // The segment being written may be longer on disk (preallocated zeros): count its data.
        bytes: sealed ? (await handle.stat()).size : live.activeSegmentBytes(),
        createdAt: new Date('invalid' in header ? 0 : header.createdAtMs),
        sealed,
      });
    } finally {
      await handle.close();
    }
  }
  return out;
}
