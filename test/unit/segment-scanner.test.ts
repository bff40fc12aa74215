/**
 * The segment parser (src/format/segment-scanner.ts) over bytes in memory, as LevelDB's
 * `log_test.cc` drives its reader over a string (issue #17, item 5): one segment written by
 * the writer's own encoders (`encodeSegmentHeader`, the ring's producer and consumer), then
 * byte mutators (flip a bit, shrink the file, cut a record out, change a field and fix up its
 * checksum), each asserting where the walk stops, why, what it delivered before, and what the
 * damage record says follows the stop (docs/FORMAT.md "What ends a segment", "How a segment's
 * walk ends").
 *
 * The fixture, LSN 11 to 16 (offsets come from walking the length fields,
 * test/helpers/log-bytes.ts, never from the code under test):
 *
 *   header   40 bytes, first LSN 11, maxRecordBytes 16 360 (a 64 KiB ring), maxEntryBytes 1 MiB
 *   batch A  LSN 11 FULL (marked SYNCED_BEFORE), 12 FULL,
 *            13 = FIRST 16 360 + MIDDLE 16 360 + LAST 7 283 payload bytes (a 40 000-char string)
 *   batch B  LSN 14 FULL (marked SYNCED_BEFORE), 15 FULL, 16 FULL
 */
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decode, encode } from '../../src/encoding.js';
import type { Damage, ScanOptions, ScanResult, ScanStop } from '../../src/format/segment-scanner.js';
import {
  cutOut,
  flipBit,
  garbage,
  HDR,
  type LocatedRecord,
  locateRecords,
  rawRecord,
  recordSize,
  SEGMENT_HEADER,
  scanBytes,
  segmentHeader,
  TYPE,
  withHeader,
  withRecord,
  writerBatch,
  zeroRange,
} from '../helpers/log-bytes.js';

const TS_A = 1795593600000;
const TS_B = TS_A + 250;
const FIRST_LSN = 11;
const MAX_RECORD = 16360;
const BIG = 'x'.repeat(40_000);
const VALUES: unknown[] = [
  { op: 'set', key: 'a', value: 11 },
  { op: 'delete', key: 'a' },
  BIG,
  { op: 'set', key: 'b', value: 14 },
  [15, 'fifteen'],
  { plain: 16 },
];

/** A value's encoding, copied out of the encoder's reused buffer. */
function payloadOf(value: unknown): Buffer {
  const e = encode(value);
  return Buffer.from(e.subarray(e.start, e.end));
}

const PAYLOADS = VALUES.map(payloadOf);

function segment(header = segmentHeader({ firstLsn: FIRST_LSN })): Buffer {
  return Buffer.concat([
    header,
    writerBatch(PAYLOADS.slice(0, 3), { firstLsn: 11, ts: TS_A, syncedBefore: true }),
    writerBatch(PAYLOADS.slice(3), { firstLsn: 14, ts: TS_B, syncedBefore: true }),
  ]);
}

const BASE = segment();
const LEN = BASE.length;
const RECORDS = locateRecords(BASE);
const [L11, L12, F13, M13, L13, L14, L15, L16] = RECORDS;
const endOf = (r: LocatedRecord) => r.offset + r.size;

/** Where each entry of the fixture starts and ends (an entry of fragments: its FIRST to its LAST). */
const ENTRY: Record<number, { offset: number; end: number; ts: number }> = {
  11: { offset: L11.offset, end: endOf(L11), ts: TS_A },
  12: { offset: L12.offset, end: endOf(L12), ts: TS_A },
  13: { offset: F13.offset, end: endOf(L13), ts: TS_A },
  14: { offset: L14.offset, end: endOf(L14), ts: TS_B },
  15: { offset: L15.offset, end: endOf(L15), ts: TS_B },
  16: { offset: L16.offset, end: endOf(L16), ts: TS_B },
};

/** The records marked SYNCED_BEFORE: the first of each batch. */
const MARKED = [L11.offset, L14.offset];

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** The result fields a test states (the header is checked on its own). */
function stated(result: ScanResult) {
  const { header: _, ...rest } = result;
  return rest;
}

