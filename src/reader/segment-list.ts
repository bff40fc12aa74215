/** What the readers (readWal, sequential and parallel, and recoverState) share about the directory they read. */
import * as fs from 'node:fs';
import { ioFailure } from '../errors.js';
import { isAllZeros } from '../fs.js';
import { type SegmentFile, segmentsAmong } from '../segment/naming.js';

/** How long a reader waits before reading a live segment again to confirm damage in it. */
export const CONFIRM_DELAY_MS = 20;

/** The directory's segments, in LSN order. A directory that cannot be listed (missing, not a directory) is WAL_IO_ERROR. */
export async function listSegmentsAsync(dir: string): Promise<SegmentFile[]> {
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch (cause) {
    throw ioFailure(`cannot list the log directory ${dir}`, dir, cause);
  }
  return segmentsAmong(dir, names);
}

/**
 * A last segment out of LSN sequence that is nothing but zeros holds no entry (a file system
 * lost its header's blocks; the next open sets it aside): the end of the log, not a gap.
 * Checked before the gap, as open does (src/recovery/open-scan.ts).
 */
export async function emptyLastSegment(
  segments: SegmentFile[],
  i: number,
  expectFirst: number,
): Promise<boolean> {
  if (i !== segments.length - 1 || expectFirst === 0 || segments[i].firstLsn === expectFirst) return false;
  return isAllZeros(segments[i].path);
}

/**
 * Gives the event loop a turn during a long read. A reader whose data is already in memory
 * (the parallel reader's ranges, a chunk just read) resolves every `next()` as a microtask,
 * so without this a caller's timers and I/O would wait for the whole read.
 */
export class Breather {
  private count = 0;
  private last = performance.now();

  /** Call once per entry; now and then returns a promise to await (a macrotask turn). */
  due(): boolean {
    if ((++this.count & 255) !== 0) return false;
    const now = performance.now();
    if (now - this.last < BREATH_MS) return false;
    this.last = now;
    return true;
  }

  /** Call once per batch of `entries`; as `due`. */
  dueAfter(entries: number): boolean {
    const before = this.count;
    this.count += entries;
    if (before >> 8 === this.count >> 8) return false;
    const now = performance.now();
    if (now - this.last < BREATH_MS) return false;
    this.last = now;
    return true;
  }

  turn(): Promise<void> {
    return new Promise((resolve) => {
      setImmediate(() => {
        this.last = performance.now();
        resolve();
      });
    });
  }
}

/** The longest a reader keeps the event loop to itself. */
const BREATH_MS = 5;
