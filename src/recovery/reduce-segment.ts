/**
 * One segment reduced to last-writer-wins key-value state: what a replay worker computes,
 * so the main thread only merges one small map per segment instead of decoding every entry.
 * Entries that are not `{ op: 'set' | 'delete', key: string }` are left out.
 */
import { decode } from '../encoding.js';
import type { FileSystem } from '../fs.js';
import { scanSegmentFile } from '../reader/scan-file.js';
import type { ScanResult } from '../reader/segment-scanner.js';
import { readEnvelope } from './kv-envelope.js';

/** A replay pool task (workers/replay.ts): a path, never data; the worker reads the file itself. */
export interface ReplayTask {
  path: string;
  maxEntryBytes: number;
  /** Resume after damage at the next valid record (recovery mode `skip-corrupt`). */
  skipCorrupt: boolean;
}

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

/** A key-value operation read from one entry, or null if the entry is not one. */
function kvOf(bytes: Uint8Array): { key: string; op: 'set' | 'delete'; envelope: boolean } | null {
  const envelope = readEnvelope(bytes);
  if (envelope) return { key: envelope.key, op: envelope.op, envelope: true };
  // Not a plain map the envelope reader understands: decode it as readWal would.
  const value = decode(bytes) as { op?: unknown; key?: unknown } | null;
  if (
    value &&
    typeof value === 'object' &&
    typeof value.key === 'string' &&
    (value.op === 'set' || value.op === 'delete')
  ) {
    return { key: value.key, op: value.op, envelope: false };
  }
  return null;
}

/**
 * Two passes over the segment, so that no value but each key's last is ever decoded or kept:
 * the first notes, per key, the index of its last operation; the second decodes the values
 * of exactly those entries. Nothing read in the first pass outlives it.
 */
export function reduceSegment(
  fsys: FileSystem,
  path: string,
  maxEntryBytes: number,
  skipCorrupt = false,
): SegmentState {
  const lastIndex = new Map<string, number>(); // key -> index of its last op; negative: a delete
  let ignored = 0;
  let index = 0;
  const scan = scanSegmentFile(fsys, path, { maxEntryBytes, skipCorrupt }, (entry) => {
    const kv = kvOf(entry.payload);
    if (kv) lastIndex.set(kv.key, kv.op === 'delete' ? -index - 1 : index);
    else ignored++;
    index++;
  });
  const entries = index;
  const ops: (string | number | unknown)[][] = [];
  const wanted = new Uint8Array(entries);
  for (const [key, at] of lastIndex) {
    if (at < 0) ops.push([key, DELETED]);
    else wanted[at] = 1;
  }
  index = 0;
  scanSegmentFile(fsys, path, { maxEntryBytes, skipCorrupt }, (entry) => {
    // A live tail may have grown since the first pass: its state is the first pass's.
    if (index < entries && wanted[index] === 1) {
      const bytes = entry.payload;
      const envelope = readEnvelope(bytes);
      if (envelope) {
        const valueBytes = bytes.subarray(envelope.valueStart, envelope.valueEnd);
        ops.push([envelope.key, SET, valueBytes.length === 0 ? undefined : decode(valueBytes)]);
      } else {
        const value = decode(bytes) as { key: string; value?: unknown };
        ops.push([value.key, SET, value.value]);
      }
    }
    index++;
  });
  const { header, ...rest } = scan;
  return {
    ops: ops as SegmentState['ops'],
    scan: { ...rest, firstLsn: header?.firstLsn ?? null },
    ignored,
  };
}
