/**
 * `readWal(dir, { threads })`: the same entries, order, reports and errors as the sequential
 * reader (src/reader/read-wal.ts), read by a piscina pool. Each task reads a range of one
 * segment itself and verifies it (src/reader/read-range.ts); the main thread only decodes and
 * yields, strictly in LSN order.
 *
 * Memory is bounded by `bufferBytes` whatever the size of the log: the segments in a window
 * of `threads + 1` each have at most one range read or waiting, and the segment being
 * delivered one more (the next range, read while this one is yielded). Each range is
 * `bufferBytes / (threads + 2)` of payload; one entry larger than that still fits in one range.
 */
import { TaskPool } from '../pool.js';
import type { SegmentFile } from '../segment/naming.js';
import { decodePackedInBatches } from './decode-batches.js';
import type { RangeResult, RangeTask } from './read-range.js';
import { Breather } from './segment-list.js';
import { SegmentWalk } from './segment-walk.js';
import type { CheckedReadOptions, WalEntry } from './types.js';

export async function* readParallel(
  dir: string,
  options: CheckedReadOptions,
): AsyncGenerator<WalEntry[], void, undefined> {
  const { fromLsn, maxEntryBytes, policy, threads } = options;
  const skipCorrupt = policy.mode === 'skip-corrupt';
  const walk = new SegmentWalk(dir, policy);
  if (!(await walk.start(fromLsn))) return;
  const window = threads + 1;
  const budgetBytes = Math.max(64 * 1024, Math.floor(options.bufferBytes / (window + 1)));
  const pool = new TaskPool<RangeTask, RangeResult>('read-range', threads);
  const submit = (segment: SegmentFile, startAt: RangeTask['startAt']): Promise<RangeResult> =>
    pool.run({
      path: segment.path,
      startAt,
      budgetBytes,
      fromLsn,
      maxEntryBytes,
      skipCorrupt,
      nameFirstLsn: segment.firstLsn,
    });
  /** Each window segment's next range (SegmentWalk.readAhead). */
  const ahead = new Map<string, Promise<RangeResult>>();
  const breather = new Breather();
  let nextLsn = fromLsn;
  try {
    let segment = await walk.next();
    while (segment) {
      walk.readAhead(ahead, window, (s) => submit(s, null));
      let answer = await (ahead.get(segment.name) ?? submit(segment, null));
      ahead.delete(segment.name);
      while (answer.more) {
        const next = submit(segment, answer.more); // read ahead while this range is yielded
        for (const batch of deliver(segment, answer)) {
          yield batch;
          if (breather.dueAfter(batch.length)) await breather.turn();
        }
        answer = await next;
      }
      for (const batch of deliver(segment, answer)) {
        yield batch;
        if (breather.dueAfter(batch.length)) await breather.turn();
      }
      const scan = answer.scan!;
      const then = await walk.finish(segment, scan);
      if (then === 'stop') return;
      if (then === 'again') {
        // Read on from where this read ended (entries already delivered are not yielded again).
        ahead.set(segment.name, submit(segment, { offset: scan.validEnd, lsn: scan.lastLsn + 1 }));
      } else {
        segment = await walk.next();
      }
    }
  } finally {
    await pool.close();
  }

  /** Yields a range's entries in batches: those not delivered yet (a segment read again starts over). */
  function* deliver(segment: SegmentFile, range: RangeResult): Generator<WalEntry[]> {
    for (const damage of range.skipped) policy.skipped(segment.name, damage);
    for (const batch of decodePackedInBatches(
      { ...range, count: range.lsns.length },
      segment.path,
      nextLsn,
    )) {
      nextLsn = batch[batch.length - 1].lsn + 1;
      yield batch;
    }
  }
}
