/**
 * One segment reduced to last-writer-wins key-value state: what a replay worker computes,
 * so the main thread only merges one small result per segment instead of decoding every
 * entry. Entries that are not `{ op: 'set' | 'delete', key: string }` are left out.
 *
 * The result is built for the trip back to the main thread: keys in one array, and every
 * kept value still msgpack-encoded, back to back in one ArrayBuffer that is transferred, not
 * copied. A structured clone of decoded values would cost the main thread as much as
 * decoding them, and each worker's heap would grow with the objects.
 */
import { decodeStored } from '../encoding.js';
import { type ScanSummary, summarize } from '../format/segment-scanner.js';
import type { FileSystem } from '../fs.js';
import { scanSegmentFile } from '../segment/scan-file.js';
import { readEnvelope } from './kv-envelope.js';

/** A replay pool task (workers/replay.ts): a path, never data; the worker reads the file itself. */
export interface ReplayTask {
  path: string;
  maxEntryBytes: number;
  /** Resume after damage at the next valid record (recovery mode `skip-corrupt`). */
  skipCorrupt: boolean;
}

/** What a key's last operation in the segment was (`SegmentState.kinds`). */
export const DELETED = 0;
/** A set; `values[starts[i], starts[i + 1])` is the value's encoding (empty: no value). */
export const SET_VALUE = 1;
/** A set from an entry the envelope reader did not take: those bytes are the whole entry; use its `.value`. */
export const SET_ENTRY = 2;

export interface SegmentState {
  /** Each key once, with its last operation (`kinds[i]`): deletes first, then sets in LSN order. */
  keys: string[];
  kinds: Uint8Array;
  /** keys.length + 1 offsets into `values`. */
  starts: Uint32Array;
  values: Uint8Array;
  scan: ScanSummary;
  /** Entries that were not set/delete operations (ignored). */
  ignored: number;
}

/** A key-value operation read by decoding a whole entry, or null if the entry is not one. */
function kvOf(bytes: Uint8Array, path: string, offset: number): { key: string; op: 'set' | 'delete' } | null {
  // Not a plain map the envelope reader understands: decode it as readWal would.
  const value = decodeStored(bytes, path, offset) as { op?: unknown; key?: unknown } | null;
  if (
    value &&
    typeof value === 'object' &&
    typeof value.key === 'string' &&
    (value.op === 'set' || value.op === 'delete')
  ) {
    return { key: value.key, op: value.op };
  }
  return null;
}

/**
 * Two passes over the segment, so that nothing but each key's last value is kept: the first
 * notes, per key, the index of its last operation; the second copies out the value bytes of
 * exactly those entries. Nothing read in the first pass outlives it.
 */
export function reduceSegment(
  fsys: FileSystem,
  path: string,
  maxEntryBytes: number,
  skipCorrupt = false,
): SegmentState {
  const lastIndex = new Map<string, number>(); // key -> index of its last op; negative: a delete
  let sizes = new Uint32Array(1024); // by entry index: the bytes a set would keep
  let ignored = 0;
  let index = 0;
  const scan = scanSegmentFile(fsys, path, { maxEntryBytes, skipCorrupt }, (run) => {
    for (let k = 0; k < run.count; k++) {
      const bytes = run.bytes.subarray(run.starts[k], run.ends[k]);
      const envelope = readEnvelope(bytes);
      const kv = envelope ?? kvOf(bytes, path, run.offsets[k]);
      if (kv) lastIndex.set(kv.key, kv.op === 'delete' ? -index - 1 : index);
      else ignored++;
      if (index === sizes.length) {
        const grown = new Uint32Array(sizes.length * 2);
        grown.set(sizes);
        sizes = grown;
      }
      sizes[index] = envelope ? envelope.valueEnd - envelope.valueStart : bytes.length;
      index++;
    }
  });
  const entries = index;
  const keys: string[] = [];
  const kinds: number[] = [];
  const starts: number[] = [];
  const wanted = new Uint8Array(entries);
  let total = 0;
  for (const [key, at] of lastIndex) {
    if (at < 0) {
      keys.push(key);
      kinds.push(DELETED);
      starts.push(0);
    } else {
      wanted[at] = 1;
      total += sizes[at];
    }
  }
  lastIndex.clear();
  const values = new Uint8Array(total);
  let length = 0;
  index = 0;
  scanSegmentFile(fsys, path, { maxEntryBytes, skipCorrupt }, (run) => {
    for (let k = 0; k < run.count; k++, index++) {
      // A live tail may have grown since the first pass: its state is the first pass's.
      if (index >= entries || wanted[index] !== 1) continue;
      const bytes = run.bytes.subarray(run.starts[k], run.ends[k]);
      const envelope = readEnvelope(bytes);
      keys.push(envelope ? envelope.key : (decodeStored(bytes, path, run.offsets[k]) as { key: string }).key);
      kinds.push(envelope ? SET_VALUE : SET_ENTRY);
      const kept = envelope ? bytes.subarray(envelope.valueStart, envelope.valueEnd) : bytes;
      if (length + kept.length > total)
        throw new Error(`${path} changed between the two passes of its replay`);
      starts.push(length);
      values.set(kept, length);
      length += kept.length;
    }
  });
  const startArray = new Uint32Array(starts.length + 1);
  startArray.set(starts);
  startArray[starts.length] = length;
  // Deletes carry no bytes: give each the start of the next entry so every range is well formed.
  for (let i = starts.length - 1; i >= 0; i--) if (kinds[i] === DELETED) startArray[i] = startArray[i + 1];
  return {
    keys,
    kinds: Uint8Array.from(kinds),
    starts: startArray,
    values: values.subarray(0, length),
    scan: summarize(scan),
    ignored,
  };
}
