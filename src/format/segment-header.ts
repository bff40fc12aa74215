/** Encodes and checks the 40-byte segment header (docs/FORMAT.md, "Segment header"). */
import {
  FORMAT_VERSION,
  MAX_LSN,
  SEG_OFF_CRC,
  SEG_OFF_CREATED_MS,
  SEG_OFF_FIRST_LSN,
  SEG_OFF_HEADER_BYTES,
  SEG_OFF_MAGIC,
  SEG_OFF_MAX_ENTRY,
  SEG_OFF_MAX_RECORD,
  SEG_OFF_RESERVED,
  SEG_OFF_VERSION,
  SEGMENT_HEADER_BYTES,
  SEGMENT_MAGIC,
} from './constants.js';
import { crc32c } from './crc32c.js';

export interface SegmentHeader {
  firstLsn: number;
  createdAtMs: number;
  /** Largest payload one record may claim; a larger length field is corruption. */
  maxRecordBytes: number;
  /** Largest entry, all fragments together, the writer accepted. */
  maxEntryBytes: number;
}

export function encodeSegmentHeader(header: SegmentHeader): Uint8Array {
  const bytes = new Uint8Array(SEGMENT_HEADER_BYTES);
  const view = new DataView(bytes.buffer);
  view.setUint32(SEG_OFF_MAGIC, SEGMENT_MAGIC, true);
  view.setUint16(SEG_OFF_VERSION, FORMAT_VERSION, true);
  view.setUint16(SEG_OFF_HEADER_BYTES, SEGMENT_HEADER_BYTES, true);
  view.setFloat64(SEG_OFF_FIRST_LSN, header.firstLsn, true);
  view.setFloat64(SEG_OFF_CREATED_MS, header.createdAtMs, true);
  view.setUint32(SEG_OFF_MAX_RECORD, header.maxRecordBytes, true);
  view.setUint32(SEG_OFF_MAX_ENTRY, header.maxEntryBytes, true);
  view.setUint32(SEG_OFF_CRC, crc32c(bytes, 0, SEG_OFF_CRC), true);
  return bytes;
}

/** Returns the header, or a reason it is not a valid one. */
export function decodeSegmentHeader(bytes: Uint8Array): SegmentHeader | { invalid: string } {
  if (bytes.length < SEGMENT_HEADER_BYTES) {
    return { invalid: `header is ${bytes.length} bytes, expected ${SEGMENT_HEADER_BYTES}` };
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, SEGMENT_HEADER_BYTES);
  if (view.getUint32(SEG_OFF_MAGIC, true) !== SEGMENT_MAGIC) return { invalid: 'bad magic' };
  if (view.getUint32(SEG_OFF_CRC, true) !== crc32c(bytes, 0, SEG_OFF_CRC))
    return { invalid: 'header checksum mismatch' };
  const version = view.getUint16(SEG_OFF_VERSION, true);
  if (version !== FORMAT_VERSION) return { invalid: `unsupported format version ${version}` };
  if (view.getUint16(SEG_OFF_HEADER_BYTES, true) !== SEGMENT_HEADER_BYTES)
    return { invalid: 'bad header size' };
  const firstLsn = view.getFloat64(SEG_OFF_FIRST_LSN, true);
  if (!Number.isSafeInteger(firstLsn) || firstLsn < 1 || firstLsn > MAX_LSN)
    return { invalid: `bad first LSN ${firstLsn}` };
  if (view.getUint32(SEG_OFF_RESERVED, true) !== 0) return { invalid: 'reserved header word is not zero' };
  const maxRecordBytes = view.getUint32(SEG_OFF_MAX_RECORD, true);
  const maxEntryBytes = view.getUint32(SEG_OFF_MAX_ENTRY, true);
  if (maxRecordBytes < 1 || maxRecordBytes > maxEntryBytes) {
    return { invalid: `bad size bounds (record ${maxRecordBytes}, entry ${maxEntryBytes})` };
  }
  return { firstLsn, createdAtMs: view.getFloat64(SEG_OFF_CREATED_MS, true), maxRecordBytes, maxEntryBytes };
}
