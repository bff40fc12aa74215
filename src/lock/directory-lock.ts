/**
 * One open log per directory, across threads, processes, containers and hosts that share it.
 *
 * Two layers, both on the file `LOCK` in the log directory:
 *
 * 1. The kernel lock (src/lock/kernel-lock.ts) decides between openers on one host, whatever
 *    PID namespace they run in, and is dropped by the kernel when its holder dies, so a
 *    SIGKILLed holder's lock is taken over at once. LOCK is opened (created if missing), locked,
 *    checked to still be the file named LOCK (a closing holder removes it), and then carries
 *    the owner record, rewritten in place.
 * 2. The owner record (src/lock/owner.ts) says who holds it: host, boot id, PID namespace, pid
 *    and start time. It decides what the kernel cannot: a record left by another host (whose
 *    kernel lock, on a network file system without lock support, this kernel cannot see) is
 *    refused, not taken over; one left by an earlier boot of this host is stale.
 *
 * Where the kernel lock is unavailable (no native module for this platform, or a file system
 * that refuses locks) the record alone decides, and LOCK's existence is the lock: it is
 * created atomically (written to a draft and hard-linked into place, or, on file systems
 * without hard links, created with O_EXCL and written in one call), and a lock is taken over
 * only when its owner is provably dead. An owner that cannot be told dead (another PID
 * namespace, another host, an unreadable record) is refused with WAL_LOCKED until someone
 * who has checked opens with `breakLock: true`.
 *
 * The lock needs no fsync: after a power cut no process holds it, and a record from an
 * earlier boot is stale by its boot id (or, if it was torn, by its modification time).
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { ErrorCode, WalError } from '../errors.js';
import { setCreatedMode } from '../fs.js';
import { type KernelLockResult, tryKernelLock } from './kernel-lock.js';
import {
  currentOwner,
  describeOwner,
  encodeOwner,
  judgeOwner,
  type OwnerRecord,
  parseOwner,
  type Verdict,
} from './owner.js';

export const LOCK_FILE = 'LOCK';

export interface LockOptions {
  /** Mode of a LOCK file this process creates. */
  fileMode: number;
  /** Take over a lock whose owner cannot be told dead (never one provably alive). */
  breakLock: boolean;
  /** Tests: false forces the identity-only lock, as on a platform without kernel locks. */
  kernelLock?: boolean;
}

const { O_RDWR, O_WRONLY, O_CREAT, O_EXCL, O_NONBLOCK } = fs.constants;
/** link() refused because the file system has no hard links (FAT, exFAT, many FUSE and SMB mounts). */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);
const ATTEMPTS = 5;

export class DirectoryLock {
  /** Made by `DirectoryLock.acquire` only. */
  constructor(
    readonly path: string,
    private readonly token: string,
    /** The descriptor holding the kernel lock, or -1 for an identity-only lock. */
    private fd: number,
  ) {}

  /** Whether the kernel arbitrates this lock (false: the owner record alone does). */
  get kernelLocked(): boolean {
    return this.fd >= 0;
  }

  static acquire(dir: string, options: LockOptions): DirectoryLock {
    const path = `${dir}/${LOCK_FILE}`;
    if (options.kernelLock !== false) {
      const lock = acquireKernelLock(dir, path, options);
      if (lock !== null) return lock;
    }
    return acquireByIdentity(dir, path, options);
  }

  /** Removes the lock if it is still ours, then lets go of the kernel lock. */
  release(): void {
    if (this.fd < 0) {
      if (parseOwner(readOrNull(this.path))?.token === this.token) fs.rmSync(this.path, { force: true });
      return;
    }
    const fd = this.fd;
    this.fd = -1;
    try {
      // Removed while still locked, so an opener that opened this file meanwhile finds it is
      // no longer the one named LOCK once it gets the lock, and starts again.
      if (namesFile(this.path, fd) && parseOwner(readFd(fd))?.token === this.token) fs.unlinkSync(this.path);
    } catch {
      // Nothing to undo: the kernel lock goes with the descriptor, and a record left behind is
      // taken over by the next opener on this host.
    } finally {
      fs.closeSync(fd);
    }
  }
}

