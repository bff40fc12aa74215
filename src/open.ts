/**
 * Opening a log: check the options, create the directory durably, take its lock, then start
 * the writer thread, which recovers the directory (Wal.start, src/wal/writer-thread.ts).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadEncoder } from './encoding.js';
import { invalidOption, ioFailure, WalError } from './errors.js';
import { DIRECTORY_SYNC_UNSUPPORTED, setCreatedMode } from './fs.js';
import { DirectoryLock } from './lock/directory-lock.js';
import { checkDir, fillOptions, type WalOptions } from './options.js';
import { Wal } from './wal.js';
import type { WriterData } from './writer/messages.js';

export function openWal(dir: string, options?: WalOptions): Promise<Wal> {
  return openWalWith(dir, options, {});
}

/** @internal Test seams of `openWal`. */
export interface OpenInternals extends Pick<WriterData, 'faultFs'> {
  /** false: the identity-only directory lock, as on a platform without kernel locks. */
  kernelLock?: boolean;
}

/** @internal `openWal` with test seams; not exported from the package. */
export async function openWalWith(
  dir: string,
  options: WalOptions | undefined,
  internals: OpenInternals,
): Promise<Wal> {
  const filled = fillOptions(options);
  if (os.endianness() !== 'LE') {
    // Records are written through typed arrays in the machine's byte order; the format is little-endian.
    throw invalidOption('ringwal needs a little-endian machine');
  }
  const absolute = path.resolve(checkDir(dir));
  await loadEncoder();
  try {
    await createDirectoryDurably(absolute, filled.dirMode);
  } catch (cause) {
    throw ioFailure(`cannot create or open the log directory ${absolute}`, absolute, cause);
  }
  let lock: DirectoryLock;
  try {
    lock = DirectoryLock.acquire(absolute, {
      fileMode: filled.fileMode,
      breakLock: filled.breakLock,
      kernelLock: internals.kernelLock,
    });
  } catch (cause) {
    if (cause instanceof WalError) throw cause;
    const lockPath = (cause as NodeJS.ErrnoException).path ?? absolute;
    throw ioFailure(`cannot take the lock of the log directory ${absolute}`, lockPath, cause);
  }
  try {
    return await Wal.start(absolute, filled, lock, { faultFs: internals.faultFs });
  } catch (e) {
    lock.release();
    throw e;
  }
}

/**
 * mkdir -p, then fsync each parent whose entries changed, so the directory survives a power
 * cut. One level at a time rather than `mkdir(dir, { recursive: true })`: Node's recursive
 * mkdir never returns for some paths (under /proc, where mkdir fails with ENOENT below a
 * parent that exists, it retries forever), and a bad path must be an error, not a hang.
 */
async function createDirectoryDurably(dir: string, mode: number): Promise<void> {
  const missing: string[] = []; // deepest first
  for (let at = dir; ; ) {
    let stat: fs.Stats;
    try {
      stat = await fs.promises.stat(at);
    } catch (cause) {
      const parent = path.dirname(at);
      if ((cause as NodeJS.ErrnoException).code !== 'ENOENT' || parent === at) throw cause;
      missing.push(at);
      at = parent;
      continue;
    }
    if (!stat.isDirectory()) {
      throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${at}'`), {
        code: 'ENOTDIR',
        syscall: 'mkdir',
        path: at,
      });
    }
    break;
  }
  const created: string[] = [];
  for (let k = missing.length - 1; k >= 0; k--) {
    try {
      await fs.promises.mkdir(missing[k], mode);
      created.push(missing[k]);
    } catch (cause) {
      // Another process created it meanwhile: fine if it is a directory (the next mkdir or
      // the lock will tell otherwise), and its mode is that process's business.
      if ((cause as NodeJS.ErrnoException).code !== 'EEXIST') throw cause;
    }
  }
  for (const made of created) {
    // mkdir applied the umask; the mode must be exactly what was asked for.
    const handle = await fs.promises.open(made, 'r');
    try {
      setCreatedMode(handle.fd, mode);
    } finally {
      await handle.close();
    }
  }
  for (const made of missing) {
    const handle = await fs.promises.open(path.dirname(made), 'r');
    try {
      await handle.sync();
    } catch (cause) {
      if (!DIRECTORY_SYNC_UNSUPPORTED.has((cause as NodeJS.ErrnoException).code ?? '')) throw cause;
    } finally {
      await handle.close();
    }
  }
}
