/** What the readers (readWal, sequential and parallel, and recoverState) share about the directory they read. */
import * as fs from 'node:fs';
import { ErrorCode, WalError } from '../errors.js';
import { notRegularFile, READ_NONBLOCKING } from '../fs.js';
import { type SegmentFile, segmentsAmong } from '../segment/naming.js';

/** How long a reader waits before reading a live segment again to confirm damage in it. */
export const CONFIRM_DELAY_MS = 20;

/** A reader's `dir` argument: a non-empty string, or WAL_INVALID_OPTION. */
export function checkDir(dir: unknown): string {
  if (typeof dir !== 'string' || dir === '') {
    throw new WalError(ErrorCode.INVALID_OPTION, 'dir must be a non-empty string');
  }
  return dir;
}

/** A `threads` option: an integer from 1 to 256, or WAL_INVALID_OPTION naming it. */
export function checkThreads(threads: unknown, name: string): number {
  if (!Number.isInteger(threads) || (threads as number) < 1 || (threads as number) > 256) {
    throw new WalError(ErrorCode.INVALID_OPTION, `${name} must be an integer from 1 to 256; got ${threads}`);
  }
  return threads as number;
}

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
 * Opens a segment to read it: without blocking (a FIFO under a segment's name would block
 * open() forever) and only if it is a regular file (an error with code EFTYPE otherwise).
 */
export async function openSegment(path: string): Promise<fs.promises.FileHandle> {
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
  const handle = await openSegment(path);
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
 * What a reader reports when reading segment `path` threw: a WalError as it is; a file that
 * vanished is WAL_SEGMENT_DELETED; any other error from the file system (EISDIR, EIO, a
 * dangling symbolic link...) is WAL_IO_ERROR naming the file. Anything else (a bug) is
 * returned as it is.
 */
export function segmentReadError(path: string, cause: unknown): unknown {
  if (cause instanceof WalError) return cause;
  const code = (cause as NodeJS.ErrnoException)?.code;
  // A name still there whose link points nowhere was not removed by retention.
  if (code === 'ENOENT' && !isSymlink(path)) return vanished(path);
  return typeof code === 'string' ? readFailed(path, cause) : cause;
}

/** A segment that could not be read (not a file, an I/O error): WAL_IO_ERROR naming it. */
export function readFailed(path: string, cause: unknown): WalError {
  return ioFailure(`cannot read ${path}`, path, cause);
}

/**
 * WAL_IO_ERROR for a file-system call on `path` that failed: `what` was being done, the
 * cause's message, errno and syscall. (src/errors.ts `ioError` is the writer's, whose
 * messages say which step of the writer failed.)
 */
function ioFailure(what: string, path: string, cause: unknown): WalError {
  const e = cause as NodeJS.ErrnoException;
  return new WalError(
    ErrorCode.IO_ERROR,
    `${what}: ${e?.message ?? String(cause)}`,
    { errno: e?.code, syscall: e?.syscall, path },
    { cause },
  );
}

export function vanished(path: string): WalError {
  return new WalError(
    ErrorCode.SEGMENT_DELETED,
    `${path} was deleted (by retention) before this reader got to it; read again from a later LSN`,
    { path },
  );
}

/** Whether `path` itself is a symbolic link: a name that is there although its file is not. */
function isSymlink(path: string): boolean {
  try {
    return fs.lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
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
