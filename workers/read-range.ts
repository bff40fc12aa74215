/**
 * The parallel reader's task (piscina): reads one range of a segment itself and returns its
 * entries still encoded (src/reader/read-range.ts). Tasks get a path and an offset, never
 * data; the result's buffers are transferred to the main thread, not copied.
 */
import { nodeFs } from '../src/fs.js';
import { segmentTask } from '../src/pool.js';
import { type RangeTask, readRange } from '../src/reader/read-range.js';

export default segmentTask(
  (task: RangeTask) => readRange(nodeFs, task),
  (r) => [r.payloads.buffer, r.lsns.buffer, r.ts.buffer, r.offsets.buffer, r.ends.buffer],
);
