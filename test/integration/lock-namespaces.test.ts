/**
 * One writer per log across PID namespaces (issue #16): a log held by a process in its own
 * PID namespace (as in a container: `unshare -p -f --mount-proc`), opened from outside it, and
 * the reverse. Real processes, killed with SIGKILL.
 *
 * With the kernel lock (the default where it is available) the second open is refused while
 * the holder lives, whichever namespace each is in, and succeeds at once after the holder is
 * SIGKILLed. With the identity-only lock (platforms without kernel locks) a holder in another
 * namespace cannot be told dead: the open is refused, before and after the kill, until
 * `breakLock: true`, which is itself refused while the holder is provably alive.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, openWal, type WalError } from '../../src/index.js';
import { exited, FIXTURES, lines, startFixture, stderrOf } from '../helpers/child.js';
import { readAll } from '../helpers/read.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs();
afterAll(() => tmp.removeAll());

const probe = spawnSync('unshare', ['-p', '-f', '--mount-proc', 'true'], { encoding: 'utf8' });
const unshareRefused =
  probe.error || probe.status !== 0
    ? `unshare -p -f --mount-proc is refused here (${probe.error?.message ?? probe.stderr.trim()}); needs root or user namespaces`
    : '';
if (unshareRefused) console.log(`lock-namespaces: skipped: ${unshareRefused}`);

const myPidNamespace = fs.readlinkSync('/proc/self/ns/pid');
const running: ChildProcess[] = [];
afterEach(() => {
  for (const child of running.splice(0)) {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  }
});

/** Runs a fixture inside a new PID namespace, as its pid 1, in a process group of its own. */
function inNamespace(fixture: string, args: string[]): ChildProcess {
  const child = spawn(
    'unshare',
    ['-p', '-f', '--mount-proc', process.execPath, path.join(FIXTURES, fixture), ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  running.push(child);
  return child;
}

function firstLine(child: ChildProcess, what: string): Promise<string> {
  const stderr = stderrOf(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${what}: no output in 20 s; stderr: ${stderr()}`)),
      20_000,
    );
    lines(child, (line) => {
      clearTimeout(timer);
      resolve(line);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code ?? signal}) before printing; stderr: ${stderr()}`));
    });
  });
}

interface OpenResult {
  ok: boolean;
  code?: string;
  message?: string;
  holder?: { pid: number; pidNamespace: string; host: string; kernelLock: boolean };
}

async function openInNamespace(dir: string, ...args: string[]): Promise<OpenResult> {
  const child = inNamespace('lock-opener.mjs', [dir, ...args]);
  const line = await firstLine(child, 'opener in a namespace');
  await exited(child);
  return JSON.parse(line) as OpenResult;
}

async function openOutside(dir: string, ...args: string[]): Promise<OpenResult> {
  const child = startFixture('lock-opener.mjs', [dir, ...args]);
  running.push(child);
  const line = await firstLine(child, 'opener');
  await exited(child);
  return JSON.parse(line) as OpenResult;
}

/** Starts a holder inside a namespace and waits until it holds the log. */
async function holdInNamespace(
  dir: string,
  lockMode: 'kernel' | 'identity',
): Promise<{ child: ChildProcess }> {
  const child = inNamespace('lock-holder.mjs', [dir, lockMode]);
  const ready = await firstLine(child, 'holder in a namespace');
  expect(ready).toMatch(/^ready 1 /); // pid 1 of its own namespace
  expect(ready.split(' ')[2]).not.toBe(myPidNamespace);
  return { child };
}

/**
 * SIGKILLs the namespace's whole process group and waits until the kernel has let go of the
 * holder's lock. (Its main thread can be a zombie while its other threads still exit, and the
 * descriptors close with the last one; nothing here may reap it, its parent being dead.)
 */