describe('the fixture', () => {
  it('is what the writer writes: FULL, FIRST/MIDDLE/LAST, the first record of each batch marked', () => {
    expect(RECORDS.map((r) => [r.lsn, r.type, r.length])).toEqual([
      [11, TYPE.FULL, PAYLOADS[0].length],
      [12, TYPE.FULL, PAYLOADS[1].length],
      [13, TYPE.FIRST, MAX_RECORD],
      [13, TYPE.MIDDLE, MAX_RECORD],
      [13, TYPE.LAST, PAYLOADS[2].length - 2 * MAX_RECORD],
      [14, TYPE.FULL, PAYLOADS[3].length],
      [15, TYPE.FULL, PAYLOADS[4].length],
      [16, TYPE.FULL, PAYLOADS[5].length],
    ]);
    expect(RECORDS.map((r) => BASE[r.offset + 15])).toEqual([1, 0, 0, 0, 0, 1, 0, 0]);
    expect(endOf(L16)).toBe(LEN);
  });

  it('matches rawRecord, built field by field from the table in docs/FORMAT.md "Records"', () => {
    let from = 0;
    for (const [i, r] of RECORDS.entries()) {
      const lsnIndex = r.lsn - FIRST_LSN;
      const whole = PAYLOADS[lsnIndex];
      const payload = r.type === TYPE.FULL ? whole : whole.subarray(from, from + r.length);
      from = r.type === TYPE.FULL || r.type === TYPE.LAST ? 0 : from + r.length;
      const raw = rawRecord({
        lsn: r.lsn,
        type: r.type,
        payload,
        ts: r.lsn < 14 ? TS_A : TS_B,
        flags: MARKED.includes(r.offset) ? 1 : 0,
      });
      expect(raw.equals(BASE.subarray(r.offset, endOf(r))), `record ${i}`).toBe(true);
    }
  });

  it('reproduces the worked example of docs/FORMAT.md byte for byte, and the walk reads it back', () => {
    const doc = fs.readFileSync(new URL('../../docs/FORMAT.md', import.meta.url), 'utf8');
    const dump = doc.slice(
      doc.indexOf('File name: `wal-0000000000000001-20261125-080000-000.log`, 96 bytes'),
    );
    const block = dump.slice(dump.indexOf('```') + 3, dump.indexOf('```', dump.indexOf('```') + 3));
    const documented = Buffer.from(
      [...block.matchAll(/^[0-9a-f]{8} {2}(.*)$/gm)].flatMap((m) => m[1].trim().split(/\s+/)).join(''),
      'hex',
    );
    expect(documented.length).toBe(96);
    const value = { op: 'set', key: 'user:1', value: 42 };
    const built = Buffer.concat([
      segmentHeader({ firstLsn: 1, maxRecordBytes: 1048552, maxEntryBytes: 67108864 }),
      writerBatch([payloadOf(value)], { firstLsn: 1, ts: TS_A, syncedBefore: false, ringBytes: 4 << 20 }),
    ]);
    expect(built.toString('hex')).toBe(documented.toString('hex'));
    const { result, events } = scanBytes(documented);
    expect(result.stop).toBe('eof');
    expect(events).toEqual([
      { entry: { lsn: 1, ts: TS_A, offset: 40, end: 96, payload: expect.anything() } },
    ]);
    const [only] = events;
    expect('entry' in only && decode(only.entry.payload)).toEqual(value);
  });
});

describe('a clean segment', () => {
  it('yields every entry with its offsets, LSN and ts, reassembles fragments, and ends at eof', () => {
    const { result, events } = scanBytes(BASE);
    expect(events.map((e) => ('entry' in e ? { ...e.entry, payload: decode(e.entry.payload) } : e))).toEqual(
      range(11, 16).map((lsn, i) => ({ lsn, ...ENTRY[lsn], payload: VALUES[i] })),
    );
    expect(stated(result)).toEqual({
      validEnd: LEN,
      lastLsn: 16,
      entries: 6,
      stop: 'eof',
      stopOffset: LEN,
      fileSize: LEN,
      damage: null,
      skipped: [],
      lastSyncMark: L14.offset,
    });
    expect(result.header).toEqual({
      firstLsn: 11,
      createdAtMs: TS_A,
      maxRecordBytes: MAX_RECORD,
      maxEntryBytes: 1024 * 1024,
    });
  });

  it('with only a header is empty: eof at 40, last LSN the first LSN - 1', () => {
    const { result, lsns } = scanBytes(BASE.subarray(0, SEGMENT_HEADER));
    expect(lsns).toEqual([]);
    expect(stated(result)).toEqual({
      validEnd: 40,
      lastLsn: 10,
      entries: 0,
      stop: 'eof',
      stopOffset: 40,
      fileSize: 40,
      damage: null,
      skipped: [],
      lastSyncMark: 40,
    });
  });

  it('reads LSNs up to 2^48 - 1 (the high 16 bits of the record LSN)', () => {
    const max = 2 ** 48 - 1;
    const bytes = Buffer.concat([
      segmentHeader({ firstLsn: max }),
      writerBatch([payloadOf('last')], { firstLsn: max, ts: TS_A, syncedBefore: true }),
    ]);
    const { result, lsns } = scanBytes(bytes);
    expect([lsns, result.stop, result.lastLsn]).toEqual([[max], 'eof', max]);
  });

  it('starts at an entry boundary found by an earlier walk (startAt), reading nothing before it but the header', () => {
    for (const [lsn, lastSyncMark] of [
      [13, L14.offset],
      [14, L14.offset],
      [15, L15.offset],
    ]) {
      const { result, lsns, reads } = scanBytes(BASE, { startAt: { offset: ENTRY[lsn].offset, lsn } });
      expect(lsns).toEqual(range(lsn, 16));
      expect([result.stop, result.validEnd, result.lastLsn, result.entries]).toEqual([
        'eof',
        LEN,
        16,
        17 - lsn,
      ]);
      // Where the walk started counts as synced when no marked record follows it.
      expect(result.lastSyncMark).toBe(lastSyncMark);
      expect(reads.slice(1).every((r) => r.position >= ENTRY[lsn].offset)).toBe(true);
    }
    const atEnd = scanBytes(BASE, { startAt: { offset: LEN, lsn: 17 } });
    expect([atEnd.lsns, atEnd.result.stop, atEnd.result.lastLsn]).toEqual([[], 'eof', 16]);
  });
});

