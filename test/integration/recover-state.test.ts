/**
 * recoverState rebuilds the key-value state of set/delete entries on a piscina pool; with any
 * number of threads it must equal a sequential replay of the log.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, openWal, recoverState } from '../../src/index.js';
import { readAll } from '../helpers/read.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) removeDir(d);
});

/** The state a sequential replay of the log gives. */
async function sequentialState(dir: string): Promise<Map<string, unknown>> {
  const state = new Map<string, unknown>();
  for (const { value } of await readAll(dir)) {
    const entry = value as { op?: string; key?: unknown; value?: unknown };
    if (typeof entry?.key !== 'string') continue;
    if (entry.op === 'set') state.set(entry.key, entry.value);
    else if (entry.op === 'delete') state.delete(entry.key);
  }
  return state;
}

describe('recoverState', () => {
  it('applies sets and deletes in LSN order across segments, ignoring other entries', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const wal = await openWal(dir, { segmentBytes: 4096 });
    for (let i = 0; i < 500; i++) {
      await wal.set(`k${i % 37}`, { i });
      if (i % 5 === 0) await wal.delete(`k${(i * 7) % 37}`);
      if (i % 11 === 0) await wal.append({ not: 'a kv entry', i });
    }
    await wal.close();
    const expected = await sequentialState(dir);
    expect(expected.size).toBeGreaterThan(0);
    for (const threads of [1, 2, 4]) {
      const state = await recoverState(dir, { threads });
      expect(state).toEqual(expected);
      expect([...state.keys()], 'the keys in the order a sequential replay has them').toEqual([
        ...expected.keys(),
      ]);
    }
  });

  it('refuses a bad thread count with WAL_INVALID_OPTION', async () => {
    const dir = tempDir();
    dirs.push(dir);
    await expect(recoverState(dir, { threads: 0 })).rejects.toMatchObject({ code: ErrorCode.INVALID_OPTION });
  });

  it('equals a sequential replay for random set/delete sequences and segment sizes, with 1, 2 and 4 threads', async () => {
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            op: fc.constantFrom('set', 'delete'),
            key: fc.integer({ min: 0, max: 15 }),
            value: fc.oneof(fc.integer(), fc.string({ maxLength: 40 }), fc.constant(null)),
          }),
          { minLength: 1, maxLength: 400 },
        ),
        fc.integer({ min: 4096, max: 32 * 1024 }),
        async (ops, segmentBytes) => {
          runs++;
          const dir = tempDir();
          dirs.push(dir);
          const wal = await openWal(dir, { segmentBytes, flushOnExit: false });
          await Promise.all(
            ops.map((o) => (o.op === 'set' ? wal.set(`key:${o.key}`, o.value) : wal.delete(`key:${o.key}`))),
          );
          await wal.close();
          const expected = await sequentialState(dir);
          for (const threads of [1, 2, 4]) {
            const state = await recoverState(dir, { threads });
            expect(state).toEqual(expected);
            expect([...state.keys()]).toEqual([...expected.keys()]);
          }
        },
      ),
      { numRuns: 15, seed: Number(process.env.RINGWAL_SEED ?? 42) },
    );
    console.log(`recoverState property: ${runs} random logs, each checked with 1, 2 and 4 threads`);
  }, 120_000);
});
