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

/** Files a log creates are private by default (etcd uses 0600 for its WAL; PostgreSQL refuses others' access). */
export const DEFAULT_FILE_MODE = 0o600;
/** Directories `openWal` creates: private by default. */
export const DEFAULT_DIR_MODE = 0o700;

/** chmod refused because the file system keeps no Unix modes (FAT, exFAT, some FUSE): not an error. */
const NO_UNIX_MODES = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/**
 * Gives a file or directory this process just created exactly `mode`: open() and mkdir() apply
 * the process umask, which would make a configured group-readable mode private (or, with umask
 * 0, leave nothing to do). File systems without Unix modes ignore or refuse the change; their
 * mount options (uid, gid, fmask, dmask) decide who can read, and docs/DURABILITY.md says so.
 */
export function setCreatedMode(fd: number, mode: number, currentMode?: number): void {
  try {
    if (((currentMode ?? fs.fstatSync(fd).mode) & 0o777) !== mode) fs.fchmodSync(fd, mode);
  } catch (e) {
    if (!NO_UNIX_MODES.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
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

/**
 * Opens `path` without blocking and refuses anything but a regular file or a directory. A
 * file opened to be written ('w', 'wx') gets `mode` exactly, whatever the umask.
 */
function openFileOrDirectory(path: string, flags: string, mode: number): number {
  const fd = fs.openSync(path, OPEN_FLAGS[flags] ?? flags, mode);
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile() && !stat.isDirectory()) throw notRegularFile(path);
    if (flags === 'w' || flags === 'wx') setCreatedMode(fd, mode, stat.mode);
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
  return fd;
}

/** The real file system; files it creates get `fileMode` (docs/DURABILITY.md, "Who can read a log"). */
export function nodeFileSystem(fileMode: number): FileSystem {
  return { ...nodeFs, openSync: (path, flags, mode) => openNamed(path, flags, mode ?? fileMode) };
}

function openNamed(path: string, flags: string, mode: number): number {
  const fd = openFileOrDirectory(path, flags, mode);
  pathOfFd.set(fd, path);
  return fd;
}

export const nodeFs: FileSystem = {
  openSync: (path, flags, mode) => openNamed(path, flags, mode ?? DEFAULT_FILE_MODE),
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

/**
 * errnos with which some file systems refuse fsync on a directory as an operation they do not
 * have (some FUSE and network file systems say EINVAL), not as a failed write-back. PostgreSQL
 * ignores EINVAL there too (fsync_fname_ext); any other error is a failed sync.
 */
export const DIRECTORY_SYNC_UNSUPPORTED = new Set(['EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/**
 * Makes a directory's entries (new, renamed, removed files) durable. Linux supports fsync on a
 * directory fd; where the file system does not, its own guarantees for names are all there is
 * (docs/DURABILITY.md, "File systems").
 */
export function syncDirectory(fsys: FileSystem, dir: string): void {
  const fd = fsys.openSync(dir, 'r');
  try {
    fsys.fsyncSync(fd);
  } catch (e) {
    if (!DIRECTORY_SYNC_UNSUPPORTED.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
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

/**
 * Opens a file (a segment, a checkpoint) to read it asynchronously: without blocking (a FIFO under a segment's name would block
 * open() forever) and only if it is a regular file (an error with code EFTYPE otherwise).
 */
export async function openRegularFile(path: string): Promise<fs.promises.FileHandle> {
  const handle = await fs.promises.open(path, READ_NONBLOCKING);
  let isFile = false;
  try {
    isFile = (await handle.stat()).isFile();
  } finally {
    if (!isFile) await handle.close();
  }
  if (!isFile) throw notRegularFile(path);
  return handle;
}

/** Bytes read at a time by `isAllZeros`: what the check holds, however large the file. */
const ZEROS_CHUNK_BYTES = 64 * 1024;

/**
 * Whether every byte of the file is zero (an empty file is). Reads a fixed-size chunk at a
 * time, never larger than the file, and stops at the first non-zero byte.
 */
export async function isAllZeros(path: string): Promise<boolean> {
  const handle = await openRegularFile(path);
  try {
    const chunk = new Uint8Array(Math.min(ZEROS_CHUNK_BYTES, (await handle.stat()).size));
    if (chunk.length === 0) return true;
    for (let position = 0; ; ) {
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, position);
      if (bytesRead === 0) return true;
      for (let i = 0; i < bytesRead; i++) if (chunk[i] !== 0) return false;
      position += bytesRead;
    }
  } finally {
    await handle.close();
  }
}
