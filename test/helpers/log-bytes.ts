/**
 * Byte-level tools for mutation tests (as LevelDB's `log_test.cc` does with its in-memory
 * file): snapshot a log directory and put it back, locate each record of a segment from the
 * format alone (docs/FORMAT.md "Records"), and change bytes in place.
 *
 * The record walk here is deliberately independent of src/: it reads only the length field
 * and the LSN, so a test can say "LSN 130 is at offset 4 816, 72 bytes" without asking the
 * code under test.
 *
 * For unit tests of the parser and the readers' policy over bytes in memory, the builders at
 * the end make segment bytes with the writer's own encoders (`encodeSegmentHeader`, the ring's
 * producer and consumer), and the field mutators change a header or record field and fix up
 * its checksum, so that a test can damage exactly one thing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32c } from '../../src/format/crc32c.js';
import { encodeSegmentHeader, type SegmentHeader } from '../../src/format/segment-header.js';
import {
  type Damage,
  type ScannedEntry,
  type ScanOptions,
  type ScanResult,
  scanSegment,
} from '../../src/format/segment-scanner.js';
import { RingConsumer } from '../../src/ring/consumer.js';
import { createRing } from '../../src/ring/layout.js';
import { RingProducer } from '../../src/ring/producer.js';

/** The 40-byte segment header (docs/FORMAT.md "Segment header"). */
export const SEGMENT_HEADER = 40;
/** The 24-byte record header (docs/FORMAT.md "Records"). */
export const RECORD_HEADER = 24;
/** Records start at multiples of 8 and are padded to them. */
export const ALIGN = 8;
/** Field offsets inside a record header. */
export const REC = {
  crc: 0,
  length: 4,
  lsnLow: 8,
  lsnHigh: 12,
  type: 14,
  reserved: 15,
  flags: 15,
  ts: 16,
} as const;
/** Field offsets inside the segment header (docs/FORMAT.md "Segment header"). */
export const HDR = {
  magic: 0,
  version: 4,
  headerBytes: 6,
  firstLsn: 8,
  created: 16,
  maxRecord: 24,
  maxEntry: 28,
  reserved: 32,
  crc: 36,
} as const;
/** Record types (docs/FORMAT.md "Records"). */
export const TYPE = { FULL: 1, FIRST: 2, MIDDLE: 3, LAST: 4 } as const;

const SEGMENT_NAME = /^wal-(\d{16})-\d{8}-\d{6}-\d{3}\.log$/;

/** roundUp(24 + length, 8): a record's size on disk. */
export function recordSize(length: number): number {
  return Math.ceil((RECORD_HEADER + length) / ALIGN) * ALIGN;
}

export interface LocatedRecord {
  lsn: number;
  type: number;
  /** File offset of the record's first byte. */
  offset: number;
  /** Payload bytes (the length field). */
  length: number;
  /** Bytes on disk, padding included. */
  size: number;
}

/** Every record of an undamaged segment, in file order, by walking the length fields from offset 40. */
export function locateRecords(bytes: Uint8Array): LocatedRecord[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: LocatedRecord[] = [];
  for (let at = SEGMENT_HEADER; at + RECORD_HEADER <= bytes.length; ) {
    const length = view.getUint32(at + REC.length, true);
    const lsn = view.getUint32(at + REC.lsnLow, true) + view.getUint16(at + REC.lsnHigh, true) * 2 ** 32;
    const type = view.getUint8(at + REC.type);
    if (type === 0) break; // zeros: preallocated space
    const size = recordSize(length);
    if (at + size > bytes.length) throw new Error(`record at ${at} runs past the end of the segment`);
    out.push({ lsn, type, offset: at, length, size });
    at += size;
  }
  return out;
}

/** The segment files of `dir` (names only), in LSN order. */
export function segmentNames(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => SEGMENT_NAME.test(f))
    .sort();
}

/** The segment files of `dir` (full paths), in LSN order. */
export function segmentPaths(dir: string): string[] {
  return segmentNames(dir).map((name) => path.join(dir, name));
}

/** The first LSN a segment's name states. */
export function firstLsnOf(name: string): number {
  const m = SEGMENT_NAME.exec(name);
  if (!m) throw new Error(`${name} is not a segment name`);
  return Number(m[1]);
}

/** Every regular file in `dir`, name -> bytes. */
export type DirSnapshot = Map<string, Buffer>;

export function snapshotDir(dir: string): DirSnapshot {
  const out: DirSnapshot = new Map();
  for (const name of fs.readdirSync(dir).sort()) out.set(name, fs.readFileSync(path.join(dir, name)));
  return out;
}

/** Makes `dir` hold exactly the files of `snapshot`, byte for byte (others are removed). */
export function restoreDir(dir: string, snapshot: DirSnapshot): void {
  for (const name of fs.readdirSync(dir)) {
    if (!snapshot.has(name)) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  }
  for (const [name, bytes] of snapshot) fs.writeFileSync(path.join(dir, name), bytes);
}