describe('a bad segment header stops the walk at offset 0 with the first failed check as the reason', () => {
  const cases: [string, Buffer, string][] = [
    ['an empty file', Buffer.alloc(0), 'header is 0 bytes, expected 40'],
    ['a file shorter than a header', BASE.subarray(0, 39), 'header is 39 bytes, expected 40'],
    ['zeros (a header that never reached the disk)', Buffer.alloc(4096), 'bad magic'],
    ['another magic, checksum fixed', withHeader(BASE, { magic: 0x4c415753 }), 'bad magic'],
    ['another magic (checked before the checksum)', withHeader(BASE, { magic: 0 }, false), 'bad magic'],
    ['a flipped bit in the creation time', flipBit(BASE, HDR.created), 'header checksum mismatch'],
    ['a flipped bit in the header CRC', flipBit(BASE, HDR.crc + 3, 7), 'header checksum mismatch'],
    ['version 2, checksum fixed', withHeader(BASE, { version: 2 }), 'unsupported format version 2'],
    [
      'version 2 (checked after the checksum)',
      withHeader(BASE, { version: 2 }, false),
      'header checksum mismatch',
    ],
    ['header size 32', withHeader(BASE, { headerBytes: 32 }), 'bad header size'],
    ['first LSN 0', withHeader(BASE, { firstLsn: 0 }), 'bad first LSN 0'],
    ['first LSN 1.5', withHeader(BASE, { firstLsn: 1.5 }), 'bad first LSN 1.5'],
    ['first LSN 2^48', withHeader(BASE, { firstLsn: 2 ** 48 }), `bad first LSN ${2 ** 48}`],
    ['first LSN NaN', withHeader(BASE, { firstLsn: Number.NaN }), 'bad first LSN NaN'],
    ['a reserved word not zero', withHeader(BASE, { reserved: 1 }), 'reserved header word is not zero'],
    [
      'maxRecordBytes 0',
      withHeader(BASE, { maxRecordBytes: 0 }),
      'bad size bounds (record 0, entry 1048576)',
    ],
    [
      'maxRecordBytes above maxEntryBytes',
      withHeader(BASE, { maxRecordBytes: 1048577 }),
      'bad size bounds (record 1048577, entry 1048576)',
    ],
  ];
  for (const [name, bytes, reason] of cases) {
    it(`${name}: ${reason}`, () => {
      const { result, lsns, reads } = scanBytes(bytes);
      expect(lsns).toEqual([]);
      expect(result.header).toBeNull();
      expect(stated(result)).toEqual({
        validEnd: 0,
        lastLsn: 0,
        entries: 0,
        stop: 'bad-header',
        stopOffset: 0,
        reason,
        fileSize: bytes.length,
        damage: null,
        skipped: [],
        lastSyncMark: 0,
      });
      expect(reads).toEqual([{ position: 0, length: Math.min(40, bytes.length) }]);
    });
  }
});

interface StopCase {
  name: string;
  bytes: Buffer;
  options?: Partial<ScanOptions>;
  /** The entries delivered before the stop. */
  lsns: number[];
  /** The last entry's LSN when none was delivered, if not the header's first LSN - 1. */
  lastLsn?: number;
  stop: Exclude<ScanStop, 'eof' | 'bad-header'>;
  reason: string;
  /** The damage region and what follows it. */
  region: Omit<Damage, 'stop' | 'reason'>;
}

/** No valid record follows the damage. */
const NONE = { next: -1, nextLsn: 0 };
/** The next valid record is the FULL of LSN 14, marked SYNCED_BEFORE. */
const AT_14 = { next: L14.offset, nextLsn: 14, syncedAfter: true };

