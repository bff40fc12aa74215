/**
 * Byte-level tools for mutation tests (as LevelDB's `log_test.cc` does with its in-memory
 * file): snapshot a log directory and put it back, locate each record of a segment from the
 * format alone (docs/FORMAT.md "Records"), and change bytes in place.
 *
 * The record walk here is deliberately independent of src/: it reads only the length field
 * and the LSN, so a test can say "LSN 130 is at offset 4 816, 72 bytes" without asking the
 * code under test.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The 40-byte segment header (docs/FORMAT.md "Segment header"). */
export const SEGMENT_HEADER = 40;
/** The 24-byte record header (docs/FORMAT.md "Records"). */
export const RECORD_HEADER = 24;
/** Records start at multiples of 8 and are padded to them. */
export const ALIGN = 8;
/** Field offsets inside a record header. */
export const REC = { crc: 0, length: 4, lsnLow: 8, lsnHigh: 12, type: 14, reserved: 15, ts: 16 } as const;

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
