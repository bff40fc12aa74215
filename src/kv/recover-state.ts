/**
 * `recoverState`: the key-value state of a log's set/delete entries, rebuilt on a piscina pool.
 * Each task reduces one segment to its last-writer-wins state (src/kv/reduce-segment.ts); the
 * main thread merges the results in segment order (src/kv/merged-state.ts).
 *
 * It takes its course through the segments from the readers' SegmentWalk
 * (src/reader/segment-walk.ts): where to start, gaps, bad headers, the all-zero last segment,
 * the live tail read again to confirm damage, and when the read ends, with the same reports
 * and errors as readWal; it differs only in what it does with a segment's entries. A segment
 * read again is reduced again from its start, and only its final result is merged.
 */
import * as os from 'node:os';
import { checkDir, checkThreads, MAX_ENTRY_BYTES } from '../options.js';
import { TaskPool } from '../pool.js';
import {
  type CorruptionHandler,
  checkCorruptionHandler,
  checkRecoveryMode,
  ReaderPolicy,
  type RecoveryMode,
} from '../reader/policy.js';
import { SegmentWalk } from '../reader/segment-walk.js';
import type { SegmentFile } from '../segment/naming.js';
import { MergedState } from './merged-state.js';
import type { ReplayTask, SegmentState } from './reduce-segment.js';

export interface RecoverStateOptions {
  /** Worker threads for the replay pool. Default: the machine's available parallelism. */
  threads?: number;
  /** What to do with damage, as for `readWal`. Default `'tolerate-tail'`. */
  recovery?: RecoveryMode;
  /** Called for each piece of damage passed over (`'point-in-time'`, `'skip-corrupt'`). */
  onCorruption?: CorruptionHandler;
}

export async function recoverState(
  dir: string,
  options: RecoverStateOptions = {},
): Promise<Map<string, unknown>> {
  checkDir(dir);
  const threads = checkThreads(options.threads ?? os.availableParallelism(), 'options.threads');
  const policy = new ReaderPolicy(
    checkRecoveryMode(options.recovery, 'options.recovery'),
    checkCorruptionHandler(options.onCorruption, 'options.onCorruption'),
  );
  const skipCorrupt = policy.mode === 'skip-corrupt';
  const walk = new SegmentWalk(dir, policy);
  if (!(await walk.start(1))) return new Map();
  // No more threads than segments: a pool's threads all start, whether there is work or not.
  const pool = new TaskPool<ReplayTask, SegmentState>('replay', walk.upcoming(threads).length);
  const reduce = (segment: SegmentFile): Promise<SegmentState> =>
    pool.run({
      path: segment.path,
      maxEntryBytes: MAX_ENTRY_BYTES,
      skipCorrupt,
      nameFirstLsn: segment.firstLsn,
    });
  // Results are merged strictly in segment order. At most `threads + 1` segments are reduced
  // or waiting to be merged, which bounds memory whatever the size of the log.
  const window = threads + 1;
  const ahead = new Map<string, Promise<SegmentState>>();
  const state = new MergedState();
  try {
    let segment = await walk.next();
    while (segment) {
      walk.readAhead(ahead, window, reduce);
      // A segment deleted meanwhile comes back as WAL_SEGMENT_DELETED (src/pool.ts).
      const result = await (ahead.get(segment.name) ?? reduce(segment));
      ahead.delete(segment.name);
      // Reported as a reader reports them: while reading, before the walk judges the end.
      for (const skipped of result.scan.skipped) policy.skipped(segment.name, skipped);
      const then = await walk.finish(segment, result.scan);
      if (then === 'again') {
        // Reduced again from its start: this result is superseded, not merged.
        ahead.set(segment.name, reduce(segment));
        continue;
      }
      // What a reader delivered from this segment before the walk judged it.
      state.merge(result);
      if (then === 'stop') break;
      segment = await walk.next();
    }
  } finally {
    await pool.close();
  }
  // Decoded once the workers are gone: their heaps and buffers (~40 MiB each) are not held
  // while every surviving value becomes an object (the replay's peak RSS is here).
  return state.finish();
}