const STOPS: StopCase[] = [
  // --- the end of the data: zeros, a cut record
  {
    name: 'zeros after the last entry (preallocated space)',
    bytes: Buffer.concat([BASE, Buffer.alloc(4096)]),
    lsns: range(11, 16),
    stop: 'zeros',
    reason: 'zeros after the last entry',
    region: { offset: LEN, end: LEN + 4096, ...NONE, lastLsnBefore: 16, allZeros: true, syncedAfter: false },
  },
  {
    name: 'fewer zero bytes than a record header after the last entry',
    bytes: Buffer.concat([BASE, Buffer.alloc(8)]),
    lsns: range(11, 16),
    stop: 'zeros',
    reason: 'zeros after the last entry',
    region: { offset: LEN, end: LEN + 8, ...NONE, lastLsnBefore: 16, allZeros: true, syncedAfter: false },
  },
  {
    name: 'a hole of zeros where a record was, records after it (pages a power cut lost)',
    bytes: zeroRange(BASE, L15.offset, endOf(L15)),
    lsns: range(11, 14),
    stop: 'zeros',
    reason: 'zeros after the last entry',
    region: {
      offset: L15.offset,
      end: L16.offset,
      next: L16.offset,
      nextLsn: 16,
      lastLsnBefore: 14,
      allZeros: true,
      syncedAfter: false,
    },
  },
  {
    name: 'the file ends inside a record header',
    bytes: BASE.subarray(0, L16.offset + 10),
    lsns: range(11, 15),
    stop: 'incomplete',
    reason: 'the file ends inside a record',
    region: {
      offset: L16.offset,
      end: L16.offset + 10,
      ...NONE,
      lastLsnBefore: 15,
      allZeros: false,
      syncedAfter: false,
    },
  },
  {
    name: 'the file ends inside a payload',
    bytes: BASE.subarray(0, L16.offset + 30),
    lsns: range(11, 15),
    stop: 'incomplete',
    reason: 'the file ends inside a record',
    region: {
      offset: L16.offset,
      end: L16.offset + 30,
      ...NONE,
      lastLsnBefore: 15,
      allZeros: false,
      syncedAfter: false,
    },
  },
  {
    name: 'the file ends inside the padding',
    bytes: BASE.subarray(0, LEN - 1),
    lsns: range(11, 15),
    stop: 'incomplete',
    reason: 'the file ends inside a record',
    region: {
      offset: L16.offset,
      end: LEN - 1,
      ...NONE,
      lastLsnBefore: 15,
      allZeros: false,
      syncedAfter: false,
    },
  },
  {
    name: 'a length field within the bound that runs past the end of the file',
    bytes: withRecord(BASE, L15.offset, { length: 16000 }),
    lsns: range(11, 14),
    stop: 'incomplete',
    reason: 'the file ends inside a record',
    region: {
      offset: L15.offset,
      end: L16.offset,
      next: L16.offset,
      nextLsn: 16,
      lastLsnBefore: 14,
      allZeros: false,
      syncedAfter: false,
    },
  },
  // --- records that fail a check
  {
    name: 'a flipped bit in a record header (checksum mismatch)',
    bytes: flipBit(BASE, L12.offset + 16),
    lsns: [11],
    stop: 'bad',
    reason: 'checksum mismatch',
    region: {
      offset: L12.offset,
      end: F13.offset,
      next: F13.offset,
      nextLsn: 13,
      lastLsnBefore: 11,
      allZeros: false,
      // The FIRST at `next` is not marked; the FULL of LSN 14 further on is.
      syncedAfter: true,
    },
  },
  {
    name: 'a flipped bit in the last record (nothing valid after it)',
    bytes: flipBit(BASE, L16.offset + 30),
    lsns: range(11, 15),
    stop: 'bad',
    reason: 'checksum mismatch',
    region: { offset: L16.offset, end: LEN, ...NONE, lastLsnBefore: 15, allZeros: false, syncedAfter: false },
  },
  {
    name: 'a flipped bit in a MIDDLE fragment: the stop is the entry’s FIRST',
    bytes: flipBit(BASE, M13.offset + 1000),
    lsns: [11, 12],
    stop: 'bad',
    reason: 'checksum mismatch',
    region: { offset: F13.offset, end: L14.offset, ...AT_14, lastLsnBefore: 12, allZeros: false },
  },
  {
    name: 'a flipped bit before a marked record that follows the next valid one',
    bytes: flipBit(withRecord(BASE, L16.offset, { flags: 1 }), L14.offset + 16),
    lsns: range(11, 13),
    stop: 'bad',
    reason: 'checksum mismatch',
    region: {
      offset: L14.offset,
      end: L15.offset,
      next: L15.offset,
      nextLsn: 15,
      lastLsnBefore: 13,
      allZeros: false,
      syncedAfter: true,
    },
  },
  ...[0, 5, 255].map(
    (type): StopCase => ({
      name: `record type ${type} (checked before the checksum)`,
      bytes: withRecord(BASE, L15.offset, { type }, false),
      lsns: range(11, 14),
      stop: 'bad',
      reason: `bad record type ${type}`,
      region: {
        offset: L15.offset,
        end: L16.offset,
        next: L16.offset,
        nextLsn: 16,
        lastLsnBefore: 14,
        allZeros: false,
        syncedAfter: false,
      },
    }),
  ),
  ...[2, 0x81].map(
    (flags): StopCase => ({
      name: `flags ${flags}, checksum fixed`,
      bytes: withRecord(BASE, L15.offset, { flags }),
      lsns: range(11, 14),
      stop: 'bad',
      reason: `unknown record flags ${flags}`,
      region: {
        offset: L15.offset,
        end: L16.offset,
        next: L16.offset,
        nextLsn: 16,
        lastLsnBefore: 14,
        allZeros: false,
        syncedAfter: false,
      },
    }),
  ),
  {
    name: 'LSN 0, checksum fixed',
    bytes: withRecord(BASE, L16.offset, { lsn: 0 }),
    lsns: range(11, 15),
    stop: 'bad',
    reason: 'LSN 0',
    region: { offset: L16.offset, end: LEN, ...NONE, lastLsnBefore: 15, allZeros: false, syncedAfter: false },
  },
  // --- length claims against the bounds (the header's, or the reader's own if smaller)
  ...[MAX_RECORD + 1, 2 ** 31, 2 ** 32 - 1].map(
    (length): StopCase => ({
      name: `a length claim of ${length} over the header's maxRecordBytes`,
      bytes: withRecord(BASE, L15.offset, { length }),
      lsns: range(11, 14),
      stop: 'bad',
      reason: `record length ${length} exceeds the ${MAX_RECORD}-byte limit`,
      region: {
        offset: L15.offset,
        end: L16.offset,
        next: L16.offset,
        nextLsn: 16,
        lastLsnBefore: 14,
        allZeros: false,
        syncedAfter: false,
      },
    }),
  ),
  {
    name: "the header's maxRecordBytes one below a FIRST fragment's length",
    bytes: segment(segmentHeader({ firstLsn: 11, maxRecordBytes: MAX_RECORD - 1 })),
    lsns: [11, 12],
    stop: 'bad',
    reason: `record length ${MAX_RECORD} exceeds the ${MAX_RECORD - 1}-byte limit`,
    region: { offset: F13.offset, end: L14.offset, ...AT_14, lastLsnBefore: 12, allZeros: false },
  },
  {
    name: "the reader's maxEntryBytes below the header's maxRecordBytes",
    bytes: BASE,
    options: { maxEntryBytes: 100 },
    lsns: [11, 12],
    stop: 'bad',
    reason: `record length ${MAX_RECORD} exceeds the 100-byte limit`,
    region: { offset: F13.offset, end: L14.offset, ...AT_14, lastLsnBefore: 12, allZeros: false },
  },
  {
    name: "a fragmented entry over the header's maxEntryBytes (at its MIDDLE)",
    bytes: segment(segmentHeader({ firstLsn: 11, maxEntryBytes: 2 * MAX_RECORD - 1 })),
    lsns: [11, 12],
    stop: 'bad',
    reason: `fragmented entry exceeds ${2 * MAX_RECORD - 1} bytes`,
    // The search for the next record starts after the MIDDLE that went over: the LAST is
    // valid but not a start, so the next one is LSN 14.
    region: { offset: F13.offset, end: L14.offset, ...AT_14, lastLsnBefore: 12, allZeros: false },
  },
  {
    name: "a fragmented entry over the reader's maxEntryBytes (at its LAST)",
    bytes: BASE,
    options: { maxEntryBytes: PAYLOADS[2].length - 1 },
    lsns: [11, 12],
    stop: 'bad',
    reason: `fragmented entry exceeds ${PAYLOADS[2].length - 1} bytes`,
    region: { offset: F13.offset, end: L14.offset, ...AT_14, lastLsnBefore: 12, allZeros: false },
  },
  {
    // The writer marks the first record of a batch, a LAST too when a batch starts inside an
    // entry. The record that went over is not "after" the damage: the search starts past it.
    name: 'a fragmented entry over the bound at a marked LAST, nothing after it',
    bytes: withRecord(BASE.subarray(0, L14.offset), L13.offset, { flags: 1 }),
    options: { maxEntryBytes: PAYLOADS[2].length - 1 },
    lsns: [11, 12],
    stop: 'bad',
    reason: `fragmented entry exceeds ${PAYLOADS[2].length - 1} bytes`,
    region: {
      offset: F13.offset,
      end: L14.offset,
      ...NONE,
      lastLsnBefore: 12,
      allZeros: false,
      syncedAfter: false,
    },
  },
  // --- the LSN sequence
  {
    name: 'an LSN skipped (15 is 17): the region is empty and the record itself is next',
    bytes: withRecord(BASE, L15.offset, { lsn: 17 }),
    lsns: range(11, 14),
    stop: 'bad',
    reason: 'LSN out of sequence: expected 15, found 17',
    region: {
      offset: L15.offset,
      end: L15.offset,
      next: L15.offset,
      nextLsn: 17,
      lastLsnBefore: 14,
      allZeros: true,
      syncedAfter: false,
    },
  },
  {
    name: 'an LSN repeated (15 is 14): not a record to resume at',
    bytes: withRecord(BASE, L15.offset, { lsn: 14 }),
    lsns: range(11, 14),
    stop: 'bad',
    reason: 'LSN out of sequence: expected 15, found 14',
    region: {
      offset: L15.offset,
      end: L16.offset,
      next: L16.offset,
      nextLsn: 16,
      lastLsnBefore: 14,
      allZeros: false,
      syncedAfter: false,
    },
  },
  {
    name: "the first record is not the header's first LSN",
    bytes: withHeader(BASE, { firstLsn: 10 }),
    lsns: [],
    lastLsn: 9,
    stop: 'bad',
    reason: 'LSN out of sequence: expected 10, found 11',
    region: {
      offset: 40,
      end: 40,
      next: 40,
      nextLsn: 11,
      lastLsnBefore: 9,
      allZeros: true,
      syncedAfter: true,
    },
  },
  // --- the fragment sequence
  {
    name: 'the file ends after a FIRST and a MIDDLE (the LAST not written yet)',
    bytes: BASE.subarray(0, L13.offset),
    lsns: [11, 12],
    stop: 'incomplete',
    reason: 'the file ends between the fragments of an entry',
    region: {
      offset: F13.offset,
      end: L13.offset,
      ...NONE,
      lastLsnBefore: 12,
      allZeros: false,
      syncedAfter: false,
    },
  },
  {
    name: 'the file ends inside a MIDDLE',
    bytes: BASE.subarray(0, M13.offset + 100),
    lsns: [11, 12],
    stop: 'incomplete',
    reason: 'the file ends inside a record',
    region: {
      offset: F13.offset,
      end: M13.offset + 100,
      ...NONE,
      lastLsnBefore: 12,
      allZeros: false,
      syncedAfter: false,
    },
  },
  {
    name: 'zeros where the MIDDLE and LAST were (an entry cut short by zeros)',
    bytes: zeroRange(BASE, M13.offset, endOf(L13)),
    lsns: [11, 12],
    stop: 'incomplete',
    reason: 'zeros between the fragments of an entry',
    // Not "all zeros": the region starts at the FIRST, which holds data.
    region: { offset: F13.offset, end: L14.offset, ...AT_14, lastLsnBefore: 12, allZeros: false },
  },
  {
    name: 'a MIDDLE with another LSN',
    bytes: withRecord(BASE, M13.offset, { lsn: 14 }),
    lsns: [11, 12],
    stop: 'bad',
    reason: 'fragment of LSN 14 without its first fragment',
    region: { offset: F13.offset, end: L14.offset, ...AT_14, lastLsnBefore: 12, allZeros: false },
  },
  {
    name: 'a LAST with another LSN',
    bytes: withRecord(BASE, L13.offset, { lsn: 12 }),
    lsns: [11, 12],
    stop: 'bad',
    reason: 'fragment of LSN 12 without its first fragment',
    region: { offset: F13.offset, end: L14.offset, ...AT_14, lastLsnBefore: 12, allZeros: false },
  },
  {
    name: 'the LAST lost: a FULL while an entry’s fragments are open',
    bytes: cutOut(BASE, L13.offset, L14.offset),
    lsns: [11, 12],
    stop: 'bad',
    reason: 'a new entry starts before the fragments of LSN 13 ended',
    region: {
      offset: F13.offset,
      end: L13.offset,
      ...AT_14,
      next: L13.offset,
      lastLsnBefore: 12,
      allZeros: false,
    },
  },
  {
    name: 'a second FIRST while one is open: the new FIRST is next',
    bytes: withRecord(BASE, M13.offset, { type: TYPE.FIRST }),
    lsns: [11, 12],
    stop: 'bad',
    reason: 'a new entry starts before the fragments of LSN 13 ended',
    region: {
      offset: F13.offset,
      end: M13.offset,
      next: M13.offset,
      nextLsn: 13,
      lastLsnBefore: 12,
      allZeros: false,
      syncedAfter: true,
    },
  },
  {
    name: 'the FIRST lost: a MIDDLE with no FIRST',
    bytes: cutOut(BASE, F13.offset, M13.offset),
    lsns: [11, 12],
    stop: 'bad',
    reason: 'fragment of LSN 13 without its first fragment',
    region: {
      offset: F13.offset,
      end: L14.offset - F13.size,
      ...AT_14,
      next: L14.offset - F13.size,
      lastLsnBefore: 12,
      // The region holds the MIDDLE and the LAST: see the it.fails below.
      allZeros: expect.any(Boolean),
    },
  },
  // --- garbage
  {
    name: 'garbage after the last entry',
    bytes: Buffer.concat([BASE, garbage(64)]),
    lsns: range(11, 16),
    stop: 'bad',
    reason: expect.stringMatching(/^(bad record type|unknown record flags|record length)/),
    region: { offset: LEN, end: LEN + 64, ...NONE, lastLsnBefore: 16, allZeros: false, syncedAfter: false },
  },
];

