/**
 * The replay pool's task (piscina): reads one segment itself, verifies and decodes it, and
 * returns its last-writer-wins key-value state. Tasks get a path, never data.
 */
import { nodeFs } from '../src/fs.js';
import { type ReplayTask, reduceSegment, type SegmentState } from '../src/recovery/reduce-segment.js';

export default function replay(task: ReplayTask): SegmentState {
  return reduceSegment(nodeFs, task.path, task.maxEntryBytes, task.skipCorrupt);
}
