/**
 * One segment reduced to last-writer-wins key-value state: what a replay worker computes,
 * so the main thread only merges one small map per segment instead of decoding every entry.
 * Entries that are not `{ op: 'set' | 'delete', key: string }` are left out.
 */
import { decode } from '../encoding.js';
import type { FileSystem } from '../fs.js';
import { scanSegmentFile } from '../reader/scan-file.js';
import type { ScanResult } from '../reader/segment-scanner.js';

/** A key's last operation in the segment: its value, or DELETED. */
export const DELETED = 0;
export const SET = 1;

export interface SegmentState {
  /** [key, SET, value] or [key, DELETED]: each key once, with its last operation. */
  ops: [string, typeof SET, unknown][] | [string, typeof DELETED][];
  scan: Omit<ScanResult, 'header'> & { firstLsn: number | null };
  /** Entries that were not set/delete operations (ignored). */
  ignored: number;
}

export function reduceSegment(fsys: FileSystem, path: string, maxEntryBytes: number): SegmentState {
  const last = new Map<string, { deleted: boolean; value: unknown }>();
  let ignored = 0;
  const scan = scanSegmentFile(fsys, path, { maxEntryBytes }, (entry) => {
    const value = decode(entry.payload) as { op?: unknown; key?: unknown; value?: unknown } | null;
    if (value && typeof value === 'object' && typeof value.key === 'string') {
      if (value.op === 'set') {
        last.set(value.key, { deleted: false, value: value.value });
        return;
      }
      if (value.op === 'delete') {
        last.set(value.key, { deleted: true, value: undefined });
        return;
      }
    }
    ignored++;
  });
  const ops: (string | number | unknown)[][] = [];
  for (const [key, op] of last) ops.push(op.deleted ? [key, DELETED] : [key, SET, op.value]);
  const { header, ...rest } = scan;
  return {
    ops: ops as SegmentState['ops'],
    scan: { ...rest, firstLsn: header?.firstLsn ?? null },
    ignored,
  };
}
