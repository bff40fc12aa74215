/**
 * One open log per directory, across threads and processes. Node has no flock(), so the lock
 * is a file, created atomically, that names its owner: pid and the process's start time (from
 * /proc, so a recycled pid is not mistaken for the owner) plus a random token.
 *
 * A lock whose owner is gone is taken over: it is renamed aside (atomic; of two racing
 * openers only one can move a given file), the mover checks that what it moved is the stale
 * lock it read (if another opener's fresh lock was moved instead, it is put back and the
 * open fails as locked), and then creates its own as usual.
 *
 * The lock needs no fsync: after a power cut no process holds it, and an empty or missing
 * LOCK is simply free.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { ErrorCode, WalError } from './errors.js';

export const LOCK_FILE = 'LOCK';

interface LockOwner {
  pid: number;
  start: string;
  token: string;
}

/** Start time of a process in clock ticks since boot, or '' where /proc is unavailable. */
function processStart(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22; the command name (field 2) may contain spaces, so count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null; // no such process
    return '';
  }
}

function isAlive(owner: LockOwner): boolean {
  if (!Number.isInteger(owner.pid) || owner.pid <= 0) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const start = processStart(owner.pid);
  if (start === null) return false;
  return start === '' || owner.start === '' || start === owner.start;
}

function readOwner(path: string): LockOwner | null {
  try {
    const owner = JSON.parse(fs.readFileSync(path, 'utf8')) as LockOwner;
    return typeof owner === 'object' && owner !== null ? owner : null;
  } catch {
    return null; // unreadable or half-written: its creator died before finishing it
  }
}

export class DirectoryLock {
  private constructor(
    readonly path: string,
    private readonly token: string,
  ) {}

  static acquire(dir: string): DirectoryLock {
    const path = `${dir}/${LOCK_FILE}`;
    const me: LockOwner = {
      pid: process.pid,
      start: processStart(process.pid) ?? '',
      token: randomBytes(8).toString('hex'),
    };
    // The content is written to a private file first and linked into place: link() fails
    // atomically if LOCK exists, and a LOCK that exists is never half-written.
    const draft = `${path}.new-${me.token}`;
    fs.writeFileSync(draft, JSON.stringify(me));
    try {
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          fs.linkSync(draft, path);
          return new DirectoryLock(path, me.token);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        }
        if (!isRegularFile(path)) {
          // Not a lock this code wrote: a stale-lock takeover would move it aside and fail on it.
          throw new WalError(
            ErrorCode.IO_ERROR,
            `${path} is not a regular file; it cannot be the log's lock`,
            {
              path,
            },
          );
        }
        const text = safeRead(path);
        const owner = readOwner(path);
        if (owner && isAlive(owner)) {
          const who = owner.pid === process.pid ? 'another open log in this process' : `process ${owner.pid}`;
          throw new WalError(ErrorCode.LOCKED, `${dir} is locked by ${who}`, { path });
        }
        takeOver(path, text);
      }
      throw new WalError(ErrorCode.LOCKED, `${dir} is locked: lost the race to take over a stale lock`, {
        path,
      });
    } finally {
      fs.rmSync(draft, { force: true });
    }
  }

  /** Removes the lock if it is still ours. */
  release(): void {
    const owner = readOwner(this.path);
    if (owner?.token === this.token) fs.rmSync(this.path, { force: true });
  }
}

/** Whether `path` is a regular file; true when it has vanished meanwhile (the next link will tell). */
function isRegularFile(path: string): boolean {
  try {
    return fs.lstatSync(path).isFile();
  } catch {
    return true;
  }
}

function safeRead(path: string): string | null {
  try {
    return fs.readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function takeOver(path: string, staleText: string | null): void {
  const aside = `${path}.stale-${randomBytes(6).toString('hex')}`;
  try {
    fs.renameSync(path, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // someone else moved it; try again
    throw e;
  }
  const moved = safeRead(aside);
  if (moved !== staleText) {
    // We moved a lock created after we read the stale one: give it back.
    fs.renameSync(aside, path);
    return;
  }
  fs.rmSync(aside, { force: true });
}
