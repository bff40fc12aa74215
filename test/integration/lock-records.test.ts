/**
 * What the directory lock makes of the owner record a LOCK file holds (issue #16): a record
 * from an earlier boot of this host is stale, one from another host is refused until
 * `breakLock`, a torn one is judged by when it was written. Each case under the kernel lock
 * (the default) and the identity-only lock (platforms without kernel locks).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCode, WalError } from '../../src/index.js';
import { openWalWith } from '../../src/open.js';
import type { WalOptions } from '../../src/options.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs();
afterAll(() => tmp.removeAll());

const me = {
  host: os.hostname(),
  bootId: fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
  pidNamespace: fs.readlinkSync('/proc/self/ns/pid'),
};

/** A record naming pid 1 (alive in every namespace) with `changes`. */
function record(changes: Record<string, unknown>): string {
  return `${JSON.stringify({
    v: 1,
    ...me,
    pid: 1,
    start: '1',
    token: 'feedfeedfeedfeed',
    since: '2026-12-01T00:00:00.000Z',
    kernelLock: true,
    ...changes,
  })}\n`;
}

async function open(
  dir: string,
  kernelLock: boolean,
  options: WalOptions = {},
): Promise<'opened' | WalError> {
  try {
    const wal = await openWalWith(dir, options, { kernelLock });
    await wal.close();
    return 'opened';
  } catch (e) {
    if (e instanceof WalError) return e;
    throw e;
  }
}

function logWithLock(content: string): string {
  const dir = tmp.dir('ringwal-lockrec-');
  fs.writeFileSync(path.join(dir, 'LOCK'), content);
  return dir;
}

describe.each([
  ['kernel lock', true],
  ['identity lock', false],
])('LOCK records (%s)', (_, kernelLock) => {
  it('takes over a lock written in an earlier boot of this host', async () => {
    for (const wasKernel of [true, false]) {
      const dir = logWithLock(record({ bootId: 'an-earlier-boot', kernelLock: wasKernel }));
      expect(await open(dir, kernelLock)).toBe('opened');
      expect(fs.existsSync(path.join(dir, 'LOCK'))).toBe(false);
    }
  });

  it('refuses a lock naming another host, names it, and says how to break it', async () => {
    const dir = logWithLock(record({ host: 'db-2.example', bootId: 'another-kernel' }));
    const refused = await open(dir, kernelLock);
    expect(refused).toBeInstanceOf(WalError);
    const e = refused as WalError;
    expect(e.code).toBe(ErrorCode.LOCKED);
    expect(e.holder).toMatchObject({ host: 'db-2.example', pid: 1, since: '2026-12-01T00:00:00.000Z' });
    expect(e.message).toContain('process 1 on host "db-2.example"');
    expect(e.message).toContain('another host');
    expect(e.message).toContain('{ breakLock: true }');
    // Refused without changing it; then broken by hand.
    expect(fs.readFileSync(path.join(dir, 'LOCK'), 'utf8')).toContain('db-2.example');
    expect(await open(dir, kernelLock, { breakLock: true })).toBe('opened');
  });

  it('refuses a lock taken in another PID namespace of this boot without the kernel lock', async () => {
    const dir = logWithLock(record({ pidNamespace: 'pid:[1]', kernelLock: false }));
    const refused = (await open(dir, kernelLock)) as WalError;
    expect(refused.code).toBe(ErrorCode.LOCKED);
    expect(refused.message).toContain('another PID namespace');
    expect(await open(dir, kernelLock, { breakLock: true })).toBe('opened');
  });

  it('refuses breakLock while the recorded owner is provably alive (this very process)', async () => {
    const self = fs.readFileSync('/proc/self/stat', 'utf8');
    const start = self.slice(self.lastIndexOf(')') + 2).split(' ')[19];
    const dir = logWithLock(record({ pid: process.pid, start, kernelLock: false }));
    const refused = (await open(dir, kernelLock, { breakLock: true })) as WalError;
    expect(refused.code).toBe(ErrorCode.LOCKED);
    expect(refused.message).toContain('breakLock refused');
  });

  it('judges a torn record by when it was written', async () => {
    const torn = record({}).slice(0, 40);
    const fresh = logWithLock(torn);
    if (kernelLock) {
      // The kernel lock is free, so no owner on this host is alive; a torn record is stale.
      expect(await open(fresh, kernelLock)).toBe('opened');
    } else {
      // Without it, a torn record may be an owner still writing: refused...
      const refused = (await open(fresh, kernelLock)) as WalError;
      expect(refused.code).toBe(ErrorCode.LOCKED);
      expect(refused.message).toContain('unreadable');
      expect(await open(fresh, kernelLock, { breakLock: true })).toBe('opened');
    }
    // ...unless it was written before this boot (as after a power cut).
    const old = logWithLock(torn);
    const beforeBoot = (Date.now() - os.uptime() * 1000) / 1000 - 3600;
    fs.utimesSync(path.join(old, 'LOCK'), beforeBoot, beforeBoot);
    expect(await open(old, kernelLock)).toBe('opened');
  });
});
