/**
 * One segment reduced to last-writer-wins key-value state: what a replay worker computes,
 * so the main thread only merges one small map per segment instead of decoding every entry.
 * Entries that are not `{ op: 'set' | 'delete', key: string }` are left out.
 */
import { decode, encode } from '../encoding.js';
import type { FileSystem } from '../fs.js';
import { scanSegmentFile } from '../reader/scan-file.js';
import type { ScanResult } from '../reader/segment-scanner.js';
import { readEnvelope } from './kv-envelope.js';

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
  // Each key's last operation, with its value still encoded (a view on the read buffer, which
  // the scan never reuses): only these values get decoded.
  const last = new Map<string, Uint8Array | null>();
  let ignored = 0;
  const scan = scanSegmentFile(fsys, path, { maxEntryBytes }, (entry) => {
    const bytes = entry.payload;
    const envelope = readEnvelope(bytes);
    if (envelope) {
      last.set(
        envelope.key,
        envelope.op === 'delete' ? null : bytes.subarray(envelope.valueStart, envelope.valueEnd),
      );
      return;
    }
    // Not a plain map this reader understands: decode it as readWal would.
    const value = decode(bytes) as { op?: unknown; key?: unknown; value?: unknown } | null;
    if (value && typeof value === 'object' && typeof value.key === 'string') {
      if (value.op === 'set') {
        last.set(value.key, encodeAgain(value.value));
        return;
      }
      if (value.op === 'delete') {
        last.set(value.key, null);
        return;
      }
    }
    ignored++;
  });
  const ops: (string | number | unknown)[][] = [];
  for (const [key, encoded] of last) {
    ops.push(
      encoded === null ? [key, DELETED] : [key, SET, encoded.length === 0 ? undefined : decode(encoded)],
    );
  }
  const { header, ...rest } = scan;
  return {
    ops: ops as SegmentState['ops'],
    scan: { ...rest, firstLsn: header?.firstLsn ?? null },
    ignored,
  };
}

/** The rare fallback keeps a decoded value; re-encoding it keeps one representation in the map. */
function encodeAgain(value: unknown): Uint8Array {
  if (value === undefined) return new Uint8Array(0);
  const encoded = encode(value);
  return encoded.slice(encoded.start, encoded.end);
}
