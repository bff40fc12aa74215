/**
 * The kernel's arbitration of one writer per log: an open file description lock
 * (`fcntl(F_OFD_SETLK)`, whole file, exclusive) on the LOCK file. The kernel holds it for the
 * descriptor, across PID namespaces (containers on one host share one lock table), and drops
 * it when the holder dies however it dies, so a SIGKILLed holder never leaves a stale lock.
 * Unlike classic POSIX locks, two descriptors in one process conflict too.
 *
 * Node has no fcntl locks; `fs-native-extensions` (holepunchto, N-API, prebuilt for Linux,
 * macOS and Windows, no compiler at install) provides them. Where it cannot load (a platform
 * without a prebuild, musl) or the file system refuses locks (NFS mounted without a lock
 * service says ENOLCK), `tryKernelLock` says 'unsupported' and the directory lock falls back
 * to owner identity alone (src/lock/directory-lock.ts).
 */
import { createRequire } from 'node:module';

interface NativeLocks {
  tryLock(fd: number, offset?: number, length?: number, options?: { shared?: boolean }): boolean;
}

let native: NativeLocks | null | undefined;

function nativeLocks(): NativeLocks | null {
  if (native === undefined) {
    try {
      native = createRequire(import.meta.url)('fs-native-extensions') as NativeLocks;
    } catch {
      native = null;
    }
  }
  return native;
}

/** errnos meaning "this file system (or kernel) has no such lock", not "someone holds it". */
const UNSUPPORTED = new Set(['ENOLCK', 'EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

export type KernelLockResult = 'held' | 'busy' | 'unsupported';

/** Takes the exclusive lock on `fd` (open for writing) without waiting. */
export function tryKernelLock(fd: number): KernelLockResult {
  const locks = nativeLocks();
  if (locks === null) return 'unsupported';
  try {
    return locks.tryLock(fd) ? 'held' : 'busy';
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    if (code === 'EACCES') return 'busy'; // POSIX allows EACCES for a conflicting lock
    if (UNSUPPORTED.has(code)) return 'unsupported';
    throw e;
  }
}

/** Whether kernel locks can be used at all in this process (the native module loads). */
export function kernelLocksAvailable(): boolean {
  return nativeLocks() !== null;
}
