/**
 * The parallel reader's task (piscina): reads one range of a segment itself and returns its
 * entries still encoded (src/reader/read-range.ts). Tasks get a path and an offset, never
 * data; the result's buffers are transferred to the main thread, not copied.
 */
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { toWire, WalError } from '../src/errors.js';
import { nodeFs } from '../src/fs.js';
import { type RangeTask, readRange } from '../src/reader/read-range.js';
import { segmentReadError } from '../src/reader/segment-list.js';

export default function read(task: RangeTask): unknown {
  let r: ReturnType<typeof readRange>;
  try {
    r = readRange(nodeFs, task);
  } catch (e) {
    // A thrown error reaches the main thread as a plain Error without its code: send it as data.
    const error = segmentReadError(task.path, e);
    if (error instanceof WalError) return { error: toWire(error) };
    throw error;
  }
  return move({
    [transferableSymbol]: [r.payloads.buffer, r.lsns.buffer, r.ts.buffer, r.offsets.buffer, r.ends.buffer],
    [valueSymbol]: r,
  });
}
