/**
 * The replay pool's task (piscina): reads one segment itself, verifies it, and returns its
 * last-writer-wins key-value state with the values still encoded. Tasks get a path, never
 * data; the result's buffers are transferred to the main thread, not copied.
 */
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { toWire, WalError } from '../src/errors.js';
import { nodeFs } from '../src/fs.js';
import { type ReplayTask, reduceSegment } from '../src/kv/reduce-segment.js';
import { segmentReadError } from '../src/reader/segment-list.js';

export default function replay(task: ReplayTask): unknown {
  let state: ReturnType<typeof reduceSegment>;
  try {
    state = reduceSegment(nodeFs, task.path, task.maxEntryBytes, task.skipCorrupt);
  } catch (e) {
    // A thrown error reaches the main thread as a plain Error without its code: send it as data.
    const error = segmentReadError(task.path, e);
    if (error instanceof WalError) return { error: toWire(error) };
    throw error;
  }
  return move({
    [transferableSymbol]: [state.values.buffer, state.starts.buffer, state.kinds.buffer],
    [valueSymbol]: state,
  });
}
