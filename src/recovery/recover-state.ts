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
import { segmentsAmong } from '../segment/naming.js';
import { workerUrl } from '../worker-path.js';
import { DELETED, type SegmentState } from './reduce-segment.js';

export interface RecoverStateOptions {
  /** Worker threads for the replay pool. Default: the machine's available parallelism. */
  threads?: number;
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
      }) as Promise<SegmentState>;
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
      const { scan } = result;
      const isLast = i === segments.length - 1;
      if (scan.stop === 'bad-header' || scan.firstLsn !== segment.firstLsn) {
        throw new WalError(
          ErrorCode.CORRUPT,
          `${segment.path}: bad segment header: ${scan.reason ?? 'first LSN'}`,
          {
            path: segment.path,
            offset: 0,
          },
        );
      }
      if (expectFirst !== 0 && segment.firstLsn !== expectFirst) {
        throw new WalError(
          ErrorCode.CORRUPT,
          `${segment.path}: the log has a gap before LSN ${segment.firstLsn}`,
          {
            path: segment.path,
            offset: 0,
          },
        );
      }
      // Only the last segment may end short of a clean end (a torn or live tail).
      if (!isLast && scan.stop !== 'eof') {
        throw new WalError(
          ErrorCode.CORRUPT,
          `${segment.path} is corrupt at offset ${scan.stopOffset}: ${scan.reason ?? scan.stop}`,
          { path: segment.path, offset: scan.stopOffset },
        );
      }
      for (const op of result.ops) {
        if (op[1] === DELETED) state.delete(op[0]);
        else state.set(op[0], op[2]);
      }
      expectFirst = scan.lastLsn + 1;
    }
    return state;
  } finally {
    await pool.destroy();
  }
}