/** A copy of `bytes` with bit `bit` of byte `offset` inverted. */
export function flipBit(bytes: Buffer, offset: number, bit = 0): Buffer {
  const out = Buffer.from(bytes);
  out[offset] ^= 1 << bit;
  return out;
}

/** A copy of `bytes` with `[from, to)` set to zero. */
export function zeroRange(bytes: Buffer, from: number, to: number): Buffer {
  const out = Buffer.from(bytes);
  out.fill(0, from, to);
  return out;
}

/** A copy of `bytes` with the u32 at `offset` (little-endian) set to `value`. */
export function setU32(bytes: Buffer, offset: number, value: number): Buffer {
  const out = Buffer.from(bytes);
  out.writeUInt32LE(value, offset);
  return out;
}

/** Deterministic non-zero garbage (xorshift32), so a failure can be reproduced byte for byte. */
export function garbage(length: number, seed = 0x9e3779b9): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = (x & 0xff) | 1; // never a zero byte: garbage, not preallocated space
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Builders: segment bytes as the writer makes them

/** The smallest ring the writer accepts; its records carry at most 64 KiB / 4 - 24 = 16 360 payload bytes. */
export const SMALL_RING_BYTES = 64 * 1024;

/** A segment header from `encodeSegmentHeader`, the writer's own encoder. */
export function segmentHeader(header: Partial<SegmentHeader> = {}): Buffer {
  return Buffer.from(
    encodeSegmentHeader({
      firstLsn: 1,
      createdAtMs: 1795593600000,
      maxRecordBytes: SMALL_RING_BYTES / 4 - RECORD_HEADER,
      maxEntryBytes: 1024 * 1024,
      ...header,
    }),
  );
}

/**
 * One group-commit batch as the writer writes it: `payloads` (encoded values) get LSNs from
 * `firstLsn` on, go through the ring's producer (which cuts one larger than a ring record into
 * FIRST/MIDDLE.../LAST fragments) and consumer (which stamps `ts`, marks the first record
 * RecordFlag.SYNCED_BEFORE when `syncedBefore`, and fills in the CRCs). Returns the bytes the
 * writer would append to its segment.
 */
export function writerBatch(
  payloads: readonly Uint8Array[],
  options: { firstLsn: number; ts: number; syncedBefore: boolean; ringBytes?: number },
): Buffer {
  const sab = createRing(options.ringBytes ?? SMALL_RING_BYTES);
  const producer = new RingProducer(sab);
  const consumer = new RingConsumer(sab);
  const out: Buffer[] = [];
  let first = true;
  const drain = () => {
    producer.publish();
    const batch = consumer.collect(Number.MAX_SAFE_INTEGER, options.ts, options.syncedBefore && first);
    first = false;
    for (const view of batch.views) out.push(Buffer.from(view)); // a copy: the ring is reused
    consumer.release(batch.end);
  };
  payloads.forEach((payload, i) => {
    if (payload.length === 0) throw new Error('an encoded value is never empty');
    for (let from = 0; from < payload.length; ) {
      const next = producer.write(payload, 0, payload.length, from, options.firstLsn + i);
      if (next === from) drain(); // the ring is full: hand what is there to the "writer"
      from = next;
    }
  });
  drain();
  return Buffer.concat(out);
}

/**
 * One record built field by field from the table in docs/FORMAT.md "Records", for records
 * the writer never makes (a MIDDLE with no FIRST, LSN 0...). Its CRC is right unless `crc`
 * is given.
 */
