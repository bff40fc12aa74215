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
import { decodeBackToBack, decodeStored } from '../encoding.js';
import { TaskPool } from '../pool.js';
import type { SegmentFile } from '../segment/naming.js';
import type { RangeResult, RangeTask } from './read-range.js';
import { Breather } from './segment-list.js';
import { SegmentWalk } from './segment-walk.js';
import type { CheckedReadOptions, WalEntry } from './types.js';

/** Entries decoded per msgpackr call while delivering a range. */
const DECODE_CHUNK = 1024;

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
    pool.run({ path: segment.path, startAt, budgetBytes, fromLsn, maxEntryBytes, skipCorrupt });
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

  /** Yields a range's entries in batches, decoding DECODE_CHUNK at a time (bounding what is held decoded). */
  function* deliver(segment: SegmentFile, range: RangeResult): Generator<WalEntry[]> {
    for (const damage of range.skipped) policy.skipped(segment.name, damage);
    const { lsns, ends, payloads } = range;
    const values: unknown[] = [];
    for (let first = 0; first < lsns.length; first += DECODE_CHUNK) {
      const batch: WalEntry[] = [];
      const last = Math.min(lsns.length, first + DECODE_CHUNK);
      const base = first === 0 ? 0 : ends[first - 1];
      const chunkEnds = ends.subarray(first, last);
      let decoded = decodeBackToBack(payloads.subarray(base, ends[last - 1]), chunkEnds, base, values);
      for (let k = first; k < last; k++) {
        const lsn = lsns[k];
        if (k - first >= decoded) {
          // Not decodable in one run from here (rare: a forged record): one by one, each with
          // its own error if it has one.
          const start = k === 0 ? 0 : ends[k - 1];
          try {
            values[k - first] = decodeStored(
              payloads.subarray(start, ends[k]),
              segment.path,
              range.offsets[k],
            );
          } catch (error) {
            if (batch.length > 0) yield batch; // every entry before the bad one is delivered
            throw error;
          }
          decoded = k - first + 1;
        }
        if (lsn >= nextLsn) {
          nextLsn = lsn + 1;
          batch.push({ lsn, ts: range.ts[k], value: values[k - first] });
        }
      }
      values.length = 0;
      if (batch.length > 0) yield batch;
    }
  }
}