describe('where the walk stops, why, and what follows', () => {
  for (const c of STOPS) {
    it(c.name, () => {
      const { result, lsns } = scanBytes(c.bytes, c.options);
      expect(lsns).toEqual(c.lsns);
      const lastLsn = c.lsns.at(-1) ?? c.lastLsn ?? FIRST_LSN - 1;
      const validEnd = c.lsns.length > 0 ? ENTRY[lastLsn].end : SEGMENT_HEADER;
      expect(stated(result)).toEqual({
        validEnd,
        lastLsn,
        entries: c.lsns.length,
        stop: c.stop,
        stopOffset: c.region.offset,
        reason: c.reason,
        fileSize: c.bytes.length,
        damage: { ...c.region, stop: c.stop, reason: c.reason },
        skipped: [],
        lastSyncMark: MARKED.filter((m) => m < c.region.offset).at(-1) ?? SEGMENT_HEADER,
      });
    });
  }

  // Regression. docs/FORMAT.md "How a segment's walk ends": the scan notes "whether the bytes
  // up to the next valid record are all zeros", and `Damage.allZeros` promises "every byte of
  // the region is zero". findNextRecord stepped over a valid MIDDLE or LAST record with an LSN
  // above the last entry without looking at its bytes, so a region holding such records was
  // reported as all zeros.
  it('a region that holds a valid MIDDLE and LAST is not all zeros', () => {
    const { result } = scanBytes(cutOut(BASE, F13.offset, M13.offset));
    expect(result.damage?.allZeros).toBe(false);
  });
  it('a hole of zeros followed by the rest of an entry (MIDDLE, LAST) is not all zeros', () => {
    // The FIRST's pages never reached the disk; its MIDDLE and LAST did; nothing after them.
    const { result } = scanBytes(zeroRange(BASE.subarray(0, L14.offset), F13.offset, M13.offset));
    expect(result.damage).toMatchObject({ stop: 'zeros', offset: F13.offset, next: -1 });
    expect(result.damage?.allZeros).toBe(false);
  });
});

