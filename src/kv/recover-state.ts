import * as os from 'node:os';
import { Piscina } from 'piscina';
import { ErrorCode, fromWire, WalError, type WireError } from '../errors.js';
import { MAX_ENTRY_BYTES } from '../options.js';
import {
  type CorruptionHandler,
  checkCorruptionHandler,
  checkRecoveryMode,
  judgeEnd,
  ReaderPolicy,
  type RecoveryMode,
} from '../reader/policy.js';
import { CONFIRM_DELAY_MS, checkDir, isAllZeros, listSegmentsAsync } from '../reader/segment-list.js';
import { workerUrl } from '../worker-path.js';
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
  const threads = options.threads ?? os.availableParallelism();
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
    throw new WalError(
      ErrorCode.INVALID_OPTION,
      `options.threads must be an integer from 1 to 256; got ${threads}`,
    );
  }
  const policy = new ReaderPolicy(
    checkRecoveryMode(options.recovery, 'options.recovery'),
    checkCorruptionHandler(options.onCorruption, 'options.onCorruption'),
  );
  const skipCorrupt = policy.mode === 'skip-corrupt';
  const segments = await listSegmentsAsync(dir);
  const state = new MergedState();
  if (segments.length === 0) return new Map();
  const pool = new Piscina({
    filename: workerUrl('replay').href,
    minThreads: Math.min(threads, segments.length),
    maxThreads: Math.min(threads, segments.length),
    idleTimeout: 1000,
    // A replay task's live set is small (one segment's keys) but its garbage is not (a key
    // string per entry): a small young generation collects it sooner, at no measured cost.
    resourceLimits: { maxYoungGenerationSizeMb: 4 },
  });
  const results: (Promise<ReplayResult> | undefined)[] = [];
  try {
    // Results are merged strictly in segment order. At most `threads + 1` segments are in
    // flight or waiting to be merged, which bounds memory whatever the size of the log.
    const window = threads + 1;
    const submit = (i: number): void => {
      if (i >= segments.length) return;
      const task = pool.run({
        path: segments[i].path,
        maxEntryBytes: MAX_ENTRY_BYTES,
        skipCorrupt,
      } satisfies ReplayTask) as Promise<ReplayResult>;
      task.catch(() => {}); // awaited below, in order
      results[i] = task;
    };
    for (let i = 0; i < window; i++) submit(i);
    let expectFirst = 0;
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i];
      let result: SegmentState;
      // A segment deleted meanwhile comes back as WAL_SEGMENT_DELETED (workers/replay.ts).
      result = unwrap(await results[i]!);
      results[i] = undefined;
      submit(i + window);
      let { scan } = result;
      const isLast = i === segments.length - 1;
      if (isLast && scan.stop !== 'bad-header' && judgeEnd(scan, true) === 'corrupt') {
        // The writer may have been part-way through a record while it was read: look again.
        await new Promise((resolve) => setTimeout(resolve, CONFIRM_DELAY_MS));
        result = unwrap(
          await pool.run({
            path: segment.path,
            maxEntryBytes: MAX_ENTRY_BYTES,
            skipCorrupt,
          } satisfies ReplayTask),
        );
        scan = result.scan;
      }
      if (isLast && scan.stop === 'bad-header' && (await isAllZeros(segment.path))) {
        // Holds no entry; the next open sets it aside (src/recovery/open-scan.ts).
        break;
      }
      const nextFirst = isLast ? null : segments[i + 1].firstLsn;
      let step = policy.gap(segment, expectFirst);
      if (step === 'go-on' && (scan.stop === 'bad-header' || scan.firstLsn !== segment.firstLsn)) {
        const reason = `bad segment header: ${scan.reason ?? 'its first LSN does not match the name'}`;
        step = policy.badHeader(segment, 0, scan.fileSize, reason, nextFirst);
      }
      if (step === 'stop') break;
      if (step === 'skip-segment') {
        expectFirst = 0;
        continue;
      }
      for (const skipped of scan.skipped) policy.skipped(segment.name, skipped);
      state.merge(result);
      expectFirst = scan.lastLsn + 1;
      if (policy.end(segment, scan, isLast, nextFirst) === 'stop') break;
      if (scan.damage && !isLast) expectFirst = 0; // what follows the damage is unknown
    }
    return state.finish();
  } finally {
    // Let tasks still running finish first: destroying the pool under them makes piscina
    // emit 'error' for their late answers, with nobody listening.
    await Promise.allSettled(results.filter((r) => r !== undefined));
    await pool.destroy();
  }
}

/** What a replay task answers (workers/replay.ts): its state, or the WalError it met, as data. */
type ReplayResult = SegmentState | { error: WireError };

function unwrap(result: ReplayResult): SegmentState {
  if ('error' in result) throw fromWire(result.error);
  return result;
}
