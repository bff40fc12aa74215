/** The synchronous driver of `scanSegment`, for the writer thread's recovery scan and the replay workers. */

import { type EntryRun, type ScanOptions, type ScanResult, scanSegment } from '../format/segment-scanner.js';
import type { FileSystem } from '../fs.js';

/**
 * Walks `path`, calling `onEntries` for each run of entries; without it, the walk only
 * verifies (`ScanOptions.entries` false). A run is valid only during its
 * call: every read goes into one buffer, reused, so a scan of a large segment holds one
 * chunk of it in memory, not every chunk it ever read.
 */
export function scanSegmentFile(
  fsys: FileSystem,
  path: string,
  options: ScanOptions,
  onEntries?: (run: EntryRun) => void,
): ScanResult {
  const fd = fsys.openSync(path, 'r');
  let scratch = new Uint8Array(0);
  try {
    const walk = scanSegment(fsys.fstatSize(fd), onEntries ? options : { ...options, entries: false });
    let reply: Uint8Array | undefined;
    while (true) {
      const step = walk.next(reply);
      if (step.done) return step.value;
      reply = undefined;
      const item = step.value;
      if (item.kind === 'read') {
        // The scanner is done with its previous buffer once it asks for the next one.
        if (scratch.length < item.length) scratch = new Uint8Array(item.length);
        reply = readInto(fsys, fd, scratch, item.position, item.length);
      } else if (item.kind === 'entries') onEntries?.(item);
    }
  } finally {
    fsys.closeSync(fd);
  }
}

/** Reads into a new buffer each call, so views on what it returns stay valid. */
export function readAt(fsys: FileSystem, fd: number, position: number, length: number): Uint8Array {
  return readInto(fsys, fd, new Uint8Array(length), position, length);
}

export function readInto(
  fsys: FileSystem,
  fd: number,
  buffer: Uint8Array,
  position: number,
  length: number,
): Uint8Array {
  let got = 0;
  while (got < length) {
    const n = fsys.readSync(fd, buffer, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return buffer.subarray(0, got);
}