describe('skip-corrupt: the walk resumes at the next valid record', () => {
  it('skips a record with a bad checksum and goes on at the next entry', () => {
    const { result, events } = scanBytes(flipBit(BASE, L12.offset + 16), { skipCorrupt: true });
    const region: Damage = {
      offset: L12.offset,
      end: F13.offset,
      stop: 'bad',
      reason: 'checksum mismatch',
      next: F13.offset,
      nextLsn: 13,
      lastLsnBefore: 11,
      allZeros: false,
      // Not looked for when the walk resumes.
      syncedAfter: false,
    };
    expect(events.map((e) => ('entry' in e ? e.entry.lsn : e))).toEqual([
      11,
      { skip: region },
      13,
      14,
      15,
      16,
    ]);
    expect(stated(result)).toEqual({
      validEnd: LEN,
      lastLsn: 16,
      entries: 5,
      stop: 'eof',
      stopOffset: LEN,
      fileSize: LEN,
      damage: null,
      skipped: [region],
      lastSyncMark: L14.offset,
    });
  });

  it('skips twice, and an LSN gap is an empty region', () => {
    const bytes = withRecord(
      withRecord(flipBit(BASE, M13.offset + 1000), L15.offset, { lsn: 17 }),
      L16.offset,
      { lsn: 18 },
    );
    const { result, events } = scanBytes(bytes, { skipCorrupt: true });
    expect(events.map((e) => ('entry' in e ? e.entry.lsn : e))).toEqual([
      11,
      12,
      { skip: expect.objectContaining({ offset: F13.offset, end: L14.offset, reason: 'checksum mismatch' }) },
      14,
      {
        skip: {
          offset: L15.offset,
          end: L15.offset,
          stop: 'bad',
          reason: 'LSN out of sequence: expected 15, found 17',
          next: L15.offset,
          nextLsn: 17,
          lastLsnBefore: 14,
          allZeros: true,
          syncedAfter: false,
        },
      },
      17,
      18,
    ]);
    expect([result.stop, result.lastLsn, result.entries, result.skipped.length]).toEqual(['eof', 18, 5, 2]);
  });

  it('resumes at a second FIRST and reassembles the entry from it', () => {
    const { events } = scanBytes(withRecord(BASE, M13.offset, { type: TYPE.FIRST }), { skipCorrupt: true });
    const entry13 = events.find((e) => 'entry' in e && e.entry.lsn === 13);
    expect(entry13 && 'entry' in entry13 && entry13.entry).toMatchObject({
      offset: M13.offset,
      end: endOf(L13),
    });
    expect(entry13 && 'entry' in entry13 && entry13.entry.payload).toEqual(
      PAYLOADS[2].subarray(MAX_RECORD, PAYLOADS[2].length),
    );
    expect(events.map((e) => ('entry' in e ? e.entry.lsn : 'skip'))).toEqual([
      11,
      12,
      'skip',
      13,
      14,
      15,
      16,
    ]);
  });

  it('stops as without it when nothing valid follows the damage', () => {
    const bytes = flipBit(BASE, L16.offset + 30);
    const skipping = scanBytes(bytes, { skipCorrupt: true });
    const plain = scanBytes(bytes);
    expect(skipping.events.some((e) => 'skip' in e)).toBe(false);
    expect(stated(skipping.result)).toEqual(stated(plain.result));
    expect(skipping.result.damage).toMatchObject({ offset: L16.offset, next: -1 });
  });
});

