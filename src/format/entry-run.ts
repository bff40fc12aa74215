/**
 * A run of entries the segment walk hands its driver at once (src/format/segment-scanner.ts),
 * and the loop that parses the common case fast: whole, valid `FULL` records in LSN sequence,
 * back to back in one read buffer.
 *
 * Readers parse millions of records. Handing them out one generator step and one object at a
 * time cost more than checking them (docs/BENCHMARKS.md "Session 8"): a run is a handful of
 * typed arrays, reused for the whole walk, that one step fills with up to RUN_CAPACITY
 * entries. `takeFullRecords` accepts exactly what the walk's record-by-record path
 * (`parseRecord` plus the sequence checks) would accept and stops at anything else, which
 * that path then judges as before.
 */
import {
  KNOWN_RECORD_FLAGS,
  REC_OFF_TS,
  RECORD_ALIGN,
  RECORD_HEADER_BYTES,
  RecordFlag,
  RecordType,
} from './constants.js';
import { alignedWords, crc32cWords } from './crc32c.js';

/** Entries per run: enough to make a step's cost vanish, few enough to keep the arrays in cache. */
export const RUN_CAPACITY = 4096;

const EMPTY = new Uint8Array(0);

/** One entry of a run as an object (for tests and rare paths; the hot paths read the arrays). */
export interface ScannedEntry {
  lsn: number;
  ts: number;
  /** The encoded value. Valid only until the walk continues (it may view a reused buffer). */
  payload: Uint8Array;
  /** File offset of the entry's first record. */
  offset: number;
  /** File offset just past its last record: where the next entry starts. */
  end: number;
}

/**
 * Entries `0 .. count - 1`, all with their encoded value in `bytes`: entry k's payload is
 * `bytes[starts[k], ends[k])`. Valid only until the walk continues: `bytes` may be a read
 * buffer the next read reuses, and the arrays are refilled.
 */
export class EntryRun {
  readonly kind = 'entries';
  count = 0;
  bytes: Uint8Array = EMPTY;
  readonly starts = new Uint32Array(RUN_CAPACITY);
  readonly ends = new Uint32Array(RUN_CAPACITY);
  readonly lsns = new Float64Array(RUN_CAPACITY);
  readonly ts = new Float64Array(RUN_CAPACITY);
  /** File offset of each entry's first record. */
  readonly offsets = new Float64Array(RUN_CAPACITY);
  /** File offset just past each entry's last record. */
  readonly fileEnds = new Float64Array(RUN_CAPACITY);

  get full(): boolean {
    return this.count === RUN_CAPACITY;
  }

  /** Adds one entry whose payload is `bytes[start, end)`; a run holds payloads of one buffer only. */
  push(
    bytes: Uint8Array,
    start: number,
    end: number,
    lsn: number,
    ts: number,
    offset: number,
    fileEnd: number,
  ): void {
    if (this.count === 0) this.bytes = bytes;
    const k = this.count++;
    this.starts[k] = start;
    this.ends[k] = end;
    this.lsns[k] = lsn;
    this.ts[k] = ts;
    this.offsets[k] = offset;
    this.fileEnds[k] = fileEnd;
  }

  clear(): void {
    this.count = 0;
    this.bytes = EMPTY;
  }

  entry(k: number): ScannedEntry {
    return {
      lsn: this.lsns[k],
      ts: this.ts[k],
      payload: this.bytes.subarray(this.starts[k], this.ends[k]),
      offset: this.offsets[k],
      end: this.fileEnds[k],
    };
  }
}

/** What `takeFullRecords` leaves for its caller to carry on from. */
export interface TakenRecords {
  /** Records taken (each one entry). */
  count: number;
  /** Offset in `bytes` just past the last record taken. */
  next: number;
  /** Offset in `bytes` of the last record taken that carries RecordFlag.SYNCED_BEFORE; -1 if none. */
  lastSyncMark: number;
}

const taken: TakenRecords = { count: 0, next: 0, lastSyncMark: -1 };

/**
 * Takes the records at `bytes[at]` onward into `run` while each is a whole `FULL` record in
 * `bytes[.., end)` that passes every check of `parseRecord` (type, flags, length bound, CRC)
 * and carries LSN `expectedLsn`, `expectedLsn + 1`, ... It stops before the first record that
 * is anything else (incomplete, zeros, bad, a fragment, out of sequence) and when the run is
 * full. With `run` null it only checks (a verify-only walk). `fileBase` is the file offset of
 * `bytes[0]`. The result is reused by the next call.
 *
 * It reads header fields and checksummed bytes a word at a time, so it takes nothing when
 * `bytes[at]` is not at a 4-byte boundary of its buffer (or the machine is big-endian): the
 * record-by-record path then reads those records, slower, with the same verdicts. The
 * readers' buffers always qualify (records are 8-byte aligned in the file, and each read
 * lands at an 8-byte aligned place); a branch per field for the other case cost ~10%.
 */
export function takeFullRecords(
  bytes: Uint8Array,
  at: number,
  end: number,
  expectedLsn: number,
  maxPayloadBytes: number,
  run: EntryRun | null,
  fileBase: number,
): TakenRecords {
  let count = 0;
  let lastSyncMark = -1;
  const room = run === null ? RUN_CAPACITY : RUN_CAPACITY - run.count;
  const words = alignedWords(bytes, at);
  const base = bytes.byteOffset;
  while (words !== null && count < room && end - at >= RECORD_HEADER_BYTES) {
    const hw = (base + at) >>> 2; // the header's words: CRC, length, LSN low, LSN high | type | flags
    const typeWord = words[hw + 3];
    // A FULL type also rules out a header of zeros (type 0 is never a record).
    if (((typeWord >>> 16) & 0xff) !== RecordType.FULL) break;
    const flags = typeWord >>> 24;
    if ((flags & ~KNOWN_RECORD_FLAGS) !== 0) break;
    const length = words[hw + 1] >>> 0;
    if (length > maxPayloadBytes) break;
    const payloadStart = at + RECORD_HEADER_BYTES;
    const payloadEnd = payloadStart + length;
    const unpadded = RECORD_HEADER_BYTES + length + RECORD_ALIGN - 1; // recordBytes(length), inlined
    const size = unpadded - (unpadded % RECORD_ALIGN);
    if (end - at < size) break;
    const lsn = (words[hw + 2] >>> 0) + (typeWord & 0xffff) * 4294967296;
    if (lsn !== expectedLsn) break;
    if (crc32cWords(bytes, words, at + 4, payloadEnd) !== words[hw] >>> 0) break;
    if (flags & RecordFlag.SYNCED_BEFORE) lastSyncMark = at;
    run?.push(
      bytes,
      payloadStart,
      payloadEnd,
      lsn,
      f64(bytes, at + REC_OFF_TS),
      fileBase + at,
      fileBase + at + size,
    );
    expectedLsn++;
    at += size;
    count++;
  }
  taken.count = count;
  taken.next = at;
  taken.lastSyncMark = lastSyncMark;
  return taken;
}

// One DataView per buffer, not per record (as src/format/record.ts does).
let viewedBytes: Uint8Array | null = null;
let bufferView: DataView | null = null;

function f64(bytes: Uint8Array, at: number): number {
  if (bytes !== viewedBytes) {
    viewedBytes = bytes;
    bufferView = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  return bufferView!.getFloat64(at, true);
}
