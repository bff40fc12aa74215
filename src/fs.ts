/**
 * The file-system seam. The writer and the recovery scan use only these calls, so tests can
 * hand them a file system that fails on demand. `nodeFs` is the real one: plain `node:fs`
 * synchronous calls (the writer runs on its own thread, where blocking is the point).
 */
import * as fs from 'node:fs';

export interface FileSystem {
  openSync(path: string, flags: string, mode?: number): number;
  closeSync(fd: number): void;
  /** Positional; may write fewer bytes than asked (a nearly full disk does). */
  writevSync(fd: number, buffers: readonly NodeJS.ArrayBufferView[], position: number): number;
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number;
  fdatasyncSync(fd: number): void;
  fsyncSync(fd: number): void;
  ftruncateSync(fd: number, length: number): void;
  fstatSize(fd: number): number;
  renameSync(from: string, to: string): void;
  unlinkSync(path: string): void;
  readdirSync(path: string): string[];
  mkdirSync(path: string): void;
  existsSync(path: string): boolean;
}

export const nodeFs: FileSystem = {
  openSync: (path, flags, mode) => fs.openSync(path, flags, mode),
  closeSync: (fd) => fs.closeSync(fd),
  writevSync: (fd, buffers, position) => fs.writevSync(fd, buffers, position),
  readSync: (fd, buffer, offset, length, position) => fs.readSync(fd, buffer, offset, length, position),
  fdatasyncSync: (fd) => fs.fdatasyncSync(fd),
  fsyncSync: (fd) => fs.fsyncSync(fd),
  ftruncateSync: (fd, length) => fs.ftruncateSync(fd, length),
  fstatSize: (fd) => fs.fstatSync(fd).size,
  renameSync: (from, to) => fs.renameSync(from, to),
  unlinkSync: (path) => fs.unlinkSync(path),
  readdirSync: (path) => fs.readdirSync(path),
  mkdirSync: (path) => fs.mkdirSync(path, { recursive: true }),
  existsSync: (path) => fs.existsSync(path),
};

/** Makes a directory's entries (new, renamed, removed files) durable. Linux supports fsync on a directory fd. */
export function syncDirectory(fsys: FileSystem, dir: string): void {
  const fd = fsys.openSync(dir, 'r');
  try {
    fsys.fsyncSync(fd);
  } finally {
    fsys.closeSync(fd);
  }
}

/** Creates (`flags` 'wx') or replaces ('w') a small file with `bytes` and fsyncs it. */
export function writeFileSynced(fsys: FileSystem, path: string, bytes: Uint8Array, flags: 'w' | 'wx'): void {
  const fd = fsys.openSync(path, flags);
  try {
    writeFully(fsys, fd, [bytes], 0, bytes.length);
    fsys.fsyncSync(fd);
  } finally {
    fsys.closeSync(fd);
  }
}

/**
 * Writes every byte of `buffers` at `position`. A short write (seen on nearly full file
 * systems, without an error) is continued; the next call then finishes or throws ENOSPC.
 * A batch is never fdatasync'd and acknowledged unless all of it was written.
 */
export function writeFully(
  fsys: FileSystem,
  fd: number,
  buffers: readonly Uint8Array[],
  position: number,
  totalBytes: number,
): void {
  let pending = buffers;
  let remaining = totalBytes;
  while (remaining > 0) {
    const n = fsys.writevSync(fd, pending, position);
    if (n === remaining) return;
    if (!(n > 0))
      throw Object.assign(new Error('writev made no progress'), { code: 'EIO', syscall: 'writev' });
    position += n;
    remaining -= n;
    pending = dropPrefix(pending, n);
  }
}

function dropPrefix(buffers: readonly Uint8Array[], bytes: number): Uint8Array[] {
  const rest: Uint8Array[] = [];
  for (const b of buffers) {
    if (bytes >= b.byteLength) {
      bytes -= b.byteLength;
      continue;
    }
    rest.push(bytes > 0 ? b.subarray(bytes) : b);
    bytes = 0;
  }
  return rest;
}
