/**
 * On-disk and in-ring byte layout. The specification is docs/FORMAT.md; this module only
 * names its numbers and imports nothing.
 *
 * All multi-byte integers are little-endian. A record is the same bytes in the ring and in a
 * segment file, so the writer writes views of the ring without copying.
 */

/** "RWAL" read as a little-endian u32. */
export const SEGMENT_MAGIC = 0x4c415752;
export const FORMAT_VERSION = 1;

/**
 * Segment header: magic, version, header size, first LSN, creation time, the size bounds
 * its writer used (so a reader never needs the writer's options, and never allocates more
 * than they allowed), header CRC.
 */
export const SEGMENT_HEADER_BYTES = 40;
export const SEG_OFF_MAGIC = 0; // u32
export const SEG_OFF_VERSION = 4; // u16
export const SEG_OFF_HEADER_BYTES = 6; // u16
export const SEG_OFF_FIRST_LSN = 8; // f64, an integer from 1 to 2^48 - 1
export const SEG_OFF_CREATED_MS = 16; // f64, ms since the Unix epoch
export const SEG_OFF_MAX_RECORD = 24; // u32, largest payload one record in this segment may have
export const SEG_OFF_MAX_ENTRY = 28; // u32, largest entry (all its fragments) in this segment
export const SEG_OFF_RESERVED = 32; // u32, zero
export const SEG_OFF_CRC = 36; // u32, CRC32C of bytes [0, 36)

/** Record header; the payload follows it and the record is padded with zeros to RECORD_ALIGN. */
export const RECORD_HEADER_BYTES = 24;
export const REC_OFF_CRC = 0; // u32, CRC32C of bytes [4, 24 + length)
export const REC_OFF_LENGTH = 4; // u32, payload bytes (excludes header and padding)
export const REC_OFF_LSN_LO = 8; // u32, low 32 bits of the LSN
export const REC_OFF_LSN_HI = 12; // u16, high 16 bits of the LSN
export const REC_OFF_TYPE = 14; // u8, one of RecordType
export const REC_OFF_FLAGS = 15; // u8, RecordFlag bits; the others zero
export const REC_OFF_TS = 16; // f64, entry timestamp in ms since the Unix epoch
export const RECORD_ALIGN = 8;

/**
 * Record flags. SYNCED_BEFORE marks a record written after an fdatasync that made every
 * earlier byte of its segment durable: damage *before* such a record is in synced data
 * (corruption), while damage with no marked record after it may be an interrupted write
 * (a torn tail). The writer sets it on the first record written after each sync.
 */
export const RecordFlag = {
  SYNCED_BEFORE: 1,
} as const;
export const KNOWN_RECORD_FLAGS = RecordFlag.SYNCED_BEFORE;

/** LSNs must fit the 48 bits the record header gives them. */
export const MAX_LSN = 2 ** 48 - 1;

/**
 * A record's type. An entry that fits one record is FULL; a larger one is cut into FIRST,
 * MIDDLE..., LAST fragments that share its LSN and timestamp (as LevelDB's log does).
 * Zero is never a valid type: a header of zeros is preallocated or never-written space.
 */
export const RecordType = {
  FULL: 1,
  FIRST: 2,
  MIDDLE: 3,
  LAST: 4,
} as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

/** Size of a record with `payloadBytes` of payload, header and padding included. */
export function recordBytes(payloadBytes: number): number {
  const unpadded = RECORD_HEADER_BYTES + payloadBytes + RECORD_ALIGN - 1;
  return unpadded - (unpadded % RECORD_ALIGN);
}
