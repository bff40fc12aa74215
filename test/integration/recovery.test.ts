/**
 * Reopen after damage at the tail: a torn last record is set aside (copied to
 * `<segment>.torn-<offset>`) and truncated, the LSN sequence continues after the last valid
 * entry, and damage that is not a torn tail is refused with WAL_CORRUPT and left untouched.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, openWal, readWal, type WalError } from '../../src/index.js';
import { segmentPaths } from '../helpers/log-bytes.js';
import { gapless, readAll } from '../helpers/read.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

let dir: string;
afterEach(() => removeDir(dir));

async function writeLog(d: string, count: number, options = {}): Promise<string[]> {
  const wal = await openWal(d, options);
  for (let i = 1; i <= count; i++) await wal.append({ i, pad: 'r'.repeat(i % 40) });
  await wal.close();
  return segmentPaths(d);
}

describe('torn tail', () => {
  it('truncates a last record cut at any length, keeps the cut bytes, and continues the LSNs', async () => {
    dir = tempDir();
    const [segment] = await writeLog(dir, 9);
    const recordStart = fs.statSync(segment).size; // where the 10th record will begin
    const wal0 = await openWal(dir);
    await wal0.append({ tenth: true, pad: 'w'.repeat(20) });
    await wal0.close();
    const whole = fs.readFileSync(segment);
    const entries = await readAll(dir);
    for (let cut = recordStart + 1; cut < whole.length; cut++) {
      fs.writeFileSync(segment, whole.subarray(0, cut));
      for (const f of fs.readdirSync(dir)) if (f.includes('.torn-')) fs.rmSync(path.join(dir, f));
      const wal = await openWal(dir);
      expect(wal.lastLsn).toBe(9);
      expect(wal.recoveryReport.corruptions).toHaveLength(1);
      expect(wal.recoveryReport.corruptions[0]).toMatchObject({
        offset: recordStart,
        bytes: cut - recordStart,
      });
      expect(await wal.append('next')).toBe(10);
      await wal.close();
      const torn = fs.readdirSync(dir).filter((f) => f.includes('.torn-'));
      const cutBytes = whole.subarray(recordStart, cut);
      if (cutBytes.every((b) => b === 0)) {
        // (A cut inside a CRC that starts with zero bytes: nothing worth keeping.)
        expect(torn).toEqual([]);
      } else {
        expect(torn).toEqual([`${path.basename(segment)}.torn-${recordStart}`]);
        expect(fs.readFileSync(path.join(dir, torn[0]))).toEqual(cutBytes);
      }
      const after = await readAll(dir);
      expect(after.slice(0, 9)).toEqual(entries.slice(0, 9));
      expect(after[9]).toMatchObject({ lsn: 10, value: 'next' });
      fs.writeFileSync(segment, whole); // restore for the next cut
    }
  });

  it('keeps zeros after the last entry (preallocated space, or a lost unsynced page) and writes over them', async () => {
    dir = tempDir();
    const [segment] = await writeLog(dir, 5);
    fs.appendFileSync(segment, Buffer.alloc(4096));
    const wal = await openWal(dir);
    expect(wal.lastLsn).toBe(5);
    expect(wal.recoveryReport.corruptions).toEqual([]);
    expect(await wal.append('over the zeros')).toBe(6);
    await wal.close();
    expect(fs.readdirSync(dir).filter((f) => f.includes('.torn-'))).toEqual([]);
    expect((await readAll(dir)).map((e) => e.lsn)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('refuses a flipped bit in the middle of the last segment with WAL_CORRUPT, changing nothing', async () => {
    dir = tempDir();
    const [segment] = await writeLog(dir, 50);
    const bytes = fs.readFileSync(segment);
    bytes[Math.floor(bytes.length / 2)] ^= 0x10;
    fs.writeFileSync(segment, bytes);
    const error = (await openWal(dir).catch((e: unknown) => e)) as WalError;
    expect(error.code).toBe(ErrorCode.CORRUPT);
    expect(error.path).toBe(segment);
    expect(error.offset).toBeGreaterThan(0);
    expect(error.offset).toBeLessThanOrEqual(bytes.length / 2);
    expect(fs.readFileSync(segment)).toEqual(bytes);
  });

  it('sets aside a last segment whose header never became durable, and refuses one with data behind it', async () => {
    dir = tempDir();
    const segments = await writeLog(dir, 300, { segmentBytes: 4096 });
    const last = segments.at(-1)!;
    const lastFirst = Number(path.basename(last).slice(4, 20));
    // A header-only file of zeros: what a crash leaves if the header write never landed.
    fs.writeFileSync(last, Buffer.alloc(40));
    let wal = await openWal(dir);
    expect(wal.lastLsn).toBe(lastFirst - 1);
    expect(wal.recoveryReport.corruptions[0].action).toMatch(/renamed to .*\.broken/);
    await wal.close();
    expect(gapless(await readAll(dir))).toBeNull();

    // A bad header in front of records is corruption, not a crash.
    wal = await openWal(dir);
    for (let i = 0; i < 20; i++) await wal.append(i);
    await wal.close();
    const newest = path.join(
      dir,
      fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.log'))
        .sort()
        .at(-1)!,
    );
    const bytes = fs.readFileSync(newest);
    bytes[3] ^= 1;
    fs.writeFileSync(newest, bytes);
    const error = (await openWal(dir).catch((e: unknown) => e)) as WalError;
    expect(error.code).toBe(ErrorCode.CORRUPT);
    expect(error).toMatchObject({ path: newest, offset: 0 });
    expect(fs.readFileSync(newest)).toEqual(bytes);
  });
});

describe('leftovers of segment creation', () => {
  it('removes a prepared next segment and a segment draft left by a crash, neither holding an entry', async () => {
    dir = tempDir();
    await writeLog(dir, 3);
    fs.writeFileSync(path.join(dir, 'wal-next.tmp'), Buffer.alloc(4096));
    fs.writeFileSync(path.join(dir, 'wal-0000000000000004-20261125-000000-000.log.tmp'), Buffer.alloc(40));
    const wal = await openWal(dir);
    expect(wal.lastLsn).toBe(3);
    await wal.close();
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('readWal on a directory another writer is using', () => {
  it('reads up to the live tail while appends and rotations go on', async () => {
    dir = tempDir();
    const wal = await openWal(dir, { segmentBytes: 8192 });
    let stop = false;
    const writing = (async () => {
      let i = 0;
      while (!stop) await Promise.all(Array.from({ length: 50 }, () => wal.append({ i: i++ })));
    })();
    for (let round = 0; round < 8; round++) {
      const seen = [];
      for await (const entry of readWal(dir)) seen.push(entry);
      expect(gapless(seen)).toBeNull();
      for (const e of seen) expect(e.value).toEqual({ i: e.lsn - 1 });
    }
    stop = true;
    await writing;
    await wal.close();
    expect(gapless(await readAll(dir))).toBeNull();
  });
});

describe('reopening with other size limits', () => {
  it('starts a new segment when the tail header promises smaller records than the new options allow', async () => {
    dir = tempDir();
    let wal = await openWal(dir, { ringBytes: 64 * 1024, maxEntryBytes: 2_000_000 });
    await wal.append('small');
    await wal.close();
    wal = await openWal(dir); // default ring (4 MiB) and maxEntryBytes (64 MiB)
    const big = new Uint8Array(3_000_000).fill(7);
    await wal.append(big);
    await wal.append('after');
    await wal.close();
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.log'))).toHaveLength(2);
    const entries = await readAll(dir);
    expect(entries.map((e) => e.lsn)).toEqual([1, 2, 3]);
    expect((entries[1].value as Uint8Array).length).toBe(3_000_000);
    wal = await openWal(dir);
    expect(wal.lastLsn).toBe(3);
    expect(wal.recoveryReport.corruptions).toEqual([]);
    await wal.close();
  });

  it('replaces a header-only tail rather than leave two segments with one first LSN', async () => {
    dir = tempDir();
    let wal = await openWal(dir, { ringBytes: 64 * 1024 });
    await wal.close();
    wal = await openWal(dir);
    await wal.append('first');
    await wal.close();
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.log'))).toHaveLength(1);
    expect((await readAll(dir)).map((e) => e.value)).toEqual(['first']);
  });
});
