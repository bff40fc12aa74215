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
import { Piscina } from 'piscina';
import { decodeBackToBack, decodeStored } from '../encoding.js';
import { fromWire } from '../errors.js';
import { judgeEnd, type ReaderPolicy } from '../recovery/policy.js';
import type { SegmentFile } from '../segment/naming.js';
import { workerUrl } from '../worker-path.js';
import type { RangeAnswer, RangeResult, RangeTask } from './read-range.js';
import type { WalEntry } from './read-wal.js';
import {
  Breather,
  CONFIRM_DELAY_MS,
  emptyLastSegment,
  isAllZeros,
  listSegmentsAsync,
  vanished,
} from './segment-list.js';

/** Entries decoded per msgpackr call while delivering a range. */
const DECODE_CHUNK = 1024;

export interface ParallelReadOptions {
  fromLsn: number;
  maxEntryBytes: number;
  policy: ReaderPolicy;
  threads: number;
  bufferBytes: number;
}

function unwrap(answer: RangeAnswer): RangeResult {
  if ('error' in answer) throw fromWire(answer.error);
  return answer;
}

export async function* readParallel(
  dir: string,
  options: ParallelReadOptions,
): AsyncGenerator<WalEntry, void, undefined> {
  const { fromLsn, maxEntryBytes, policy, threads } = options;
  const skipCorrupt = policy.mode === 'skip-corrupt';
  let segments = await listSegmentsAsync(dir);
  let i = Math.max(
    0,
    segments.findLastIndex((s) => s.firstLsn <= fromLsn),
  );
  if (segments.length === 0) return;
  const window = threads + 1;
  const budgetBytes = Math.max(64 * 1024, Math.floor(options.bufferBytes / (window + 1)));
  const pool = new Piscina({
    filename: workerUrl('read-range').href,
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: 1000,
    // A task's live set is one range; its garbage is a little per entry: a small young
    // generation collects it sooner (as for the replay pool).
    resourceLimits: { maxYoungGenerationSizeMb: 4 },
  });
  const outstanding = new Set<Promise<RangeAnswer>>();
  const submit = (segment: SegmentFile, startAt: RangeTask['startAt']): Promise<RangeAnswer> => {
    const task: RangeTask = { path: segment.path, startAt, budgetBytes, fromLsn, maxEntryBytes, skipCorrupt };
    const answer = pool.run(task) as Promise<RangeAnswer>;
    outstanding.add(answer);
    answer.then(
      () => outstanding.delete(answer),
      () => outstanding.delete(answer),
    );
    return answer;
  };
  /** Each window segment's next range, by name (indexes shift when the directory is listed again). */
  const ahead = new Map<string, Promise<RangeAnswer>>();
  const breather = new Breather();
  let nextLsn = fromLsn;
  let expectFirst = 0;
  let rescanned = false;
  let confirmed = false;
  try {
    while (i < segments.length) {
      for (let k = i; k < Math.min(segments.length, i + window); k++) {
        if (!ahead.has(segments[k].name)) ahead.set(segments[k].name, submit(segments[k], null));
      }
      const segment = segments[i];
      if (await emptyLastSegment(segments, i, expectFirst)) return;
      const gap = policy.gap(segment, expectFirst);
      if (gap === 'stop') return;
      if (gap === 'skip-segment') {
        ahead.delete(segment.name);
        expectFirst = 0;
        i++;
        continue;
      }
      let answer = unwrap(await ahead.get(segment.name)!);
      ahead.delete(segment.name);
      while (answer.more) {
        const next = submit(segment, answer.more); // read ahead while this range is yielded
        for (const entry of deliver(segment, answer)) {
          yield entry;
          if (breather.due()) await breather.turn();
        }
        answer = unwrap(await next);
      }
      for (const entry of deliver(segment, answer)) {
        yield entry;
        if (breather.due()) await breather.turn();
      }
      const scan = answer.scan!;

      const wasLast = i === segments.length - 1;
      if (wasLast) {
        // Pick up segments created since the listing; retention may have removed older ones.
        segments = await listSegmentsAsync(dir);
        i = segments.findIndex((s) => s.name === segment.name);
        if (i < 0) throw vanished(segment.path);
      }
      const isLast = i === segments.length - 1;
      const resume = { offset: scan.validEnd, lsn: scan.lastLsn + 1 };
      if (wasLast && !isLast && !rescanned && scan.stop !== 'bad-header') {
        // It was the live tail while it was read and has been sealed since: read the rest.
        rescanned = true;
        ahead.set(segment.name, submit(segment, resume));
        continue;
      }
      const nextFirst = isLast ? null : segments[i + 1].firstLsn;
      if (scan.stop === 'bad-header' || scan.firstLsn !== segment.firstLsn) {
        if (scan.stop === 'bad-header' && isLast && (await isAllZeros(segment.path))) return;
        const [offset, reason] =
          scan.stop === 'bad-header'
            ? [0, `bad segment header: ${scan.reason}`]
            : [8, `the header says first LSN ${scan.firstLsn}, the name says ${segment.firstLsn}`];
        if (policy.badHeader(segment, offset, scan.fileSize, reason, nextFirst) === 'stop') return;
        expectFirst = 0;
      } else {
        if (isLast && !confirmed && judgeEnd(scan, true) === 'corrupt') {
          // The writer may have been part-way through a record while it was read: look again.
          confirmed = true;
          await new Promise((resolve) => setTimeout(resolve, CONFIRM_DELAY_MS));
          ahead.set(segment.name, submit(segment, resume));
          continue;
        }
        if (policy.end(segment, scan, isLast, nextFirst) === 'stop') return;
        expectFirst = scan.damage && !isLast ? 0 : scan.lastLsn + 1;
      }
      rescanned = false;
      confirmed = false;
      if (isLast) return;
      i++;
    }
  } finally {
    // Let ranges still being read finish: destroying the pool under them makes piscina emit
    // 'error' for their late answers, with nobody listening.
    await Promise.allSettled([...outstanding]);
    await pool.destroy();
  }

  /** Yields a range's entries, decoding DECODE_CHUNK at a time (bounding what is held decoded). */
  function* deliver(segment: SegmentFile, range: RangeResult): Generator<WalEntry> {
    for (const damage of range.skipped) policy.skipped(segment.name, damage);
    const { lsns, ends, payloads } = range;
    const values: unknown[] = [];
    for (let first = 0; first < lsns.length; first += DECODE_CHUNK) {
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
          values[k - first] = decodeStored(payloads.subarray(start, ends[k]), segment.path, range.offsets[k]);
          decoded = k - first + 1;
        }
        if (lsn >= nextLsn) {
          nextLsn = lsn + 1;
          yield { lsn, ts: range.ts[k], value: values[k - first] };
        }
      }
      values.length = 0;
    }
  }
}
