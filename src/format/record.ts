/**
 * Parses one record out of a byte range (docs/FORMAT.md, "Records"). Pure: the callers own
 * the I/O and decide what a bad record means (the recovery mode).
 */
import {
  KNOWN_RECORD_FLAGS,
  REC_OFF_CRC,
  REC_OFF_FLAGS,
  REC_OFF_LENGTH,
  REC_OFF_LSN_HI,
  REC_OFF_LSN_LO,
  REC_OFF_TS,
  REC_OFF_TYPE,
  RECORD_HEADER_BYTES,
  RecordType,
  recordBytes,
} from './constants.js';
import { crc32c } from './crc32c.js';

export interface ParsedRecord {
  kind: 'record';
  type: RecordType;
  lsn: number;
  ts: number;
  /** RecordFlag bits. */
  flags: number;
  /** Offset of the payload in the parsed buffer. */
  payloadStart: number;
  length: number;
  /** Bytes the record occupies, header and padding included. */
  size: number;
}

/** The range ends inside a record: more bytes may come (a live writer), or the tail is torn. */
export interface Incomplete {
  kind: 'incomplete';
  /** Bytes the whole record needs, when the header was readable. */
  needed: number;
}

/** A zero header: preallocated or never-written space, where the data ends. */
export interface Zeros {
  kind: 'zeros';
}

export interface Bad {
  kind: 'bad';
  reason: string;
}

export type ParseResult = ParsedRecord | Incomplete | Zeros | Bad;

function isZero(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i] !== 0) return false;
  return true;
}

// One DataView per buffer rather than per record: readers parse millions of records, and a
// view per record was a tenth of a replay's time.
let viewedBytes: Uint8Array | null = null;
let bufferView: DataView | null = null;

function viewOf(bytes: Uint8Array): DataView {
  if (bytes !== viewedBytes) {
    viewedBytes = bytes;
    bufferView = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  return bufferView!;
}

/**
 * Parses the record at `bytes[at]`, looking no further than `end`. A length above
 * `maxPayloadBytes` is reported as bad before anything is allocated or read for it.
 */
export function parseRecord(
  bytes: Uint8Array,
  at: number,
  end: number,
  maxPayloadBytes: number,
): ParseResult {
  const available = end - at;
  if (available < RECORD_HEADER_BYTES) {
    return isZero(bytes, at, end) ? { kind: 'zeros' } : { kind: 'incomplete', needed: RECORD_HEADER_BYTES };
  }
  if (isZero(bytes, at, at + RECORD_HEADER_BYTES)) return { kind: 'zeros' };
  const view = viewOf(bytes);
  const length = view.getUint32(at + REC_OFF_LENGTH, true);
  const type = view.getUint8(at + REC_OFF_TYPE);
  if (type < RecordType.FULL || type > RecordType.LAST)
    return { kind: 'bad', reason: `bad record type ${type}` };
  const flags = view.getUint8(at + REC_OFF_FLAGS);
  if ((flags & ~KNOWN_RECORD_FLAGS) !== 0) return { kind: 'bad', reason: `unknown record flags ${flags}` };
  if (length > maxPayloadBytes)
    return { kind: 'bad', reason: `record length ${length} exceeds the ${maxPayloadBytes}-byte limit` };
  const size = recordBytes(length);
  if (available < size) return { kind: 'incomplete', needed: size };
  const stored = view.getUint32(at + REC_OFF_CRC, true);
  if (crc32c(bytes, at + 4, at + RECORD_HEADER_BYTES + length) !== stored) {
    return { kind: 'bad', reason: 'checksum mismatch' };
  }
  const lsn =
    view.getUint32(at + REC_OFF_LSN_LO, true) + view.getUint16(at + REC_OFF_LSN_HI, true) * 4294967296;
  if (lsn < 1) return { kind: 'bad', reason: 'LSN 0' };
  return {
    kind: 'record',
    type: type as RecordType,
    lsn,
    ts: view.getFloat64(at + REC_OFF_TS, true),
    flags,
    payloadStart: at + RECORD_HEADER_BYTES,
    length,
    size,
  };
}
