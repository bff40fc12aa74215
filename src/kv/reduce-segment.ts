/**
 * One segment reduced to last-writer-wins key-value state: what a replay worker computes,
 * so the main thread only merges one small result per segment instead of decoding every
 * entry. Entries that are not `{ op: 'set' | 'delete', key: string }` are left out.
 *
 * The walk (every CRC, every envelope) is done once (docs/BENCHMARKS.md "Session 8": it used
 * to be done twice). Each entry's envelope is read in place in the read buffer and its key
 * looked up by its bytes (src/kv/key-table.ts); for each key only where its latest value
 * lies in the file is noted. Then the survivors' values alone are read again, in file order,
 * each record's CRC checked again, straight into the result. Copying every value as it was
 * met instead (to an arena where each key kept its latest) cost as much time and ~20 MiB
 * more per worker, which the 300 MiB budget of a replay did not have room for. Values of
 * entries cut into fragments are rare and kept in memory as met.
 *
 * The result is built for the trip back to the main thread: keys as bytes and every kept
 * value still msgpack-encoded, each back to back in one ArrayBuffer, transferred, not copied
 * (no string or decoded value is cloned; each worker's heap does not grow with the objects).
 */
import { decodeStored } from '../encoding.js';
import { RECORD_HEADER_BYTES, RecordType, recordBytes } from '../format/constants.js';
import { crc32c } from '../format/crc32c.js';
import { type EntryRun, type ScanSummary, summarize } from '../format/segment-scanner.js';
import type { FileSystem } from '../fs.js';
import { readInto, scanSegmentFile } from '../segment/scan-file.js';
import { grow, hashKey, isUtf8, KeyTable } from './key-table.js';
import { type EnvelopeAt, readEnvelopeAt } from './kv-envelope.js';

/** A replay pool task (workers/replay.ts): a path, never data; the worker reads the file itself. */
export interface ReplayTask {
  path: string;
  maxEntryBytes: number;
  /** Resume after damage at the next valid record (recovery mode `skip-corrupt`). */
  skipCorrupt: boolean;
  /** The first LSN the segment's name gives (ScanOptions.nameFirstLsn). */
  nameFirstLsn?: number;
}

/** What a key's last operation in the segment was (`SegmentState.kinds`). */
export const DELETED = 0;
/** A set; `values[starts[i], starts[i + 1])` is the value's encoding (empty: no value). */
export const SET_VALUE = 1;
/** A set from an entry the envelope reader did not take: those bytes are the whole entry; use its `.value`. */
export const SET_ENTRY = 2;

export interface SegmentState {
  /** Keys seen in the segment, in order of first appearance: key i is `keyBytes[keyEnds[i - 1] ?? 0, keyEnds[i])` (UTF-8). */
  keyBytes: Uint8Array;
  keyEnds: Uint32Array;
  /** hashKey of each key, so the merge need not hash them again. */
  hashes: Uint32Array;
  /** Each key's last operation in the segment. */
  kinds: Uint8Array;
  /**
   * For a key set at the end of the segment: the LSN of the set that (re)inserted it, the
   * first one after its last delete here, or its first one. With `deletedFirst[i]` 1, a
   * delete in this segment came before that set. A sequential replay's Map has its keys in
   * the order of those sets (src/kv/merged-state.ts keeps it).
   */
  insertedAt: Float64Array;
  deletedFirst: Uint8Array;
  /** keys + 1 offsets into `values`; a deleted key's range is empty. */
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
 * Each key's latest operation in the segment, by slot: for a set, where its value is (a
 * place in one FULL record of the file, or the bytes themselves for a fragmented entry).
 */
class LatestOps {
  kinds = new Uint8Array(1024);
  insertedAt = new Float64Array(1024);
  deletedFirst = new Uint8Array(1024);
  /** Index (in the segment) of the entry whose value the key has. */
  entryIndex = new Uint32Array(1024);
  /** That entry's record: file offset, LSN, payload length; the value's place in the payload. */
  recordOffset = new Float64Array(1024);
  lsn = new Float64Array(1024);
  payloadLength = new Uint32Array(1024);
  valueStart = new Uint32Array(1024);
  valueLength = new Uint32Array(1024);
  /** The value itself, for an entry cut into fragments (not in one record). */
  held: (Uint8Array | undefined)[] = [];

