/**
 * readWal's per-entry iterator over the readers' batches (src/reader/entry-iterator.ts): it
 * must behave as the async generator it replaced: answers in call order however many calls
 * are pending, the batch generator closed by `return()` and `throw()` (its `finally` releases
 * the file and the pool), an error delivered once and then done.
 */
import { describe, expect, it } from 'vitest';
import { EntryIterator } from '../../src/reader/entry-iterator.js';

/** Batches [1..3], [], [4], [5, 6], with a macrotask between batches; notes when its finally ran. */
function source(log: string[], failAfter = Number.POSITIVE_INFINITY) {
  return (async function* () {
    try {
      let sent = 0;
      for (const batch of [[1, 2, 3], [], [4], [5, 6]]) {
        await new Promise((resolve) => setImmediate(resolve));
        if (sent >= failAfter) throw new Error('read failed');
        sent += batch.length;
        yield batch;
      }
    } finally {
      log.push('closed');
    }
  })();
}

describe('EntryIterator', () => {
  it('yields every entry of every batch in order, empty batches skipped, then done', async () => {
    const log: string[] = [];
    const seen: number[] = [];
    for await (const n of new EntryIterator(source(log))) seen.push(n);
    expect(seen).toEqual([1, 2, 3, 4, 5, 6]);
    expect(log).toEqual(['closed']);
  });

  it('answers from the batch it holds at once, after every refill (not through its queue)', async () => {
    const it = new EntryIterator(source([]));
    // Raced against a promise already resolved, a promise already resolved wins (it is first).
    const pending = Symbol('pending');
    const settledAtOnce = async (p: Promise<IteratorResult<number, void>>) =>
      (await Promise.race([p, Promise.resolve(pending)])) !== pending;
    await it.next(); // 1: the first batch arrives
    expect(await settledAtOnce(it.next())).toBe(true); // 2
    expect(await settledAtOnce(it.next())).toBe(true); // 3
    await it.next(); // 4: a refill (the empty batch, then [4])
    await it.next(); // 5: a refill
    expect(await settledAtOnce(it.next())).toBe(true); // 6, from the batch held
  });

  it('answers calls made before earlier ones settle in call order', async () => {
    const it = new EntryIterator(source([]));
    const answers = await Promise.all(Array.from({ length: 8 }, () => it.next()));
    expect(answers).toEqual([
      ...[1, 2, 3, 4, 5, 6].map((value) => ({ value, done: false })),
      { value: undefined, done: true },
      { value: undefined, done: true },
    ]);
  });

  it('closes the batch generator on break (return), and is done after', async () => {
    const log: string[] = [];
    const it = new EntryIterator(source(log));
    for await (const n of it) if (n === 2) break;
    expect(log).toEqual(['closed']);
    expect(await it.next()).toEqual({ value: undefined, done: true });
  });

  it('throw() closes the batch generator and rejects with the error', async () => {
    const log: string[] = [];
    const it = new EntryIterator(source(log));
    expect(await it.next()).toEqual({ value: 1, done: false });
    const error = new Error('stop');
    await expect(it.throw(error)).rejects.toBe(error);
    expect(log).toEqual(['closed']);
    expect(await it.next()).toEqual({ value: undefined, done: true });
  });

  it('delivers the entries before a failure, then the error once, then done', async () => {
    const it = new EntryIterator(source([], 4));
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const n of it) seen.push(n);
      })(),
    ).rejects.toThrow('read failed');
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(await it.next()).toEqual({ value: undefined, done: true });
  });

  it('return() before the first next() never starts the batch generator', async () => {
    const log: string[] = [];
    const it = new EntryIterator(source(log));
    expect(await it.return()).toEqual({ value: undefined, done: true });
    expect(log).toEqual([]);
  });
});
