/**
 * Faults at the file-system seam, through the public API: the writer thread runs on a file
 * system that fails on demand. An fsync failure poisons the log (every pending and later
 * append rejects with one code, nothing is acknowledged after it even if a later fsync would
 * succeed), ENOSPC has its own code, a short write is completed, and reopening recovers every
 * entry acknowledged before the failure.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, openWal, type Wal, type WalError, type WalOptions } from '../../src/index.js';
import { openWalWith } from '../../src/open.js';
import { gapless, readAll } from '../helpers/read.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const FAULTY_FS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'faulty-fs.mjs');

let dir: string;
afterEach(() => removeDir(dir));

function openFaulty(d: string, plan: unknown, options: WalOptions = {}) {
  return openWalWith(d, { flushOnExit: false, ...options }, { faultFs: { module: FAULTY_FS, plan } });
}

/** Appends `rounds` bursts of `size`, each awaited, so the writer sees at least `rounds` batches. */
async function appendRounds(
  wal: Wal,
  rounds: number,
  size: number,
): Promise<{ acked: number[]; codes: Set<string> }> {
  const acked: number[] = [];
  const codes = new Set<string>();
  for (let r = 0; r < rounds; r++) {
    const outcome = await settle(Array.from({ length: size }, (_, i) => wal.append({ r, i })));
    acked.push(...outcome.acked);
    for (const code of outcome.codes) codes.add(code);
  }
  return { acked, codes };
}

async function settle(promises: Promise<number>[]): Promise<{ acked: number[]; codes: Set<string> }> {
  const results = await Promise.allSettled(promises);
  const acked: number[] = [];
  const codes = new Set<string>();
  for (const r of results) {
    if (r.status === 'fulfilled') acked.push(r.value);
    else codes.add((r.reason as WalError).code);
  }
  return { acked, codes };
}

describe('fdatasync fails with EIO', () => {
  it('rejects the failing batch and everything after it with WAL_FSYNC_FAILED, and acknowledges nothing more', async () => {
    dir = tempDir();
    // Sync 1 is the new segment's header; then 20 batches succeed; sync 22 fails once and
    // every later one would succeed. (No preallocation, so every sync is a commit's.)
    const wal = await openFaulty(
      dir,
      { failSync: { after: 21, errno: 'EIO', times: 1 } },
      { preallocate: false },
    );
    const acked: number[] = [];
    let failure: WalError | null = null;
    for (let i = 1; i <= 40 && !failure; i++) {
      try {
        acked.push(await wal.append({ i }));
      } catch (e) {
        failure = e as WalError;
      }
    }
    expect(failure?.code).toBe(ErrorCode.FSYNC_FAILED);
    expect(failure?.errno).toBe('EIO');
    expect(acked).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(wal.durableLsn).toBe(20);

    // Sticky: later appends, a burst, sync() and close() all fail the same way, though the
    // file system would now sync fine.
    const later = await settle(Array.from({ length: 100 }, (_, i) => wal.append({ late: i })));
    expect(later.acked).toEqual([]);
    expect([...later.codes]).toEqual([ErrorCode.FSYNC_FAILED]);
    expect(() => wal.appendNoWait('x')).toThrow(expect.objectContaining({ code: ErrorCode.FSYNC_FAILED }));
    await expect(wal.sync()).rejects.toMatchObject({ code: ErrorCode.FSYNC_FAILED });
    expect(() => wal.flushSync()).toThrow(expect.objectContaining({ code: ErrorCode.FSYNC_FAILED }));
    expect(wal.durableLsn).toBe(20);
    await expect(wal.close()).rejects.toMatchObject({ code: ErrorCode.FSYNC_FAILED });

    // Reopen re-reads the disk: every acknowledged entry is there, and the log goes on.
    const reopened = await openWal(dir);
    expect(reopened.lastLsn).toBeGreaterThanOrEqual(20);
    const next = await reopened.append('after reopen');
    await reopened.close();
    const entries = await readAll(dir);
    expect(gapless(entries)).toBeNull();
    for (let lsn = 1; lsn <= 20; lsn++) expect(entries[lsn - 1].value).toEqual({ i: lsn });
    expect(entries.at(-1)).toMatchObject({ lsn: next, value: 'after reopen' });
  });

  it('rejects every append pending at the failure with the same error', async () => {
    dir = tempDir();
    const wal = await openFaulty(dir, { failSync: { after: 3, errno: 'EIO' } });
    const outcome = await appendRounds(wal, 20, 250);
    expect([...outcome.codes]).toEqual([ErrorCode.FSYNC_FAILED]);
    // What was acknowledged is a prefix, and all of it is on disk.
    expect(outcome.acked).toEqual(Array.from({ length: outcome.acked.length }, (_, i) => i + 1));
    await wal.close().catch(() => {});
    const entries = await readAll(dir);
    expect(entries.length).toBeGreaterThanOrEqual(outcome.acked.length);
    expect(gapless(entries)).toBeNull();
  });
});

describe('write failures', () => {
  it('reports ENOSPC from writev as WAL_NO_SPACE, sticky until reopen', async () => {
    dir = tempDir();
    const wal = await openFaulty(dir, { failWrite: { after: 5, errno: 'ENOSPC' } });
    const outcome = await appendRounds(wal, 20, 100);
    expect([...outcome.codes]).toEqual([ErrorCode.NO_SPACE]);
    await expect(wal.append('later')).rejects.toMatchObject({ code: ErrorCode.NO_SPACE, errno: 'ENOSPC' });
    await wal.close().catch(() => {});
    const reopened = await openWal(dir);
    expect(reopened.lastLsn).toBeGreaterThanOrEqual(outcome.acked.length);
    await reopened.append('space again');
    await reopened.close();
    expect(gapless(await readAll(dir))).toBeNull();
  });

  it('reports EIO from writev as WAL_IO_ERROR', async () => {
    dir = tempDir();
    const wal = await openFaulty(dir, { failWrite: { after: 2, errno: 'EIO' } });
    const outcome = await appendRounds(wal, 20, 100);
    expect([...outcome.codes]).toEqual([ErrorCode.IO_ERROR]);
    await wal.close().catch(() => {});
  });

  it('completes a short write instead of acknowledging a partial batch', async () => {
    dir = tempDir();
    const wal = await openFaulty(dir, { shortWrite: { after: 1, bytes: 13 } });
    const values = Array.from({ length: 3000 }, (_, i) => ({ i, pad: 'q'.repeat(i % 50) }));
    const lsns = await Promise.all(values.map((v) => wal.append(v)));
    expect(lsns).toEqual(values.map((_, i) => i + 1));
    await wal.close();
    expect((await readAll(dir)).map((e) => e.value)).toEqual(values);
  });
});