  /** Forgets the first `slots` slots, keeping the buffers for the next segment. */
  clear(slots: number): void {
    this.kinds.fill(0, 0, slots);
    this.deletedFirst.fill(0, 0, slots);
    this.held = [];
  }

  /** Makes room for slot `slot` (slots are handed out in order). */
  ensure(slot: number): void {
    if (slot < this.kinds.length) return;
    const n = slot + 1;
    this.kinds = grow(this.kinds, n);
    this.insertedAt = grow(this.insertedAt, n);
    this.deletedFirst = grow(this.deletedFirst, n);
    this.entryIndex = grow(this.entryIndex, n);
    this.recordOffset = grow(this.recordOffset, n);
    this.lsn = grow(this.lsn, n);
    this.payloadLength = grow(this.payloadLength, n);
    this.valueStart = grow(this.valueStart, n);
    this.valueLength = grow(this.valueLength, n);
  }

  delete(slot: number): void {
    this.kinds[slot] = DELETED;
    this.deletedFirst[slot] = 1;
    this.valueLength[slot] = 0;
    this.held[slot] = undefined;
  }

  /**
   * Slot `slot`'s key was set by entry `index` of run `run`, entry k; its value is
   * `run.bytes[valueStart, valueEnd)`.
   */
  set(
    slot: number,
    fresh: boolean,
    kind: number,
    run: EntryRun,
    k: number,
    index: number,
    valueStart: number,
    valueEnd: number,
  ): void {
    if (fresh || this.kinds[slot] === DELETED) this.insertedAt[slot] = run.lsns[k];
    this.kinds[slot] = kind;
    this.entryIndex[slot] = index;
    this.valueLength[slot] = valueEnd - valueStart;
    const payloadLength = run.ends[k] - run.starts[k];
    if (run.fileEnds[k] - run.offsets[k] === recordBytes(payloadLength)) {
      // One FULL record: read again from the file at the end.
      this.recordOffset[slot] = run.offsets[k];
      this.lsn[slot] = run.lsns[k];
      this.payloadLength[slot] = payloadLength;
      this.valueStart[slot] = valueStart - run.starts[k];
      this.held[slot] = undefined;
    } else {
      this.held[slot] = run.bytes.slice(valueStart, valueEnd);
    }
  }
}

/**
 * The table and per-key state every task of this worker uses (tasks run one at a time),
 * kept between them: their buffers, grown by doubling, would otherwise be garbage after each
 * segment, and the worker's collector let ~30 MB of it pile up (measured).
 */
const table = new KeyTable();
const latest = new LatestOps();
/** The read buffer of the second pass, kept between tasks for the same reason. */
let readBuffer = new Uint8Array(0);

const CHUNK_BYTES = 1024 * 1024;