/** The kernel-arbitrated lock, or null where kernel locks are unavailable. */
function acquireKernelLock(dir: string, path: string, options: LockOptions): DirectoryLock | null {
  const me = currentOwner(true);
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const fd = openLockFile(path, options.fileMode);
    if (fd === null) continue; // removed between two opens: start again
    let kept = false;
    try {
      const result: KernelLockResult = tryKernelLock(fd);
      if (result === 'unsupported') return null;
      if (result === 'busy') {
        throw lockedError(dir, path, parseOwner(readFd(fd)), me, { kind: 'alive' }, options.breakLock);
      }
      if (!namesFile(path, fd)) continue; // its holder removed it as it closed
      const owner = parseOwner(settledRecord(() => readFd(fd)));
      if (owner !== null) {
        // The kernel says no process on this kernel holds it, which settles it for an owner
        // that held the kernel lock on this kernel (any PID namespace); not for one that ran
        // elsewhere or without the kernel lock.
        const verdict: Verdict =
          owner.kernelLock && owner.bootId !== '' && owner.bootId === me.bootId
            ? { kind: 'dead', why: 'the kernel no longer holds its lock' }
            : judgeOwner(owner, me);
        if (!takeable(verdict, options.breakLock)) {
          throw lockedError(dir, path, owner, me, verdict, options.breakLock);
        }
      }
      writeRecordInPlace(fd, encodeOwner(me));
      kept = true;
      return new DirectoryLock(path, me.token, fd);
    } finally {
      if (!kept) fs.closeSync(fd);
    }
  }
  throw new WalError(
    ErrorCode.LOCKED,
    `${dir} is locked: its lock file kept changing while this open took it`,
    {
      path,
    },
  );
}

/** The lock decided by the owner record alone. */
function acquireByIdentity(dir: string, path: string, options: LockOptions): DirectoryLock {
  const me = currentOwner(false);
  const record = encodeOwner(me);
  // The record goes to a private draft first and is linked into place: link() fails atomically
  // if LOCK exists, and a LOCK made that way is never half-written.
  const draft = `${path}.new-${me.token}`;
  let links = true;
  try {
    writeNewFile(draft, record, options.fileMode);
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      if (links) {
        try {
          fs.linkSync(draft, path);
          return new DirectoryLock(path, me.token, -1);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code ?? '';
          if (NO_HARD_LINKS.has(code)) links = false;
          else if (code !== 'EEXIST') throw e;
        }
      }
      if (!links && writeNewFile(path, record, options.fileMode))
        return new DirectoryLock(path, me.token, -1);
      if (!isRegularFile(path)) throw notALock(path);
      const text = settledRecord(() => readOrNull(path));
      const owner = parseOwner(text);
      const verdict = owner !== null ? judgeOwner(owner, me) : unreadableRecord(path);
      if (!takeable(verdict, options.breakLock))
        throw lockedError(dir, path, owner, me, verdict, options.breakLock);
      takeOver(path, text);
    }
    throw new WalError(ErrorCode.LOCKED, `${dir} is locked: lost the race to take over a stale lock`, {
      path,
    });
  } finally {
    fs.rmSync(draft, { force: true });
  }
}

/** A dead owner's lock is taken over; one that cannot be told dead only with `breakLock`. */
function takeable(verdict: Verdict, breakLock: boolean): boolean {
  return verdict.kind === 'dead' || (verdict.kind === 'unknown' && breakLock);
}

function lockedError(
  dir: string,
  path: string,
  owner: OwnerRecord | null,
  me: OwnerRecord,
  verdict: Verdict,
  breakLock: boolean,
): WalError {
  const who = owner === null ? 'a process whose lock record is not readable yet' : describeOwner(owner, me);
  let message = `${dir} is locked by ${who}`;
  if (verdict.kind === 'alive') {
    message += breakLock ? '; breakLock refused: that process is alive' : '';
  } else if (verdict.kind === 'unknown') {
    message +=
      `; it cannot be told dead from here: ${verdict.why}. If you have made sure no process uses ` +
      'this log any more, open it with { breakLock: true } (refused while the holder is provably alive)';
  }
  if (owner === null) return new WalError(ErrorCode.LOCKED, message, { path });
  const { host, bootId, pidNamespace, pid, start, since, kernelLock } = owner;
  return new WalError(ErrorCode.LOCKED, message, {
    path,
    holder: { host, bootId, pidNamespace, pid, start, since, kernelLock },
  });
}