export function rawRecord(record: {
  lsn: number;
  type: number;
  payload: Uint8Array;
  ts?: number;
  flags?: number;
  crc?: number;
}): Buffer {
  const out = Buffer.alloc(recordSize(record.payload.length));
  out.writeUInt32LE(record.payload.length, REC.length);
  out.writeUInt32LE(record.lsn % 2 ** 32, REC.lsnLow);
  out.writeUInt16LE(Math.floor(record.lsn / 2 ** 32), REC.lsnHigh);
  out.writeUInt8(record.type, REC.type);
  out.writeUInt8(record.flags ?? 0, REC.flags);
  out.writeDoubleLE(record.ts ?? 1795593600000, REC.ts);
  out.set(record.payload, RECORD_HEADER);
  out.writeUInt32LE(record.crc ?? crc32c(out, 4, RECORD_HEADER + record.payload.length), REC.crc);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Field mutators: change one field, fix up the checksum

/** A copy with the CRC of the record at `offset` recomputed over its (current) length; the record must lie inside `bytes`. */
export function fixRecordCrc(bytes: Buffer, offset: number): Buffer {
  const out = Buffer.from(bytes);
  const end = offset + RECORD_HEADER + out.readUInt32LE(offset + REC.length);
  if (end > out.length) throw new Error(`record at ${offset} runs past the end; its CRC cannot be fixed`);
  out.writeUInt32LE(crc32c(out, offset + 4, end), offset + REC.crc);
  return out;
}

/**
 * A copy with fields of the record at `offset` changed. The CRC is fixed up (`fixCrc`,
 * default true) so that only the changed field is wrong; a length that runs past the end of
 * `bytes` leaves the CRC as it was.
 */
export function withRecord(
  bytes: Buffer,
  offset: number,
  change: { lsn?: number; type?: number; flags?: number; length?: number; ts?: number },
  fixCrc = true,
): Buffer {
  const out = Buffer.from(bytes);
  if (change.lsn !== undefined) {
    out.writeUInt32LE(change.lsn % 2 ** 32, offset + REC.lsnLow);
    out.writeUInt16LE(Math.floor(change.lsn / 2 ** 32), offset + REC.lsnHigh);
  }
  if (change.type !== undefined) out.writeUInt8(change.type, offset + REC.type);
  if (change.flags !== undefined) out.writeUInt8(change.flags, offset + REC.flags);
  if (change.length !== undefined) out.writeUInt32LE(change.length, offset + REC.length);
  if (change.ts !== undefined) out.writeDoubleLE(change.ts, offset + REC.ts);
  const end = offset + RECORD_HEADER + out.readUInt32LE(offset + REC.length);
  return fixCrc && end <= out.length ? fixRecordCrc(out, offset) : out;
}

/** A copy with fields of the segment header (at offset 0) changed and its CRC fixed up unless `fixCrc` is false. */
export function withHeader(
  bytes: Buffer,
  change: {
    magic?: number;
    version?: number;
    headerBytes?: number;
    firstLsn?: number;
    maxRecordBytes?: number;
    maxEntryBytes?: number;
    reserved?: number;
  },
  fixCrc = true,
): Buffer {
  const out = Buffer.from(bytes);
  if (change.magic !== undefined) out.writeUInt32LE(change.magic, HDR.magic);
  if (change.version !== undefined) out.writeUInt16LE(change.version, HDR.version);
  if (change.headerBytes !== undefined) out.writeUInt16LE(change.headerBytes, HDR.headerBytes);
  if (change.firstLsn !== undefined) out.writeDoubleLE(change.firstLsn, HDR.firstLsn);
  if (change.maxRecordBytes !== undefined) out.writeUInt32LE(change.maxRecordBytes, HDR.maxRecord);
  if (change.maxEntryBytes !== undefined) out.writeUInt32LE(change.maxEntryBytes, HDR.maxEntry);
  if (change.reserved !== undefined) out.writeUInt32LE(change.reserved, HDR.reserved);
  if (fixCrc) out.writeUInt32LE(crc32c(out, 0, HDR.crc), HDR.crc);
  return out;
}

/** A copy of `bytes` with `[from, to)` cut out (the bytes after it move up). */
export function cutOut(bytes: Buffer, from: number, to: number): Buffer {
  return Buffer.concat([bytes.subarray(0, from), bytes.subarray(to)]);
}

// ---------------------------------------------------------------------------------------------
// The parser over bytes in memory

/** What a walk of `scanSegment` handed out, in order: entries (payload copied) and skipped regions. */
export type ScanEvent = { entry: Omit<ScannedEntry, 'payload'> & { payload: Buffer } } | { skip: Damage };

export interface InMemoryScan {
  result: ScanResult;
  events: ScanEvent[];
  /** The LSNs of the entries, in order. */
  lsns: number[];
  /** Every read the walk asked for. */
  reads: { position: number; length: number }[];
}

/**
 * Drives `scanSegment` over `bytes` as if they were a file of `declaredSize` bytes (the size a
 * stat returned; more than `bytes` holds for a file that shrank while it was read). Reads are
 * answered with views of `bytes`, short at its end, as a file's are.
 */
export function scanBytes(
  bytes: Uint8Array,
  options: Partial<ScanOptions> = {},
  declaredSize = bytes.length,
): InMemoryScan {
  const walk = scanSegment(declaredSize, { maxEntryBytes: 2 ** 30, ...options });
  const events: ScanEvent[] = [];
  const reads: InMemoryScan['reads'] = [];
  let reply: Uint8Array | undefined;
  while (true) {
    const step = walk.next(reply);
    reply = undefined;
    if (step.done) {
      const lsns = events.flatMap((e) => ('entry' in e ? [e.entry.lsn] : []));
      return { result: step.value, events, lsns, reads };
    }
    const item = step.value;
    if (item.kind === 'read') {
      reads.push({ position: item.position, length: item.length });
      reply = bytes.subarray(item.position, Math.min(bytes.length, item.position + item.length));
    } else if (item.kind === 'skip') {
      events.push({ skip: item.damage });
    } else {
      for (let k = 0; k < item.count; k++) {
        const { lsn, ts, offset, end, payload } = item.entry(k);
        events.push({ entry: { lsn, ts, offset, end, payload: Buffer.from(payload) } });
      }
    }
  }
}