export function reduceSegment(
  fsys: FileSystem,
  path: string,
  maxEntryBytes: number,
  skipCorrupt = false,
  nameFirstLsn?: number,
): SegmentState {
  latest.clear(table.size);
  table.clear();
  const envelope: EnvelopeAt = { op: 'set', keyStart: 0, keyEnd: 0, valueStart: 0, valueEnd: 0 };
  let ignored = 0;
  let index = 0;
  const take = (run: EntryRun) => {
    const bytes = run.bytes;
    for (let k = 0; k < run.count; k++, index++) {
      const start = run.starts[k];
      const end = run.ends[k];
      let keyBytes = bytes;
      let op: 'set' | 'delete';
      let kind = SET_VALUE;
      let valueStart: number;
      let valueEnd: number;
      if (readEnvelopeAt(bytes, start, end, envelope) && isUtf8(bytes, envelope.keyStart, envelope.keyEnd)) {
        op = envelope.op;
        valueStart = envelope.valueStart;
        valueEnd = envelope.valueEnd;
      } else {
        const kv = kvOf(bytes.subarray(start, end), path, run.offsets[k]);
        if (!kv) {
          ignored++;
          continue;
        }
        // The key's canonical bytes (src/kv/key-table.ts); the whole entry is kept.
        keyBytes = Buffer.from(kv.key, 'utf8');
        envelope.keyStart = 0;
        envelope.keyEnd = keyBytes.length;
        op = kv.op;
        kind = SET_ENTRY;
        valueStart = start;
        valueEnd = end;
      }
      const { keyStart, keyEnd } = envelope;
      const before = table.size;
      const slot = table.slotOf(keyBytes, keyStart, keyEnd, hashKey(keyBytes, keyStart, keyEnd));
      latest.ensure(slot);
      if (op === 'delete') latest.delete(slot);
      else latest.set(slot, slot === before, kind, run, k, index, valueStart, valueEnd);
    }
  };
  const scan = scanSegmentFile(fsys, path, { maxEntryBytes, skipCorrupt, nameFirstLsn }, take);
  const slots = table.size;
  const starts = new Uint32Array(slots + 1);
  for (let s = 0; s < slots; s++)
    starts[s + 1] = starts[s] + (latest.kinds[s] === DELETED ? 0 : latest.valueLength[s]);
  const values = new Uint8Array(starts[slots]);
  copyValues(fsys, path, slots, index, starts, values);
  return {
    keyBytes: table.keys.slice(0, slots === 0 ? 0 : table.keyEnds[slots - 1]),
    keyEnds: table.keyEnds.slice(0, slots),
    hashes: table.hashes.slice(0, slots),
    kinds: latest.kinds.slice(0, slots),
    insertedAt: latest.insertedAt.slice(0, slots),
    deletedFirst: latest.deletedFirst.slice(0, slots),
    starts,
    values,
    scan: summarize(scan),
    ignored,
  };
}

/**
 * The second pass: every surviving value into `values` at its slot's start. Values read from
 * the file are read in file order, a chunk at a time, and only from records whose header
 * (type, length, LSN) and CRC are what the walk found; anything else means the file changed
 * between the passes (a live tail cut by a repair), which this replay cannot report on.
 */
function copyValues(
  fsys: FileSystem,
  path: string,
  slots: number,
  entries: number,
  starts: Uint32Array,
  values: Uint8Array,
): void {
  const byEntry = new Int32Array(entries).fill(-1);
  let inFile = 0;
  for (let s = 0; s < slots; s++) {
    if (latest.kinds[s] === DELETED) continue;
    const held = latest.held[s];
    if (held) values.set(held, starts[s]);
    else {
      byEntry[latest.entryIndex[s]] = s;
      inFile++;
    }
  }
  if (inFile === 0) return;
  const fd = fsys.openSync(path, 'r');
  try {
    const fileSize = fsys.fstatSize(fd);
    let windowStart = 0;
    let windowEnd = 0;
    for (let e = 0; e < entries; e++) {
      const s = byEntry[e];
      if (s < 0) continue;
      const offset = latest.recordOffset[s];
      const length = latest.payloadLength[s];
      const end = offset + recordBytes(length);
      if (offset < windowStart || end > windowEnd) {
        const want = Math.min(Math.max(CHUNK_BYTES, end - offset), fileSize - offset);
        if (readBuffer.length < want) readBuffer = new Uint8Array(Math.max(want, CHUNK_BYTES));
        const got = readInto(fsys, fd, readBuffer, offset, want);
        windowStart = offset;
        windowEnd = offset + got.length;
      }
      const at = offset - windowStart;
      if (
        end > windowEnd ||
        u32(readBuffer, at + 4) !== length ||
        readBuffer[at + 14] !== RecordType.FULL ||
        u32(readBuffer, at + 8) + (readBuffer[at + 12] | (readBuffer[at + 13] << 8)) * 4294967296 !==
          latest.lsn[s] ||
        crc32c(readBuffer, at + 4, at + RECORD_HEADER_BYTES + length) !== u32(readBuffer, at)
      ) {
        throw new Error(`${path} changed between the two passes of its replay`);
      }
      const from = at + RECORD_HEADER_BYTES + latest.valueStart[s];
      values.set(readBuffer.subarray(from, from + latest.valueLength[s]), starts[s]);
    }
  } finally {
    fsys.closeSync(fd);
  }
}

function u32(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}
