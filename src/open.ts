/**
 * Opening a log: check the options, create the directory durably, take its lock, then start
 * the writer thread, which recovers the directory (src/wal.ts, Wal.start).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ErrorCode, WalError } from './errors.js';
import { DirectoryLock } from './lock.js';
import { fillOptions, type WalOptions } from './options.js';
import { Wal } from './wal.js';
import type { WriterData } from './writer/messages.js';

export function openWal(dir: string, options?: WalOptions): Promise<Wal> {
  return openWalWith(dir, options, {});
}

/** @internal `openWal` with test seams; not exported from the package. */
export async function openWalWith(
  dir: string,
  options: WalOptions | undefined,
  internals: Pick<WriterData, 'faultFs'>,
): Promise<Wal> {
  const filled = fillOptions(options);
  if (os.endianness() !== 'LE') {
    // Records are written through typed arrays in the machine's byte order; the format is little-endian.
    throw new WalError(ErrorCode.INVALID_OPTION, 'ringwal needs a little-endian machine');
  }
  if (typeof dir !== 'string' || dir === '') {
    throw new WalError(ErrorCode.INVALID_OPTION, 'dir must be a non-empty string');
  }
  const absolute = path.resolve(dir);
  try {
    await createDirectoryDurably(absolute);
  } catch (cause) {
    const e = cause as NodeJS.ErrnoException;
    throw new WalError(
      ErrorCode.IO_ERROR,
      `cannot create or open the log directory ${absolute}: ${e.message}`,
      { errno: e.code, syscall: e.syscall, path: absolute },
      { cause },
    );
  }
  const lock = DirectoryLock.acquire(absolute);
  try {
    return await Wal.start(absolute, filled, lock, internals);
  } catch (e) {
    lock.release();
    throw e;
  }
}

/** mkdir -p, then fsync each parent whose entries changed, so the directory survives a power cut. */
async function createDirectoryDurably(dir: string): Promise<void> {
  const created = await fs.promises.mkdir(dir, { recursive: true });
  if (created === undefined) return;
  let child = dir;
  while (child.length >= created.length) {
    const parent = path.dirname(child);
    const handle = await fs.promises.open(parent, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (parent === child) break;
    child = parent;
  }
}
