/** The synchronous driver of `scanSegment`, for the writer thread's recovery scan. */
import type { FileSystem } from '../fs.js';
import { type ScannedEntry, type ScanOptions, type ScanResult, scanSegment } from './segment-scanner.js';

export function scanSegmentFile(
  fsys: FileSystem,
  path: string,
  options: ScanOptions,
  onEntry?: (entry: ScannedEntry) => void,
): ScanResult {
  const fd = fsys.openSync(path, 'r');
  try {
    const walk = scanSegment(fsys.fstatSize(fd), options);
    let reply: Uint8Array | undefined;
    while (true) {
      const step = walk.next(reply);
      if (step.done) return step.value;
      reply = undefined;
      if (step.value.kind === 'read') reply = readAt(fsys, fd, step.value.position, step.value.length);
      else if (step.value.kind === 'entry') onEntry?.(step.value);
    }
  } finally {
    fsys.closeSync(fd);
  }
}

/** Reads into a new buffer each call, so views on what it returns stay valid (replay keeps some). */
export function readAt(fsys: FileSystem, fd: number, position: number, length: number): Uint8Array {
  const buffer = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const n = fsys.readSync(fd, buffer, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got === length ? buffer : buffer.subarray(0, got);
}
