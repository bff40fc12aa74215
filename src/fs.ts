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

/**
 * The path each open descriptor was opened with. Node's errors from calls on a descriptor
 * (read, writev, fdatasync...) carry no path; the log's errors must say which file failed.
 */
const pathOfFd = new Map<number, string>();

/** Runs a call on descriptor `fd`; an error it throws gets the descriptor's path. */
function onFd<T>(fd: number, call: () => T): T {
  try {
    return call();
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    if (e !== null && typeof e === 'object' && e.path === undefined) {
      const path = pathOfFd.get(fd);
      if (path !== undefined) e.path = path;
    }
    throw error;
  }
}

const { O_RDONLY, O_RDWR, O_WRONLY, O_CREAT, O_TRUNC, O_EXCL, O_NONBLOCK } = fs.constants;
/**
 * The open flags the log uses, non-blocking: a FIFO where a segment, a checkpoint or a draft
 * should be would otherwise block open() forever, in a thread even process.exit() then waits
 * for. (For regular files and directories O_NONBLOCK changes nothing.)
 */
const OPEN_FLAGS: Record<string, number> = {
  r: O_RDONLY | O_NONBLOCK,
  'r+': O_RDWR | O_NONBLOCK,
  w: O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK,
  wx: O_WRONLY | O_CREAT | O_TRUNC | O_EXCL | O_NONBLOCK,
};

/** Read-only and non-blocking, for the asynchronous readers' opens too. */
export const READ_NONBLOCKING = OPEN_FLAGS.r;

/** What opening something that is not a regular file (a FIFO, a socket, a device) throws. */
export function notRegularFile(path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`not a regular file: '${path}'`), { code: 'EFTYPE', syscall: 'open', path });
}

/** Opens `path` without blocking and refuses anything but a regular file or a directory. */
function openFileOrDirectory(path: string, flags: string, mode?: number): number {
  const fd = fs.openSync(path, OPEN_FLAGS[flags] ?? flags, mode);
  const stat = fs.fstatSync(fd);
  if (!stat.isFile() && !stat.isDirectory()) {
    fs.closeSync(fd);
    throw notRegularFile(path);
  }
  return fd;
}

export const nodeFs: FileSystem = {
  openSync: (path, flags, mode) => {
    const fd = openFileOrDirectory(path, flags, mode);
    pathOfFd.set(fd, path);
    return fd;
  },
  closeSync: (fd) => {
    pathOfFd.delete(fd);
    fs.closeSync(fd);
  },
  writevSync: (fd, buffers, position) => onFd(fd, () => fs.writevSync(fd, buffers, position)),
  readSync: (fd, buffer, offset, length, position) =>
    onFd(fd, () => fs.readSync(fd, buffer, offset, length, position)),
  fdatasyncSync: (fd) => onFd(fd, () => fs.fdatasyncSync(fd)),
  fsyncSync: (fd) => onFd(fd, () => fs.fsyncSync(fd)),
  ftruncateSync: (fd, length) => onFd(fd, () => fs.ftruncateSync(fd, length)),
  fstatSize: (fd) => onFd(fd, () => fs.fstatSync(fd).size),
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