/**
 * A record that does not parse after a short wait: an owner that died while writing it, or
 * one that is still writing (an identity-only lock on a file system without hard links is
 * created empty, then written). Stale only if it was last written before this boot.
 */
function unreadableRecord(path: string): Verdict {
  try {
    const bootedAtMs = Date.now() - os.uptime() * 1000;
    // 2 s: FAT and exFAT keep modification times to 2 seconds.
    if (fs.statSync(path).mtimeMs < bootedAtMs - 2000)
      return { kind: 'dead', why: 'it was written before this boot' };
  } catch {
    // vanished meanwhile: the next attempt will tell
  }
  return {
    kind: 'unknown',
    why: 'its record is unreadable (an owner that died while writing it, or one still writing)',
  };
}

/** Reads a record, re-reading for up to ~200 ms while it is present but does not parse. */
function settledRecord(read: () => string | null): string | null {
  let text = read();
  for (let k = 0; k < 20 && text !== null && text !== '' && parseOwner(text) === null; k++) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    text = read();
  }
  return text;
}

/** Opens LOCK for the kernel lock, creating it with `mode` if missing; null if it vanished between tries. */
function openLockFile(path: string, mode: number): number | null {
  let fd: number;
  try {
    fd = fs.openSync(path, O_RDWR | O_CREAT | O_EXCL | O_NONBLOCK, mode);
    setCreatedMode(fd, mode);
    return fd;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  if (!isRegularFile(path)) throw notALock(path);
  try {
    fd = fs.openSync(path, O_RDWR | O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  if (!fs.fstatSync(fd).isFile()) {
    fs.closeSync(fd);
    throw notALock(path);
  }
  return fd;
}

/** Creates `path` exclusively with `bytes` in one write; false if it exists. */
function writeNewFile(path: string, bytes: Buffer, mode: number): boolean {
  let fd: number;
  try {
    fd = fs.openSync(path, O_WRONLY | O_CREAT | O_EXCL | O_NONBLOCK, mode);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    setCreatedMode(fd, mode);
    writeAll(fd, bytes);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

function writeRecordInPlace(fd: number, bytes: Buffer): void {
  writeAll(fd, bytes);
  fs.ftruncateSync(fd, bytes.length);
}

function writeAll(fd: number, bytes: Buffer): void {
  for (let at = 0; at < bytes.length; ) at += fs.writeSync(fd, bytes, at, bytes.length - at, at);
}

function readFd(fd: number): string {
  const size = Math.min(fs.fstatSync(fd).size, 64 * 1024);
  const buffer = Buffer.alloc(size);
  let got = 0;
  while (got < size) {
    const n = fs.readSync(fd, buffer, got, size - got, got);
    if (n === 0) break;
    got += n;
  }
  return buffer.toString('utf8', 0, got);
}

function readOrNull(path: string): string | null {
  try {
    return fs.readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Whether `path` still names the file open as `fd`. */
function namesFile(path: string, fd: number): boolean {
  try {
    const named = fs.statSync(path);
    const open = fs.fstatSync(fd);
    return named.ino === open.ino && named.dev === open.dev;
  } catch {
    return false;
  }
}

/** Whether `path` is a regular file; true when it has vanished meanwhile (the next step will tell). */
function isRegularFile(path: string): boolean {
  try {
    return fs.lstatSync(path).isFile();
  } catch {
    return true;
  }
}

function notALock(path: string): WalError {
  return new WalError(ErrorCode.IO_ERROR, `${path} is not a regular file; it cannot be the log's lock`, {
    path,
  });
}

/**
 * Moves a stale LOCK aside (atomic: of two racing openers only one moves a given file), checks
 * that what it moved is the stale lock it read, and puts back a fresh lock moved by mistake.
 */
function takeOver(path: string, staleText: string | null): void {
  const aside = `${path}.stale-${randomBytes(6).toString('hex')}`;
  try {
    fs.renameSync(path, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // someone else moved it; try again
    throw e;
  }
  if (readOrNull(aside) !== staleText) {
    fs.renameSync(aside, path);
    return;
  }
  fs.rmSync(aside, { force: true });
}