async function killNamespace(holder: { child: ChildProcess }, dir: string): Promise<void> {
  process.kill(-holder.child.pid!, 'SIGKILL');
  await exited(holder.child);
  const inode = `:${fs.statSync(path.join(dir, 'LOCK')).ino} `;
  for (let waited = 0; fs.readFileSync('/proc/locks', 'utf8').includes(inode); waited += 10) {
    if (waited > 10_000) throw new Error('the holder still holds its kernel lock 10 s after SIGKILL');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function openError(promise: Promise<unknown>): Promise<WalError> {
  try {
    const wal = (await promise) as { close(): Promise<void> };
    await wal.close();
  } catch (e) {
    return e as WalError;
  }
  throw new Error('the open succeeded; it should have been refused');
}

describe.skipIf(unshareRefused !== '')('the directory lock across PID namespaces', () => {
  it('kernel lock: a holder inside a namespace refuses an opener outside it, and is taken over once SIGKILLed', async () => {
    const dir = tmp.dir('ringwal-ns-');
    const holder = await holdInNamespace(dir, 'kernel');

    const refused = await openError(openWal(dir));
    expect(refused.code).toBe(ErrorCode.LOCKED);
    expect(refused.holder).toMatchObject({ pid: 1, kernelLock: true });
    expect(refused.holder!.pidNamespace).not.toBe(myPidNamespace);
    expect(refused.message).toContain('process 1');
    expect(refused.message).toContain(`PID namespace ${refused.holder!.pidNamespace}`);
    // breakLock never breaks a lock the kernel says is held.
    expect((await openError(openWal(dir, { breakLock: true }))).code).toBe(ErrorCode.LOCKED);

    await killNamespace(holder, dir);
    const wal = await openWal(dir);
    expect(wal.lastLsn).toBe(1);
    await wal.append('after');
    await wal.close();
    expect((await readAll(dir)).map((e) => e.value)).toEqual(['held', 'after']);
  });

  it('kernel lock: a holder outside refuses an opener inside a namespace, and is taken over once SIGKILLed', async () => {
    const dir = tmp.dir('ringwal-ns-');
    const holder = startFixture('lock-holder.mjs', [dir, 'kernel']);
    running.push(holder);
    expect(await firstLine(holder, 'holder')).toBe(`ready ${holder.pid} ${myPidNamespace}`);

    const refused = await openInNamespace(dir, 'kernel');
    expect(refused).toMatchObject({
      ok: false,
      code: ErrorCode.LOCKED,
      holder: { pid: holder.pid, kernelLock: true },
    });
    expect(refused.message).toContain(`process ${holder.pid}`);
    expect(refused.holder!.pidNamespace).toBe(myPidNamespace);

    holder.kill('SIGKILL');
    await exited(holder);
    expect(await openInNamespace(dir, 'kernel')).toEqual({ ok: true, lastLsn: 1 });
  });

  it('identity lock: a holder in another namespace is refused, alive or SIGKILLed, until breakLock', async () => {
    const dir = tmp.dir('ringwal-ns-');
    const holder = await holdInNamespace(dir, 'identity');

    const alive = await openOutside(dir, 'identity');
    expect(alive).toMatchObject({ ok: false, code: ErrorCode.LOCKED, holder: { pid: 1, kernelLock: false } });
    expect(alive.message).toContain('another PID namespace');
    expect(alive.message).toContain('breakLock');
    // The kernel-lock path reads the same record: an identity-only holder is not judged by the kernel.
    expect(await openOutside(dir, 'kernel')).toMatchObject({ ok: false, code: ErrorCode.LOCKED });

    await killNamespace(holder, dir);
    // Dead now, but nothing outside its namespace can prove it: still refused, with the way out.
    const dead = await openOutside(dir, 'identity');
    expect(dead).toMatchObject({ ok: false, code: ErrorCode.LOCKED, holder: { pid: 1 } });
    expect(dead.message).toContain('{ breakLock: true }');
    expect(await openOutside(dir, 'identity', 'break')).toEqual({ ok: true, lastLsn: 1 });
  });

  it('identity lock: a SIGKILLed holder in the same namespace is taken over at once; breakLock is refused while it lives', async () => {
    const dir = tmp.dir('ringwal-ns-');
    const holder = startFixture('lock-holder.mjs', [dir, 'identity']);
    running.push(holder);
    await firstLine(holder, 'holder');

    const refused = await openOutside(dir, 'identity', 'break');
    expect(refused).toMatchObject({ ok: false, code: ErrorCode.LOCKED, holder: { pid: holder.pid } });
    expect(refused.message).toContain('breakLock refused: that process is alive');
    // And from inside a namespace, where the holder's pid cannot be checked, also refused.
    expect(await openInNamespace(dir, 'identity')).toMatchObject({ ok: false, code: ErrorCode.LOCKED });

    holder.kill('SIGKILL');
    await exited(holder);
    expect(await openOutside(dir, 'identity')).toEqual({ ok: true, lastLsn: 1 });
  });
});
