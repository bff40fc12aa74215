/**
 * `recoverState`: the key-value state a log's `set` / `delete` entries describe, rebuilt in
 * parallel. A piscina pool reduces each segment to its last-writer-wins state (each task
 * reads its file itself); the main thread merges those in segment order, which equals a
 * sequential replay because every key's last write in a later segment wins.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { Piscina } from 'piscina';
import { ErrorCode, WalError } from '../errors.js';
import { MAX_ENTRY_BYTES } from '../options.js';
import { type SegmentFile, segmentsAmong } from '../segment/naming.js';
import { workerUrl } from '../worker-path.js';
import {
  type CorruptionHandler,
  type CorruptionReport,
  checkCorruptionHandler,
  checkRecoveryMode,
  judgeEnd,
  lsnsLost,
  ReaderPolicy,
  type RecoveryMode,
} from './policy.js';
import { DELETED, type ReplayTask, type SegmentState } from './reduce-segment.js';

/** How long to wait before reading a live segment again to confirm damage in it. */
const CONFIRM_DELAY_MS = 20;

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
  const segments = segmentsAmong(dir, await fs.promises.readdir(dir));
  const state = new Map<string, unknown>();
  if (segments.length === 0) return state;
  const pool = new Piscina({
    filename: workerUrl('replay').href,
    minThreads: Math.min(threads, segments.length),
    maxThreads: Math.min(threads, segments.length),
    idleTimeout: 1000,
  });
  try {
    // Results are merged strictly in segment order. At most `threads * 2` segments are in
    // flight or waiting to be merged, which bounds memory whatever the size of the log.
    const window = threads * 2;
    const results: (Promise<SegmentState> | undefined)[] = [];
    const submit = (i: number): void => {
      if (i >= segments.length) return;
      const task = pool.run({
        path: segments[i].path,
        maxEntryBytes: MAX_ENTRY_BYTES,
        skipCorrupt,
      } satisfies ReplayTask) as Promise<SegmentState>;
      task.catch(() => {}); // awaited below, in order
      results[i] = task;
    };
    for (let i = 0; i < window; i++) submit(i);
    let expectFirst = 0;
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i];
      let result: SegmentState;
      try {
        result = (await results[i])!;
        results[i] = undefined;
        submit(i + window);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
          throw new WalError(ErrorCode.SEGMENT_DELETED, `${segment.path} was deleted while being replayed`, {
            path: segment.path,
          });
        }
        throw e;
      }
      let { scan } = result;
      const isLast = i === segments.length - 1;
      if (isLast && scan.stop !== 'bad-header' && judgeEnd(scan, true) === 'corrupt') {
        // The writer may have been part-way through a record while it was read: look again.
        await new Promise((resolve) => setTimeout(resolve, CONFIRM_DELAY_MS));
        result = await pool.run({
          path: segment.path,
          maxEntryBytes: MAX_ENTRY_BYTES,
          skipCorrupt,
        } satisfies ReplayTask);
        scan = result.scan;
      }
      if (isLast && scan.stop === 'bad-header' && (await isAllZeros(segment.path))) {
        // Holds no entry; the next open sets it aside (src/recovery/open-scan.ts).
        break;
      }
      const damage = damageOf(segment, scan, isLast, expectFirst);
      if (damage?.before) {
        // Nothing of this segment can be used (a gap before it, or its header).
        if (
          policy.damaged(
            segment.path,
            segment.name,
            damage.offset,
            damage.bytes,
            damage.reason,
            damage.lsns,
          ) === 'stop'
        )
          break;
        expectFirst = 0;
        continue;
      }
      for (const skipped of scan.skipped) policy.skipped(segment.name, skipped);
      for (const op of result.ops) {
        if (op[1] === DELETED) state.delete(op[0]);
        else state.set(op[0], op[2]);
      }
      expectFirst = scan.lastLsn + 1;
      if (
        damage &&
        policy.damaged(
          segment.path,
          segment.name,
          damage.offset,
          damage.bytes,
          damage.reason,
          damage.lsns,
        ) === 'stop'
      )
        break;
    }
    return state;
  } finally {
    await pool.destroy();
  }
}

/**
 * Damage that ends a segment for a reader: `before` when none of it can be used (a gap
 * before it, a bad header), else where its entries stop being usable.
 */
function damageOf(
  segment: SegmentFile,
  scan: SegmentState['scan'],
  isLast: boolean,
  expectFirst: number,
): { before: boolean; offset: number; bytes: number; reason: string; lsns: CorruptionReport['lsns'] } | null {
  if (expectFirst !== 0 && segment.firstLsn !== expectFirst) {
    return {
      before: true,
      offset: 0,
      bytes: 0,
      reason: `the log has a gap: expected a segment starting at LSN ${expectFirst}`,
      lsns: segment.firstLsn > expectFirst ? { from: expectFirst, to: segment.firstLsn - 1 } : null,
    };
  }
  if (scan.stop === 'bad-header' || scan.firstLsn !== segment.firstLsn) {
    return {
      before: true,
      offset: 0,
      bytes: scan.fileSize,
      reason: `bad segment header: ${scan.reason ?? 'its first LSN does not match the name'}`,
      lsns: null,
    };
  }
  if (judgeEnd(scan, isLast) !== 'corrupt') return null;
  const d = scan.damage!;
  return {
    before: false,
    offset: d.offset,
    bytes: scan.fileSize - d.offset,
    reason: d.next >= 0 ? `${d.reason}, and a valid record follows at offset ${d.next}` : d.reason,
    // Nothing after it is delivered (point-in-time) or it is thrown (strict, tolerate-tail).
    lsns: lsnsLost({ ...d, next: -1 }),
  };
}

async function isAllZeros(path: string): Promise<boolean> {
  const bytes = await fs.promises.readFile(path);
  return bytes.every((b) => b === 0);
}
