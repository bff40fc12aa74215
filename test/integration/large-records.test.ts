/**
 * Regression: records larger than the readers' 1 MiB read chunk (a ring over 4 MiB makes
 * records of up to a quarter of it). The segment walk refilled its window once per record, so
 * a record over 1 MiB whose header began in the last 24 bytes of a window was taken for one
 * the file cut short: open set acknowledged entries aside as a "torn tail" and readWal
 * delivered only what came before (found by test/unit/segment-scanner.test.ts).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { openWal, readWal, recoverState } from '../../src/index.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs();
afterAll(() => tmp.removeAll());

describe('records larger than a read chunk', () => {
  it('come back whole through reopen, readWal (both readers) and recoverState', async () => {
    const dir = tmp.dir('ringwal-large-');
    // msgpack str32: 5 bytes + length, so the first record (24-byte header + payload) is
    // exactly 1 MiB from offset 40, and the second record's header starts where the
    // readers' first 1 MiB window ends.
    const values = ['y'.repeat(1_048_547), 'z'.repeat(1_500_000), 'b'];
    const wal = await openWal(dir, { ringBytes: 8 << 20 });
    for (const v of values) await wal.append(v);
    await wal.close();

    const reopened = await openWal(dir, { ringBytes: 8 << 20 });
    expect(reopened.recoveryReport.corruptions).toEqual([]);
    expect(reopened.lastLsn).toBe(3);
    await reopened.close();

    for (const threads of [undefined, 2]) {
      const read: string[] = [];
      for await (const e of readWal(dir, { threads })) read.push(e.value as string);
      expect(read.map((v) => v.length)).toEqual(values.map((v) => v.length));
      expect(read).toEqual(values);
    }
    const kv = await openWal(dir, { ringBytes: 8 << 20 });
    await kv.set('big', 'x'.repeat(1_500_000));
    await kv.close();
    expect(((await recoverState(dir)).get('big') as string).length).toBe(1_500_000);
  });
});