describe('reads', () => {
  const images: [string, Buffer, Partial<ScanOptions>][] = [
    ['clean', BASE, {}],
    ['preallocated zeros', Buffer.concat([BASE, Buffer.alloc(4096)]), {}],
    ['a bad MIDDLE', flipBit(BASE, M13.offset + 1000), {}],
    ['a bad MIDDLE, skip-corrupt', flipBit(BASE, M13.offset + 1000), { skipCorrupt: true }],
    ['a cut MIDDLE', BASE.subarray(0, M13.offset + 100), {}],
    [
      'a second FIRST, skip-corrupt',
      withRecord(BASE, M13.offset, { type: TYPE.FIRST }),
      { skipCorrupt: true },
    ],
  ];
  for (const [name, bytes, options] of images) {
    it(`give the same walk whatever the chunk size (${name})`, () => {
      const whole = scanBytes(bytes, options);
      // Chunks as large as the largest record (16 384 bytes with its header): see the
      // it.fails below for smaller ones.
      for (const chunkBytes of [recordSize(MAX_RECORD), 20_000, 65_536]) {
        const chunked = scanBytes(bytes, { ...options, chunkBytes });
        expect(stated(chunked.result), `chunkBytes ${chunkBytes}`).toEqual(stated(whole.result));
        expect(chunked.events, `chunkBytes ${chunkBytes}`).toEqual(whole.events);
        // Smaller windows, so more reads (the test would prove nothing otherwise).
        if (chunkBytes < bytes.length / 2) expect(chunked.reads.length).toBeGreaterThan(whole.reads.length);
        for (const r of chunked.reads) expect(r.position + r.length).toBeLessThanOrEqual(bytes.length);
      }
    });
  }

  it('never ask for more than the file holds, however large a length claim the bounds allow', () => {
    const max = 2 ** 30;
    const forged = withRecord(withHeader(BASE, { maxRecordBytes: max, maxEntryBytes: max }), L15.offset, {
      length: max - 8,
    });
    const { result, reads } = scanBytes(forged, { maxEntryBytes: max });
    expect(result.damage).toMatchObject({ stop: 'incomplete', offset: L15.offset, next: L16.offset });
    for (const r of reads) expect(r.position + r.length).toBeLessThanOrEqual(forged.length);
  });

  it('end where a file that shrank while it was read ends now', () => {
    const atBoundary = scanBytes(BASE.subarray(0, L15.offset), {}, LEN);
    expect([atBoundary.lsns, atBoundary.result.stop, atBoundary.result.fileSize]).toEqual([
      range(11, 14),
      'eof',
      L15.offset,
    ]);
    const inRecord = scanBytes(BASE.subarray(0, L15.offset + 10), {}, LEN);
    expect([inRecord.result.stop, inRecord.result.stopOffset, inRecord.result.fileSize]).toEqual([
      'incomplete',
      L15.offset,
      L15.offset + 10,
    ]);
    const inHeader = scanBytes(BASE.subarray(0, 20), {}, LEN);
    expect([inHeader.result.stop, inHeader.result.reason]).toEqual([
      'bad-header',
      'header is 20 bytes, expected 40',
    ]);
  });

  // Regression: the walk refilled its window once per record. When fewer than 24 bytes of
  // the next record were in the window, it read max(chunkBytes, 24) bytes, and a record
  // larger than that was taken as cut off by the end of the file ('incomplete'): valid bytes
  // judged torn. docs/FORMAT.md "What ends a segment": a record is incomplete only if *the
  // file* ends before recordBytes(length) bytes.
  it('give the same walk with a chunk smaller than a record', () => {
    const whole = scanBytes(BASE);
    for (const chunkBytes of [1, 24, 100, 4096]) {
      const chunked = scanBytes(BASE, { chunkBytes });
      expect(stated(chunked.result), `chunkBytes ${chunkBytes}`).toEqual(stated(whole.result));
    }
  });

  // The same with the readers' default chunk (1 MiB) and a writer with ringBytes 8 MiB, whose
  // records carry up to 2 MiB - 24 bytes: a record over 1 MiB whose header starts where a
  // window ends (here: right after a first record of exactly 1 MiB) stopped the walk. Through
  // openWal (tolerate-tail) this cut acknowledged entries 2 and 3 as a torn tail
  // (`.torn-1048616`), and readWal delivered only LSN 1, without an error or a report; when the
  // big record was a segment's first (it is marked), open failed with WAL_CORRUPT at offset 40.
  it('read a record over the 1 MiB default chunk that starts where a window ends (ringBytes 8 MiB)', () => {
    const ringBytes = 8 << 20;
    const payloads = [payloadOf('y'.repeat(1048547)), payloadOf('z'.repeat(1_500_000)), payloadOf('b')];
    expect(payloads[0].length).toBe(1048552); // recordSize: exactly 1 MiB
    const bytes = Buffer.concat([
      segmentHeader({ firstLsn: 1, maxRecordBytes: ringBytes / 4 - 24, maxEntryBytes: 64 << 20 }),
      writerBatch(payloads, { firstLsn: 1, ts: TS_A, syncedBefore: true, ringBytes }),
    ]);
    const { result, lsns } = scanBytes(bytes);
    expect([result.stop, lsns]).toEqual(['eof', [1, 2, 3]]);
  });

  it("read a segment's first record when it is over the 1 MiB default chunk (ringBytes 8 MiB)", () => {
    const ringBytes = 8 << 20;
    const bytes = Buffer.concat([
      segmentHeader({ firstLsn: 1, maxRecordBytes: ringBytes / 4 - 24, maxEntryBytes: 64 << 20 }),
      writerBatch([payloadOf('z'.repeat(1_500_000))], {
        firstLsn: 1,
        ts: TS_A,
        syncedBefore: true,
        ringBytes,
      }),
    ]);
    const { result, lsns } = scanBytes(bytes);
    expect([result.stop, lsns]).toEqual(['eof', [1]]);
  });
});
