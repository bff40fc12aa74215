/**
 * A log on a file system without hard links (issue #16): exFAT through FUSE, where link()
 * fails with EPERM (test/helpers/exfat.ts). Open, append, SIGKILL, reopen: every acknowledged
 * entry is back, under the kernel lock and under the identity-only lock (which there creates
 * LOCK with O_EXCL instead of linking a draft), and a second opener is refused meanwhile.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, WalError } from '../../src/index.js';
import { openWalWith } from '../../src/open.js';
// @ts-expect-error a plain .mjs fixture, shared with the child processes
import { valueFor } from '../fixtures/entry-value.mjs';
import { exited, lines, startFixture, stderrOf } from '../helpers/child.js';
import { type ExfatMount, exfatUnavailable, mountExfat } from '../helpers/exfat.js';
import { gapless, readAll } from '../helpers/read.js';

const unavailable = exfatUnavailable();
if (unavailable && process.env.CI)
  throw new Error(`no-hard-links: CI must run this test, but ${unavailable}`);
if (unavailable) console.log(`no-hard-links: skipped: ${unavailable}`);

const KILLS = 3;

describe.skipIf(unavailable !== '')('a log on exFAT (FUSE), a file system without hard links', () => {
  let mount: ExfatMount;
  beforeAll(() => {
    mount = mountExfat();
  });
  afterAll(() => mount?.unmount());

  it('refuses hard links (what this test stands on)', () => {
    const file = path.join(mount.dir, 'probe');
    fs.writeFileSync(file, 'x');
    expect(() => fs.linkSync(file, `${file}-link`)).toThrow(expect.objectContaining({ code: 'EPERM' }));
    fs.rmSync(file);
  });

  for (const lockMode of ['kernel', 'identity'] as const) {
    it(`${lockMode} lock: open, append, SIGKILL, reopen with every acknowledged entry back (${KILLS} kills)`, async () => {
      const dir = path.join(mount.dir, `log-${lockMode}`);
      const kernelLock = lockMode === 'kernel';
      let everAcked = 0;
      for (let kill = 1; kill <= KILLS; kill++) {
        const child = startFixture('appender.mjs', [dir, '32', String(64 * 1024), 'always', lockMode]);
        const stderr = stderrOf(child);
        let acked = 0;
        const enough = new Promise<void>((resolve, reject) => {
          lines(child, (line) => {
            if (line.startsWith('ack ')) acked = Math.max(acked, Number(line.slice(4)));
            if (acked >= everAcked + 500) resolve();
          });
          child.once('exit', (code) => reject(new Error(`appender exited (${code}): ${stderr()}`)));
        });
        await enough;
        // Held: a second opener is refused, whichever way the lock is taken.
        for (const second of [true, false]) {
          const refused = await openWalWith(dir, undefined, { kernelLock: second }).then(
            (wal) => wal.close().then(() => null),
            (e: unknown) => e,
          );
          expect(refused).toBeInstanceOf(WalError);
          expect((refused as WalError).code).toBe(ErrorCode.LOCKED);
        }
        child.kill('SIGKILL');
        expect((await exited(child)).signal).toBe('SIGKILL');
        expect(stderr()).toBe('');

        const wal = await openWalWith(dir, undefined, { kernelLock });
        expect(wal.lastLsn).toBeGreaterThanOrEqual(acked);
        await wal.close();
        const entries = await readAll(dir);
        expect(gapless(entries)).toBeNull();
        for (const entry of entries) {
          if (entry.lsn <= acked) expect(entry.value).toEqual(valueFor(entry.lsn));
        }
        everAcked = Math.max(everAcked, acked);
      }
      expect(fs.readdirSync(dir).filter((n) => n.endsWith('.log')).length).toBeGreaterThan(1); // rotated there too
      console.log(
        `no-hard-links (${lockMode} lock): ${KILLS} SIGKILLs, highest acknowledged LSN ${everAcked}`,
      );
    }, 120_000);
  }
});
