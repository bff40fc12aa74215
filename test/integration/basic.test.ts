import { afterEach, describe, expect, it } from 'vitest';
import { openWal, readWal, type WalEntry } from '../../src/index.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

let dir: string;
afterEach(() => removeDir(dir));

async function readAll(d: string, fromLsn?: number): Promise<WalEntry[]> {
  const out: WalEntry[] = [];
  for await (const e of readWal(d, { fromLsn })) out.push(e);
  return out;
}

describe('append, close, reopen, read', () => {
  it('resolves appends with gapless LSNs from 1 and reads them back', async () => {
    dir = tempDir();
    const wal = await openWal(dir);
    const values = Array.from({ length: 1000 }, (_, i) => ({
      op: 'set',
      key: `user:${i}`,
      value: { i },
      ts: i,
    }));
    const lsns = await Promise.all(values.map((v) => wal.append(v)));
    expect(lsns).toEqual(values.map((_, i) => i + 1));
    expect(wal.durableLsn).toBe(1000);
    await wal.close();
    const entries = await readAll(dir);
    expect(entries.map((e) => e.lsn)).toEqual(lsns);
    expect(entries.map((e) => e.value)).toEqual(values);
  });

  it('continues the LSN sequence after reopen', async () => {
    dir = tempDir();
    let wal = await openWal(dir);
    await wal.append('a');
    await wal.append('b');
    await wal.close();
    wal = await openWal(dir);
    expect(wal.lastLsn).toBe(2);
    expect(await wal.append('c')).toBe(3);
    await wal.close();
    expect((await readAll(dir)).map((e) => e.value)).toEqual(['a', 'b', 'c']);
    expect((await readAll(dir, 2)).map((e) => e.lsn)).toEqual([2, 3]);
  });

  it('stamps each entry between its append and its acknowledgement, in LSN order', async () => {
    dir = tempDir();
    // A small ring, so the big entry is written in fragments across several commits.
    const wal = await openWal(dir, { ringBytes: 64 * 1024 });
    const windows: Array<[number, number]> = [];
    for (let round = 0; round < 20; round++) {
      const before = Date.now();
      const values: unknown[] = Array.from({ length: 50 }, (_, i) => ({ round, i }));
      if (round === 10) values.push('x'.repeat(300_000));
      await Promise.all(values.map((v) => wal.append(v)));
      const after = Date.now();
      for (let k = 0; k < values.length; k++) windows.push([before, after]);
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
    await wal.close();
    const entries = await readAll(dir);
    expect(entries).toHaveLength(windows.length);
    for (let k = 0; k < entries.length; k++) {
      const [before, after] = windows[k];
      expect(entries[k].ts, `LSN ${entries[k].lsn}`).toBeGreaterThanOrEqual(before);
      expect(entries[k].ts, `LSN ${entries[k].lsn}`).toBeLessThanOrEqual(after);
      if (k > 0) expect(entries[k].ts).toBeGreaterThanOrEqual(entries[k - 1].ts);
    }
  });
});

describe('appends made while an entry is being encoded (a getter in its value appends)', () => {
  // The outer entry is encoded straight into the ring (small) or in a buffer of msgpackr's
  // own (over 4 KiB of text, which does not fit the encoder's headroom), with one or two
  // levels of nesting. Each nested entry takes its LSN first; every value reads back exactly.
  it.each([
    ['in the ring', 10],
    ['outside the ring', 6000],
  ])('keeps LSN order and every byte, outer entry encoded %s', async (_, textLength) => {
    dir = tempDir();
    const wal = await openWal(dir);
    await wal.append('before');
    const nestedLsns: number[] = [];
    const nestedPromises: Promise<number>[] = [];
    const outer = {
      head: 'h'.repeat(textLength),
      get inner() {
        nestedLsns.push(
          wal.appendNoWait({
            level: 1,
            get deeper() {
              nestedPromises.push(wal.append({ level: 2 }));
              return 'd';
            },
          }),
        );
        return 'i';
      },
      tail: 't'.repeat(textLength),
    };
    const outerLsn = await wal.append(outer);
    const after = await wal.append('after');
    expect(await Promise.all(nestedPromises)).toEqual([2]);
    expect(nestedLsns).toEqual([3]);
    expect(outerLsn).toBe(4);
    expect(after).toBe(5);
    await wal.close();
    const entries = await readAll(dir);
    expect(entries.map((e) => e.value)).toEqual([
      'before',
      { level: 2 },
      { level: 1, deeper: 'd' },
      { head: 'h'.repeat(textLength), inner: 'i', tail: 't'.repeat(textLength) },
      'after',
    ]);
    expect(entries.map((e) => e.lsn)).toEqual([1, 2, 3, 4, 5]);
  });

  it('still writes a nested entry when the outer value then fails to encode', async () => {
    dir = tempDir();
    const wal = await openWal(dir);
    let nested: Promise<number> | null = null;
    const outer = {
      get inner() {
        nested = wal.append('nested');
        return 1;
      },
      bad: Symbol('no'),
    };
    await expect(wal.append(outer)).rejects.toMatchObject({ code: 'WAL_ENCODE_FAILED' });
    expect(await nested).toBe(1);
    expect(await wal.append('next')).toBe(2);
    await wal.close();
    expect((await readAll(dir)).map((e) => e.value)).toEqual(['nested', 'next']);
  });
});

describe('acknowledgements', () => {
  it('resolves every append with its own LSN, in LSN order, amid appendNoWait, waitFor, sync and nested appends', async () => {
    dir = tempDir();
    const wal = await openWal(dir);
    let seed = 12345;
    const random = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) | 0;
      return (seed >>> 8) / 2 ** 24;
    };
    const settledOrder: number[] = [];
    const checks: Promise<void>[] = [];
    const expectAck = (promise: Promise<number>, lsn: number): void => {
      checks.push(
        promise.then((got) => {
          settledOrder.push(got);
          expect(got).toBe(lsn);
        }),
      );
    };
    for (let i = 0; i < 20_000; i++) {
      const r = random();
      if (r < 0.5) {
        const promise = wal.append({ i });
        expectAck(promise, wal.lastLsn);
      } else if (r < 0.8) {
        wal.appendNoWait({ i });
      } else if (r < 0.85) {
        const lsn = wal.lastLsn;
        checks.push(wal.waitFor(lsn).then((got) => expect(got).toBe(lsn)));
      } else if (r < 0.87) {
        checks.push(wal.sync());
      } else {
        // A getter appends while the value is encoded: the nested entry comes first.
        let nested: Promise<number> | null = null;
        let nestedLsn = 0;
        const promise = wal.append({
          i,
          get inner() {
            nested = wal.append({ nested: i });
            nestedLsn = wal.lastLsn;
            return 1;
          },
        });
        expect(nestedLsn).toBe(wal.lastLsn - 1);
        expectAck(nested!, nestedLsn);
        expectAck(promise, wal.lastLsn);
      }
      // Let acknowledgements through now and then, at every phase of a publish group.
      if (random() < 0.005) await new Promise((resolve) => setImmediate(resolve));
      else if (random() < 0.01) await Promise.resolve();
    }
    await Promise.all(checks);
    for (let k = 1; k < settledOrder.length; k++)
      expect(settledOrder[k]).toBeGreaterThan(settledOrder[k - 1]);
    expect(wal.metrics().pendingAcks).toBe(0);
    await wal.close();
    expect((await readAll(dir)).length).toBe(wal.lastLsn);
  });
});
