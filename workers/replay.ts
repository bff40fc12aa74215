/**
 * The replay pool's task (piscina): reads one segment itself, verifies it, and returns its
 * last-writer-wins key-value state with the values still encoded (src/kv/reduce-segment.ts).
 * Tasks get a path, never data; the result's buffers are transferred to the main thread, not
 * copied.
 */
import { nodeFs } from '../src/fs.js';
import { type ReplayTask, reduceSegment } from '../src/kv/reduce-segment.js';
import { segmentTask } from '../src/pool.js';

export default segmentTask(
  (task: ReplayTask) =>
    reduceSegment(nodeFs, task.path, task.maxEntryBytes, task.skipCorrupt, task.nameFirstLsn),
  (state) => [
    state.keyBytes.buffer,
    state.keyEnds.buffer,
    state.hashes.buffer,
    state.kinds.buffer,
    state.insertedAt.buffer,
    state.deletedFirst.buffer,
    state.starts.buffer,
    state.values.buffer,
  ],
);
