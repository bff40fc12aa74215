/**
 * The ring in one thread: src/ring/layout.ts, producer.ts and consumer.ts driven step by step.
 * Every batch is checked end to end the way the writer uses it (src/writer/log-writer.ts): its
 * views are concatenated, as one `writev` would lay them out in a segment, and every record is
 * parsed back with `parseRecord`, CRC included. test/unit/ring-threads.test.ts runs the two
 * sides on two real threads.
 */
import { describe, expect, it } from 'vitest';
import { decode, encodeAt } from '../../src/encoding.js';
import { RECORD_ALIGN, RECORD_HEADER_BYTES, RecordType, recordBytes } from '../../src/format/constants.js';
import { parseRecord } from '../../src/format/record.js';
import { METRIC_SLOTS } from '../../src/metrics.js';
import { type Batch, RingConsumer } from '../../src/ring/consumer.js';
import {
  COMMAND,
  CONTROL_BYTES,
  createRing,
  DURABLE_LSN,
  ERROR_AREA_BYTES,
  ERROR_AREA_OFFSET,
  ERROR_BYTES,
  ERROR_STATE,
  METRICS_BYTES,
  METRICS_OFFSET,
  maxFragmentPayload,
  NOTIFY_SEQ,
  PAD_MARKER,
  READ_POS,
  type RingViews,
  ringViews,
  SYNC_DONE,
  SYNC_REQUEST,
  WRITE_POS,
  WRITER_STATE,
  WRITTEN_LSN,
} from '../../src/ring/layout.js';
import { RingProducer } from '../../src/ring/producer.js';

const CAPACITY = 64 * 1024;
const MAX_FRAGMENT = maxFragmentPayload(CAPACITY);
const TWO_POW_32 = 2 ** 32;
/** Fills the data area before a test so stale bytes cannot pass for written ones. */
const STALE = 0xa5;

// ---------------------------------------------------------------------------------------------
// Helpers

interface Ring {
  sab: SharedArrayBuffer;
  views: RingViews;
  producer: RingProducer;
  consumer: RingConsumer;
}

/**
 * A fresh ring whose WRITE_POS starts at `startPos` and READ_POS at `readStart` (mod 2^32).
 * Producer and consumer read their start positions from the control words, so they are built
 * afterwards.
 */
function makeRing(startPos = 0, readStart = startPos): Ring {
  const sab = createRing(CAPACITY);
  const views = ringViews(sab);
  views.bytes.fill(STALE);
  Atomics.store(views.control, WRITE_POS, startPos | 0);
  Atomics.store(views.control, READ_POS, readStart | 0);
  return { sab, views, producer: new RingProducer(sab), consumer: new RingConsumer(sab) };
}

/** Deterministic content for entry `lsn`: a byte-level mistake anywhere shows up. */
function payloadFor(lsn: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = (lsn * 0x9e3779b1) | 1;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) | 0;
    out[i] = x >>> 24;
  }
  return out;
}

let stamps = 0;
/** A new batch timestamp for `collect()`; increasing, and fractional to catch truncation. */
function nextStamp(): number {
  return 1_700_000_000_000 + ++stamps * 0.25;
}

/**
 * Writes the entry `payload` from `from` on, or as much as fits; returns how far it got
 * (`payload.length` when done), the producer's contract.
 */
function put(ring: Ring, payload: Uint8Array, lsn: number, from = 0): number {
  return ring.producer.write(payload, 0, payload.length, from, lsn);
}

function readPos(ring: Ring): number {
  return Atomics.load(ring.views.control, READ_POS) >>> 0;
}

function writePos(ring: Ring): number {
  return Atomics.load(ring.views.control, WRITE_POS) >>> 0;
}

/** Data-area offset and length of each view of a batch. */
function spans(batch: Batch): Array<[number, number]> {
  return batch.views.map((v) => [v.byteOffset - CONTROL_BYTES, v.length]);
}

/**
 * Where two byte arrays first differ, -1 if they are equal. (`toEqual` on typed arrays goes
 * element by element through the generic matcher and takes seconds on a few MB.)
 */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

function concat(views: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(views.reduce((n, v) => n + v.length, 0));
  let at = 0;
  for (const v of views) {
    out.set(v, at);
    at += v.length;
  }
  return out;
}

interface Rec {
  type: RecordType;
  lsn: number;
  ts: number;
  payload: Uint8Array;
  size: number;
}

/**
 * Concatenates the batch's views and parses every record back, CRC included. Throws on
 * anything that is not a whole, valid record, or on alignment padding that is not zero.
 */
function parseBatch(batch: Batch): Rec[] {
  const joined = concat(batch.views);
  expect(joined.length).toBe(batch.bytes);
  const out: Rec[] = [];
  let at = 0;
  while (at < joined.length) {
    const r = parseRecord(joined, at, joined.length, MAX_FRAGMENT);
    if (r.kind !== 'record') throw new Error(`byte ${at} of the batch: ${JSON.stringify(r)}`);
    const padding = joined.subarray(r.payloadStart + r.length, at + r.size);
    if (padding.some((b) => b !== 0)) throw new Error(`byte ${at}: alignment padding is not zero`);
    out.push({
      type: r.type,
      lsn: r.lsn,
      ts: r.ts,
      payload: joined.slice(r.payloadStart, r.payloadStart + r.length),
      size: r.size,
    });
    at += r.size;
  }
  return out;
}

/**
 * Publishes, collects one batch stamped with a new timestamp, parses it and gives the space
 * back. Every entry that begins in the batch carries the batch's stamp (the Assembler checks
 * that an entry's later fragments carry its first's).
 */
function drain(
  ring: Ring,
  maxBytes = Number.POSITIVE_INFINITY,
): { batch: Batch; records: Rec[]; ts: number } {
  ring.producer.publish();
  const ts = nextStamp();
  const batch = ring.consumer.collect(maxBytes, ts);
  const records = parseBatch(batch);
  for (const r of records) {
    if (r.type === RecordType.FULL || r.type === RecordType.FIRST) expect(r.ts, `LSN ${r.lsn}`).toBe(ts);
  }
  ring.consumer.release(batch.end);
  return { batch, records, ts };
}

interface Entry {
  lsn: number;
  ts: number;
  payload: Uint8Array;
  fragments: number;
}

/** Puts fragments back together, checking the FULL / FIRST, MIDDLE..., LAST grammar. */
class Assembler {
  private open: { lsn: number; ts: number; parts: Uint8Array[] } | null = null;
  readonly entries: Entry[] = [];

  /** Whether the records so far end on an entry boundary. */
  get between(): boolean {
    return this.open === null;
  }

  /** LSN of the last entry completed by `records`, 0 if none (what Batch.lastLsn should say). */
  pushAll(records: Rec[]): number {
    let lastLsn = 0;
    for (const r of records) if (this.push(r)) lastLsn = r.lsn;
    return lastLsn;
  }

  /** Returns whether the record completed an entry. */
  push(r: Rec): boolean {
    const open = this.open;
    if (r.type === RecordType.FULL || r.type === RecordType.FIRST) {
      if (open) throw new Error(`LSN ${r.lsn}: type ${r.type} inside entry ${open.lsn}`);
      if (r.type === RecordType.FULL) {
        this.entries.push({ lsn: r.lsn, ts: r.ts, payload: r.payload, fragments: 1 });
        return true;
      }
      this.open = { lsn: r.lsn, ts: r.ts, parts: [r.payload] };
      return false;
    }
    if (!open) throw new Error(`LSN ${r.lsn}: type ${r.type} outside an entry`);
    if (r.lsn !== open.lsn || r.ts !== open.ts) {
      throw new Error(`fragment of ${r.lsn}@${r.ts} inside entry ${open.lsn}@${open.ts}`);
    }
    open.parts.push(r.payload);
    if (r.type === RecordType.MIDDLE) return false;
    this.entries.push({
      lsn: open.lsn,
      ts: open.ts,
      payload: concat(open.parts),
      fragments: open.parts.length,
    });
    this.open = null;
    return true;
  }
}

/** Checks that the entries are exactly `lsns`, with their content, stamped in LSN order. */
function expectEntries(entries: Entry[], lsns: number[], lengthOf: (lsn: number) => number): void {
  expect(entries.map((e) => e.lsn)).toEqual(lsns);
  for (let k = 1; k < entries.length; k++) {
    expect(entries[k].ts, `LSN ${entries[k].lsn}`).toBeGreaterThanOrEqual(entries[k - 1].ts);
  }
  for (const e of entries) {
    expect(firstDifference(e.payload, payloadFor(e.lsn, lengthOf(e.lsn))), `entry ${e.lsn}`).toBe(-1);
  }
}

/** A small seeded PRNG (mulberry32), so a failing run can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / TWO_POW_32;
  };
}

// ---------------------------------------------------------------------------------------------

describe('ring layout', () => {
  const INT32 = 4;
  const INT64 = 8;
  const LINE = 64;
  // Control slots by the side that writes them. WRITER_STATE is the writer's, except that the
  // producer may compare-exchange SLEEPING to RUNNING once per writer sleep (layout.ts).
  const mainSlots = { WRITE_POS, SYNC_REQUEST, COMMAND };
  const writerSlots = { READ_POS, WRITER_STATE, NOTIFY_SEQ, SYNC_DONE, ERROR_STATE, ERROR_BYTES };
  const writerLsnSlots = { WRITTEN_LSN, DURABLE_LSN };
  /** [name, first byte, byte count] of every control slot. */
  const ranges: Array<[string, number, number]> = [
    ...Object.entries(mainSlots).map(([n, i]): [string, number, number] => [n, i * INT32, INT32]),
    ...Object.entries(writerSlots).map(([n, i]): [string, number, number] => [n, i * INT32, INT32]),
    ...Object.entries(writerLsnSlots).map(([n, i]): [string, number, number] => [n, i * INT64, INT64]),
  ];
  const lineOf = (byte: number) => Math.floor(byte / LINE);

  it('puts the slots the main thread writes and the slots the writer writes on separate 64-byte lines', () => {
    const mainLines = new Set(Object.values(mainSlots).map((i) => lineOf(i * INT32)));
    const writerLines = new Set([
      ...Object.values(writerSlots).map((i) => lineOf(i * INT32)),
      ...Object.values(writerLsnSlots).map((i) => lineOf(i * INT64)),
    ]);
    for (const line of mainLines) expect(writerLines.has(line)).toBe(false);
    // No slot straddles a line, and the error area and the data area start on lines of their own.
    for (const [name, start, size] of ranges) {
      expect(lineOf(start), name).toBe(lineOf(start + size - 1));
      expect(start + size, name).toBeLessThanOrEqual(ERROR_AREA_OFFSET);
    }
    expect(ERROR_AREA_OFFSET % LINE).toBe(0);
    expect(CONTROL_BYTES % LINE).toBe(0);
  });

  it('fits the metrics after the error area, on lines of their own, before the data', () => {
    expect(ERROR_AREA_OFFSET + ERROR_AREA_BYTES).toBe(METRICS_OFFSET);
    expect(METRICS_OFFSET % LINE).toBe(0);
    expect(METRICS_OFFSET + METRICS_BYTES).toBe(CONTROL_BYTES);
    expect(METRIC_SLOTS * 8).toBeLessThanOrEqual(METRICS_BYTES);
    expect(ERROR_AREA_BYTES).toBeGreaterThanOrEqual(256); // room for a code, errno, path and message
  });

  it('gives every control slot its own bytes', () => {
    const sorted = [...ranges].sort((a, b) => a[1] - b[1]);
    for (let i = 1; i < sorted.length; i++) {
      const [prev, prevStart, prevSize] = sorted[i - 1];
      expect(sorted[i][1], `${sorted[i][0]} overlaps ${prev}`).toBeGreaterThanOrEqual(prevStart + prevSize);
    }
  });

  it('uses lock-free 32-bit atomics', () => {
    expect(Atomics.isLockFree(4)).toBe(true);
  });

  it('accepts only power-of-two capacities from 64 KiB to 1 GiB', () => {
    expect(createRing(CAPACITY).byteLength).toBe(CONTROL_BYTES + CAPACITY);
    for (const bad of [0, CAPACITY / 2, CAPACITY + 8, 3 * CAPACITY, 2 ** 31]) {
      expect(() => createRing(bad), String(bad)).toThrow(RangeError);
    }
    const views = ringViews(createRing(CAPACITY));
    expect(views.capacity).toBe(CAPACITY);
    expect(views.bytes.byteOffset).toBe(CONTROL_BYTES);
  });

  it('caps a fragment so its record is a quarter of the ring', () => {
    expect(recordBytes(MAX_FRAGMENT)).toBe(CAPACITY / 4);
  });
});

describe('wrap-around at every alignment', () => {
  /**
   * The model of where records go: the spans of data-area bytes the batch should hand out,
   * and where padding goes. A record that would straddle the end starts at 0 after a
   * PAD_MARKER; a record that ends exactly at the end needs no padding.
   */
  function expectedLayout(startOffset: number, sizes: number[]) {
    const views: Array<[number, number]> = [];
    const pads: number[] = [];
    let spanStart = startOffset;
    let off = startOffset;
    let advanced = 0;
    for (const size of sizes) {
      if (off + size > CAPACITY) {
        if (off > spanStart) views.push([spanStart, off - spanStart]);
        pads.push(off);
        advanced += CAPACITY - off;
        off = 0;
        spanStart = 0;
      }
      off += size;
      advanced += size;
      if (off === CAPACITY) {
        views.push([spanStart, off - spanStart]);
        off = 0;
        spanStart = 0;
      }
    }
    if (off > spanStart) views.push([spanStart, off - spanStart]);
    return { views, pads, advanced };
  }

  const offsets: number[] = [];
  for (let fromEnd = 512; fromEnd >= RECORD_ALIGN; fromEnd -= RECORD_ALIGN) offsets.push(CAPACITY - fromEnd);
  const lengths = Array.from({ length: 64 }, (_, i) => i + 1);

  it.each(lengths)(
    'writes, wraps and parses back %i-byte payloads from every 8-byte offset in the last 512 bytes',
    (length) => {
      const size = recordBytes(length);
      const seen = { padded: 0, endedExactly: 0 };
      for (const startOffset of offsets) {
        const startPos = 5 * CAPACITY + startOffset;
        const ring = makeRing(startPos);
        // Enough records to cross the end and put a couple more after it.
        const count = Math.ceil((CAPACITY - startOffset) / size) + 2;
        const lsns = Array.from({ length: count }, (_, i) => 1000 + i);
        for (const lsn of lsns) expect(put(ring, payloadFor(lsn, length), lsn)).toBe(length);
        const layout = expectedLayout(
          startOffset,
          lsns.map(() => size),
        );

        if (layout.pads.length > 0) seen.padded++;
        else seen.endedExactly++;
        const { batch, records } = drain(ring);

        const where = `start offset ${startOffset}`;
        expect(spans(batch), where).toEqual(layout.views);
        expect(batch.bytes, where).toBe(count * size);
        expect(batch.end, where).toBe((startPos + layout.advanced) >>> 0);
        expect(batch.lastLsn, where).toBe(lsns[count - 1]);
        expect(batch.endsOnEntry, where).toBe(true);
        expect(readPos(ring), where).toBe(batch.end);
        for (const pad of layout.pads) expect(ring.views.words[pad >> 2], where).toBe(PAD_MARKER);
        expect(
          records.map((r) => r.type),
          where,
        ).toEqual(lsns.map(() => RecordType.FULL));
        const assembler = new Assembler();
        assembler.pushAll(records);
        expectEntries(assembler.entries, lsns, () => length);
      }
      // Both ways of crossing the end occurred for this size.
      expect(seen.padded).toBeGreaterThan(0);
      expect(seen.endedExactly).toBeGreaterThan(0);
    },
  );

  it('starts a record that would straddle the end at offset 0 and leaves the padding out of the views', () => {
    // 40 bytes left before the end; a 48-byte record does not fit there.
    const startPos = CAPACITY - 40;
    const ring = makeRing(startPos);
    expect(put(ring, payloadFor(1, 24), 1)).toBe(24); // 48-byte record

    const { batch, records } = drain(ring);

    expect(ring.views.words[(CAPACITY - 40) >> 2]).toBe(PAD_MARKER);
    expect(spans(batch)).toEqual([[0, 48]]);
    expect(batch.bytes).toBe(48);
    expect(batch.end).toBe(CAPACITY + 48);
    expect(records.map((r) => [r.type, r.lsn])).toEqual([[RecordType.FULL, 1]]);
  });

  it('hands out the records before the padding and after it as two views', () => {
    const startPos = CAPACITY - 72;
    const ring = makeRing(startPos);
    expect(put(ring, payloadFor(1, 8), 1)).toBe(8); // 32 bytes, 40 left
    expect(put(ring, payloadFor(2, 24), 2)).toBe(24); // 48 bytes: pad 40, then at 0

    const { batch, records } = drain(ring);

    expect(spans(batch)).toEqual([
      [CAPACITY - 72, 32],
      [0, 48],
    ]);
    expect(batch.end).toBe(CAPACITY + 48);
    expect(records.map((r) => r.lsn)).toEqual([1, 2]);
  });

  it('takes a batch that starts on the padding', () => {
    const ring = makeRing(CAPACITY - 72);
    put(ring, payloadFor(1, 8), 1);
    drain(ring); // 40 bytes left before the end, nothing in flight
    put(ring, payloadFor(2, 24), 2); // padding, then at 0

    const { batch, records } = drain(ring);

    expect(spans(batch)).toEqual([[0, 48]]);
    expect(batch.end).toBe(CAPACITY + 48);
    expect(records.map((r) => r.lsn)).toEqual([2]);
  });

  // Regression: a record that ends exactly at the end of the data area (no padding needed)
  // followed by another in the same batch made collect() build one view past the end of the
  // ring ("RangeError: Invalid typed array length"). Found in 5cf3092, fixed in dfd670c.
  it('splits the views where a record ends exactly at the end of the data area', () => {
    const ring = makeRing(CAPACITY - 64);
    expect(put(ring, payloadFor(1, 40), 1)).toBe(40); // 64 bytes: ends exactly at the end
    expect(put(ring, payloadFor(2, 8), 2)).toBe(8); // 32 bytes at 0

    const { batch, records } = drain(ring);

    expect(spans(batch)).toEqual([
      [CAPACITY - 64, 64],
      [0, 32],
    ]);
    expect(batch.end).toBe(CAPACITY + 32);
    expect(records.map((r) => r.lsn)).toEqual([1, 2]);
  });
});

describe('entries taken from a slice of a larger buffer (the encoder pool)', () => {
  /** A pool of `bytes` filled with non-zero garbage, so copying past an entry shows up as bad padding. */
  function pool(bytes: number): Uint8Array<ArrayBuffer> {
    return new Uint8Array(bytes).fill(0xee);
  }

  /** Copies entry `lsn` into `source` at `start` and writes `source[start, start + length)`. */
  function putFrom(ring: Ring, source: Uint8Array, start: number, length: number, lsn: number): number {
    source.set(payloadFor(lsn, length), start);
    return ring.producer.write(source, start, start + length, start, lsn) - start;
  }

  // Around the 4-byte word and 512-byte copy thresholds, at every byte alignment in the pool.
  const lengths = [0, 1, 2, 3, 4, 5, 7, 8, 9, 100, 511, 512, 513, 1000];

  it.each([0, 1, 2, 3, 4, 5, 6, 7])('copies entries at pool offset %i mod 8 byte for byte', (shift) => {
    const source = pool(16 * 1024);
    const ring = makeRing(CAPACITY - 1024);
    const assembler = new Assembler();
    let lsn = 0;
    let start = shift;
    for (const length of lengths) {
      lsn++;
      expect(putFrom(ring, source, start, length, lsn)).toBe(length);
      start += length + 8;
    }
    assembler.pushAll(drain(ring).records); // parseBatch checks the padding is zeros
    expectEntries(
      assembler.entries,
      lengths.map((_, i) => i + 1),
      (l) => lengths[l - 1],
    );
  });

  it('copies from whichever pool the entry is in when the pool changes', () => {
    const pools = [pool(8192), pool(8192), pool(4096)];
    const ring = makeRing();
    const assembler = new Assembler();
    const lengthOf = (lsn: number) => 1 + ((lsn * 13) % 300);
    for (let lsn = 1; lsn <= 60; lsn++) {
      expect(putFrom(ring, pools[lsn % 3], 8 * (lsn % 5), lengthOf(lsn), lsn)).toBe(lengthOf(lsn));
    }
    assembler.pushAll(drain(ring).records);
    expectEntries(
      assembler.entries,
      Array.from({ length: 60 }, (_, i) => i + 1),
      lengthOf,
    );
  });

  it('copies from views of one buffer at different offsets, alternating (the producer caches per view)', () => {
    const buffer = new ArrayBuffer(16 * 1024);
    new Uint8Array(buffer).fill(0xee);
    // Views starting at every alignment, a view of a small buffer, and the whole buffer.
    const views = [0, 1, 2, 3, 4, 6, 8, 100, 1027].map((offset) => new Uint8Array(buffer, offset, 4096));
    views.push(pool(1024), new Uint8Array(buffer));
    const ring = makeRing();
    const assembler = new Assembler();
    const lengthOf = (lsn: number) => (lsn * 37) % 600;
    for (let lsn = 1; lsn <= 120; lsn++) {
      // Two entries in a row from the same view, then another view: hits and misses of the cache.
      const view = views[Math.floor(lsn / 2) % views.length];
      expect(putFrom(ring, view, (lsn * 11) % 64, lengthOf(lsn), lsn)).toBe(lengthOf(lsn));
    }
    assembler.pushAll(drain(ring).records);
    expectEntries(
      assembler.entries,
      Array.from({ length: 120 }, (_, i) => i + 1),
      lengthOf,
    );
  });

  it('types fragments by the entry start, not by offset 0, when a pooled entry resumes', () => {
    const ring = makeRing();
    const source = pool(4 * CAPACITY);
    const start = 1000;
    const length = 3 * MAX_FRAGMENT + 5;
    expect(put(ring, payloadFor(1, CAPACITY / 2), 1)).toBe(CAPACITY / 2); // leaves room for one fragment
    source.set(payloadFor(2, length), start);

    let at = ring.producer.write(source, start, start + length, start, 2);
    expect(at).toBe(start + MAX_FRAGMENT);
    const records: Rec[] = [];
    while (at < start + length) {
      records.push(...drain(ring).records);
      at = ring.producer.write(source, start, start + length, at, 2);
    }
    records.push(...drain(ring).records);
    const assembler = new Assembler();
    assembler.pushAll(records);
    expectEntries(assembler.entries, [1, 2], (lsn) => (lsn === 1 ? CAPACITY / 2 : length));
    expect(records.map((r) => [r.type, r.lsn])).toEqual([
      [RecordType.FIRST, 1],
      [RecordType.MIDDLE, 1],
      [RecordType.LAST, 1],
      [RecordType.FIRST, 2],
      [RecordType.MIDDLE, 2],
      [RecordType.MIDDLE, 2],
      [RecordType.LAST, 2],
    ]);
  });
});

describe('a full ring', () => {
  const LENGTH = 1000; // a 1024-byte record: exactly 64 fit
  const SIZE = recordBytes(LENGTH);

  it('refuses a write that does not fit, overwrites nothing, and takes it after release()', () => {
    const ring = makeRing();
    let lsn = 0;
    while (put(ring, payloadFor(lsn + 1, LENGTH), lsn + 1) === LENGTH) lsn++;
    expect(lsn).toBe(CAPACITY / SIZE);
    expect(ring.producer.inFlightBytes).toBe(CAPACITY);
    ring.producer.publish();
    const before = ring.views.bytes.slice();

    // Full: every write returns where it started, and leaves the ring as it was.
    expect(put(ring, payloadFor(lsn + 1, LENGTH), lsn + 1)).toBe(0);
    expect(put(ring, payloadFor(lsn + 1, 1), lsn + 1)).toBe(0);
    expect(put(ring, payloadFor(lsn + 1, 3 * MAX_FRAGMENT), lsn + 1)).toBe(0);
    ring.producer.publish();
    expect(firstDifference(ring.views.bytes, before)).toBe(-1);
    expect(writePos(ring)).toBe(CAPACITY);

    // One record collected and released: room for exactly one more.
    const first = drain(ring, 1);
    expect(first.records.map((r) => r.lsn)).toEqual([1]);
    expect(ring.producer.inFlightBytes).toBe(CAPACITY - SIZE);
    expect(put(ring, payloadFor(lsn + 1, LENGTH), lsn + 1)).toBe(LENGTH);
    lsn++;
    expect(put(ring, payloadFor(lsn + 1, LENGTH), lsn + 1)).toBe(0);

    const rest = drain(ring);
    const assembler = new Assembler();
    assembler.pushAll([...first.records, ...rest.records]);
    expectEntries(
      assembler.entries,
      Array.from({ length: lsn }, (_, i) => i + 1),
      () => LENGTH,
    );
    expect(ring.producer.inFlightBytes).toBe(0);
  });

  it('does not write the padding when the record after it would not fit', () => {
    // 40 bytes before the end and 64 free in all: a 48-byte record needs 40 + 48.
    const startPos = 3 * CAPACITY - 40;
    const ring = makeRing(startPos, startPos - (CAPACITY - 64));
    expect(ring.producer.inFlightBytes).toBe(CAPACITY - 64);
    const before = ring.views.bytes.slice();

    expect(put(ring, payloadFor(1, 24), 1)).toBe(0);
    ring.producer.publish();
    expect(firstDifference(ring.views.bytes, before)).toBe(-1);
    expect(writePos(ring)).toBe(startPos >>> 0);

    // The consumer gives back 24 more bytes: 88 free, padding and record fit exactly.
    Atomics.store(ring.views.control, READ_POS, (startPos - (CAPACITY - 88)) | 0);
    expect(put(ring, payloadFor(1, 24), 1)).toBe(24);
    expect(ring.producer.inFlightBytes).toBe(CAPACITY);
    expect(ring.views.words[(CAPACITY - 40) >> 2]).toBe(PAD_MARKER);
  });

  it('takes as many fragments of a large entry as fit, then the rest after release()', () => {
    const ring = makeRing();
    // Fill all but 20000 bytes: one fragment record (CAPACITY / 4) fits, a second does not.
    const fillers = [MAX_FRAGMENT, MAX_FRAGMENT, CAPACITY / 2 - 20000 - RECORD_HEADER_BYTES];
    for (const [i, length] of fillers.entries())
      expect(put(ring, payloadFor(i + 1, length), i + 1)).toBe(length);
    expect(ring.producer.inFlightBytes).toBe(CAPACITY - 20000);
    const big = payloadFor(4, 3 * MAX_FRAGMENT + 5);

    const from = put(ring, big, 4);

    expect(from).toBe(MAX_FRAGMENT);
    expect(ring.producer.inFlightBytes).toBeLessThanOrEqual(CAPACITY);
    const records: Rec[] = [];
    let at = from;
    for (let turn = 0; at < big.length; turn++) {
      expect(turn).toBeLessThan(10);
      records.push(...drain(ring).records);
      at = put(ring, big, 4, at);
      expect(ring.producer.inFlightBytes).toBeLessThanOrEqual(CAPACITY);
    }
    records.push(...drain(ring).records);
    const assembler = new Assembler();
    assembler.pushAll(records);
    expect(assembler.entries.map((e) => [e.lsn, e.fragments])).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
      [4, 4],
    ]);
    expect(firstDifference(assembler.entries[3].payload, big)).toBe(-1);
  });

  it('never reports more space than the consumer has given back (random interleaving)', () => {
    const random = prng(7);
    const ring = makeRing(TWO_POW_32 - 3 * CAPACITY);
    const assembler = new Assembler();
    const lengthOf = (lsn: number) => (lsn % 7 === 0 ? 1 + ((lsn * 7919) % (2 * MAX_FRAGMENT)) : lsn % 300);
    let lsn = 1;
    let from = 0;
    while (lsn <= 3000) {
      if (random() < 0.7) {
        const payload = payloadFor(lsn, lengthOf(lsn));
        from = put(ring, payload, lsn, from);
        if (from === payload.length) {
          lsn++;
          from = 0;
        }
      } else {
        const { batch, records } = drain(ring, random() < 0.5 ? 1 : random() * CAPACITY);
        expect(batch.lastLsn).toBe(assembler.pushAll(records));
        expect(batch.endsOnEntry).toBe(assembler.between);
      }
      // In flight: the published bytes not yet released, plus any the producer has not published.
      const inFlight = ring.producer.inFlightBytes;
      expect(inFlight).toBeLessThanOrEqual(CAPACITY);
      expect(inFlight).toBeGreaterThanOrEqual((writePos(ring) - readPos(ring)) >>> 0);
    }
    assembler.pushAll(drain(ring).records);
    expect(ring.producer.inFlightBytes).toBe(0);
    expectEntries(
      assembler.entries,
      Array.from({ length: 3000 }, (_, i) => i + 1),
      lengthOf,
    );
  });
});

describe('records as large as the ring', () => {
  it('writes an entry of exactly one fragment as one FULL record of a quarter of the ring', () => {
    const ring = makeRing();
    expect(put(ring, payloadFor(1, MAX_FRAGMENT), 1)).toBe(MAX_FRAGMENT);
    const { batch, records } = drain(ring);
    expect(records.map((r) => [r.type, r.size])).toEqual([[RecordType.FULL, CAPACITY / 4]]);
    expect(batch.lastLsn).toBe(1);
  });

  it('writes an empty entry as one 24-byte FULL record', () => {
    const ring = makeRing();
    expect(put(ring, new Uint8Array(0), 1)).toBe(0);
    expect(ring.producer.inFlightBytes).toBe(RECORD_HEADER_BYTES);
    const { batch, records } = drain(ring);
    expect(records.map((r) => [r.type, r.lsn, r.payload.length, r.size])).toEqual([
      [RecordType.FULL, 1, 0, RECORD_HEADER_BYTES],
    ]);
    expect(batch.lastLsn).toBe(1);
  });

  it('cuts one byte over a fragment into FIRST and a one-byte LAST', () => {
    const ring = makeRing();
    expect(put(ring, payloadFor(1, MAX_FRAGMENT + 1), 1)).toBe(MAX_FRAGMENT + 1);
    const { records } = drain(ring);
    expect(records.map((r) => [r.type, r.lsn, r.payload.length])).toEqual([
      [RecordType.FIRST, 1, MAX_FRAGMENT],
      [RecordType.LAST, 1, 1],
    ]);
  });

  it('cuts an exact multiple of a fragment without an empty LAST', () => {
    const ring = makeRing();
    expect(put(ring, payloadFor(1, 2 * MAX_FRAGMENT), 1)).toBe(2 * MAX_FRAGMENT);
    const { records } = drain(ring);
    expect(records.map((r) => [r.type, r.payload.length])).toEqual([
      [RecordType.FIRST, MAX_FRAGMENT],
      [RecordType.LAST, MAX_FRAGMENT],
    ]);
  });

  it('moves an entry the size of the ring through in two turns, with lastLsn and endsOnEntry right', () => {
    const ring = makeRing();
    const big = payloadFor(2, CAPACITY);
    expect(put(ring, payloadFor(1, 100), 1)).toBe(100);

    // After the small entry's 128 bytes, three quarter-ring fragments fit and a fourth does not.
    const from = put(ring, big, 2);
    expect(from).toBe(3 * MAX_FRAGMENT);
    const first = drain(ring);
    expect(first.records.map((r) => [r.type, r.lsn])).toEqual([
      [RecordType.FULL, 1],
      [RecordType.FIRST, 2],
      [RecordType.MIDDLE, 2],
      [RecordType.MIDDLE, 2],
    ]);
    expect(first.batch.lastLsn).toBe(1);
    expect(first.batch.endsOnEntry).toBe(false);

    expect(put(ring, big, 2, from)).toBe(CAPACITY);
    expect(put(ring, payloadFor(3, 10), 3)).toBe(10);
    const second = drain(ring);
    expect(second.records.map((r) => [r.type, r.lsn])).toEqual([
      [RecordType.MIDDLE, 2],
      [RecordType.LAST, 2],
      [RecordType.FULL, 3],
    ]);
    expect(second.batch.lastLsn).toBe(3);
    expect(second.batch.endsOnEntry).toBe(true);

    const assembler = new Assembler();
    assembler.pushAll([...first.records, ...second.records]);
    expectEntries(assembler.entries, [1, 2, 3], (lsn) => [0, 100, CAPACITY, 10][lsn]);
  });

  it('reports lastLsn and endsOnEntry after every single fragment', () => {
    const ring = makeRing();
    const length = CAPACITY / 2 + 3; // FIRST, MIDDLE, LAST
    expect(put(ring, payloadFor(1, length), 1)).toBe(length);
    ring.producer.publish();
    const steps: Array<[number, number, boolean]> = [];
    const assembler = new Assembler();
    while (ring.consumer.hasData()) {
      const { batch, records } = drain(ring, 1);
      expect(records).toHaveLength(1);
      assembler.pushAll(records);
      steps.push([records[0].type, batch.lastLsn, batch.endsOnEntry]);
    }
    expect(steps).toEqual([
      [RecordType.FIRST, 0, false],
      [RecordType.MIDDLE, 0, false],
      [RecordType.LAST, 1, true],
    ]);
    expectEntries(assembler.entries, [1], () => length);
  });

  it('moves an entry three times the ring through with interleaved collect and release', () => {
    const ring = makeRing(CAPACITY - 200); // and wrap on the way
    const length = 3 * CAPACITY + 12345;
    const big = payloadFor(9, length);
    const assembler = new Assembler();
    let from = 0;
    let turns = 0;
    while (from < length) {
      from = put(ring, big, 9, from);
      const { batch, records } = drain(ring);
      expect(batch.lastLsn).toBe(assembler.pushAll(records));
      expect(batch.endsOnEntry).toBe(from === length);
      expect(++turns).toBeLessThan(100);
    }
    expect(assembler.entries).toHaveLength(1);
    expect(assembler.entries[0].fragments).toBe(Math.ceil(length / MAX_FRAGMENT));
    expectEntries(assembler.entries, [9], () => length);
  });
});

describe('positions near the 2^32 wrap of the counters', () => {
  // 2^31 is where the Int32 slot turns negative; 2^32 is where the counter wraps to 0.
  const starts = [2 ** 31 - 4096, TWO_POW_32 - 4096, TWO_POW_32 - 8, TWO_POW_32 - CAPACITY - 104];

  it.each(starts)('moves entries across the counter wrap from %i', (start) => {
    const ring = makeRing(start);
    const assembler = new Assembler();
    const lengthOf = (lsn: number) => (lsn % 10 === 0 ? MAX_FRAGMENT + lsn : 1 + ((lsn * 37) % 900));
    let end = start;
    for (let lsn = 1; lsn <= 400; lsn++) {
      const payload = payloadFor(lsn, lengthOf(lsn));
      let from = put(ring, payload, lsn);
      while (from < payload.length) {
        const { batch, records } = drain(ring);
        expect(batch.lastLsn).toBe(assembler.pushAll(records));
        // The batch moved the position by its bytes plus at most one padding (< one record).
        const padding = ((batch.end - end) >>> 0) - batch.bytes;
        expect(padding).toBeGreaterThanOrEqual(0);
        expect(padding).toBeLessThan(CAPACITY / 4);
        expect(batch.end >>> 0).toBe(readPos(ring));
        end = batch.end;
        from = put(ring, payload, lsn, from);
      }
    }
    assembler.pushAll(drain(ring).records);
    expectEntries(
      assembler.entries,
      Array.from({ length: 400 }, (_, i) => i + 1),
      lengthOf,
    );
    // The counters went past 2^32 (or 2^31) and wrapped, and both sides agree where they are.
    expect(readPos(ring)).toBe(writePos(ring));
    expect(ring.producer.inFlightBytes).toBe(0);
    expect(ring.consumer.hasData()).toBe(false);
  });

  it('ends a batch that crosses 2^32 at the wrapped position, and counts it as collected', () => {
    const start = TWO_POW_32 - 64;
    const ring = makeRing(start);
    for (let lsn = 1; lsn <= 4; lsn++) put(ring, payloadFor(lsn, 40), lsn); // 64-byte records
    ring.producer.publish();
    const batch = ring.consumer.collect(Number.POSITIVE_INFINITY, nextStamp());
    expect(parseBatch(batch).map((r) => r.lsn)).toEqual([1, 2, 3, 4]);
    expect(batch.end).toBe(3 * 64);
    expect(ring.consumer.collectedUpTo(start)).toBe(true);
    expect(ring.consumer.collectedUpTo(3 * 64)).toBe(true);
    expect(ring.consumer.collectedUpTo(4 * 64)).toBe(false);
    ring.consumer.release(batch.end);
    expect(readPos(ring)).toBe(3 * 64);
  });

  it('keeps LSNs above 2^32 (48-bit) in the record and in lastLsn', () => {
    const ring = makeRing();
    const lsn = 2 ** 40 + 2 ** 32 + 7;
    expect(put(ring, payloadFor(lsn, 50), lsn)).toBe(50);
    const { batch, records, ts } = drain(ring);
    expect(batch.lastLsn).toBe(lsn);
    expect(records.map((r) => [r.lsn, r.ts])).toEqual([[lsn, ts]]);
  });
});

describe("entries encoded in place (encodeAt into the producer's window)", () => {
  /** Free bytes in a row an in-place encoding needs (IN_PLACE_MIN_RUN in producer.ts). */
  const MIN_RUN = 4096;

  /** Encodes `value` as entry `lsn` straight into the ring; false when it did not land there. */
  function putInPlace(ring: Ring, value: unknown, lsn: number): boolean {
    const at = ring.producer.inPlaceOffset();
    if (at < 0) return false;
    const encoded = encodeAt(value, ring.producer.window, at + RECORD_HEADER_BYTES);
    if ((encoded as Uint8Array) !== ring.producer.window) return false;
    expect(encoded.start).toBe(at + RECORD_HEADER_BYTES);
    // As enqueue does, an entry that needs fragments goes the copying way.
    if (encoded.end - encoded.start > ring.producer.maxFragment) return false;
    ring.producer.commitInPlace(at, encoded.end - encoded.start, lsn);
    return true;
  }

  /** An entry whose encoding is about `length` bytes, different for every LSN. */
  function valueFor(lsn: number, length: number): unknown {
    // Text, so it decodes to what was encoded (bytes come back as a Buffer) and goes through
    // the encoder's string path, which writes with Buffer#utf8Write.
    const text = String.fromCharCode(...Array.from(payloadFor(lsn, length), (b) => 97 + (b % 26)));
    return { lsn, text };
  }

  function expectValues(records: Rec[], lsns: number[], length: number): void {
    expect(records.map((r) => [r.type, r.lsn])).toEqual(lsns.map((lsn) => [RecordType.FULL, lsn]));
    for (const r of records) expect(decode(r.payload), `LSN ${r.lsn}`).toEqual(valueFor(r.lsn, length));
  }

  it.each([1, 7, 100, 333, 1500])(
    'writes, pads, wraps and parses back ~%i-byte entries from every 8-byte offset in the last 5 KiB',
    (length) => {
      let padded = 0;
      let landed = 0;
      for (let fromEnd = MIN_RUN + 1024; fromEnd >= RECORD_ALIGN; fromEnd -= RECORD_ALIGN) {
        const startOffset = CAPACITY - fromEnd;
        const startPos = 7 * CAPACITY + startOffset;
        const ring = makeRing(startPos);
        const where = `offset ${startOffset}`;
        const lsns: number[] = [];
        // Up to the end of the data area, and two entries past it.
        let past = 0;
        for (let lsn = 1; past < 2; lsn++) {
          if (putInPlace(ring, valueFor(lsn, length), lsn)) landed++;
          else {
            // msgpackr wants room for a string's worst case (3 bytes a character) before it
            // writes one: a long string near the end of the run goes the copying way.
            expect(length, `${where}, LSN ${lsn}`).toBeGreaterThan(1000);
            const encoded = encodeAt(valueFor(lsn, length), Buffer.allocUnsafe(8192), 0);
            expect(put(ring, encoded.slice(encoded.start, encoded.end), lsn)).toBe(
              encoded.end - encoded.start,
            );
          }
          lsns.push(lsn);
          ring.producer.publish();
          if (writePos(ring) - startPos >= fromEnd) past++;
        }
        const { batch, records } = drain(ring);
        expectValues(records, lsns, length);
        expect(readPos(ring)).toBe(batch.end);
        const views = spans(batch);
        expect(views.length, where).toBeLessThanOrEqual(2);
        const firstEnd = views[0][0] + views[0][1];
        if (views.length === 2 && firstEnd < CAPACITY) {
          // A record would have started with less than MIN_RUN before the end: the rest is padding.
          expect(CAPACITY - firstEnd, where).toBeLessThan(MIN_RUN);
          expect(ring.views.words[firstEnd >> 2], where).toBe(PAD_MARKER);
          padded++;
        }
      }
      expect(padded).toBeGreaterThan(0);
      expect(landed).toBeGreaterThan(640);
    },
  );

  /** Fills the ring from its start with records of `size` bytes (payload `size - 24`) until it is full. */
  function fill(ring: Ring, size: number): number {
    let lsn = 0;
    while (put(ring, payloadFor(lsn + 1, size - RECORD_HEADER_BYTES), lsn + 1) > 0) lsn++;
    return lsn;
  }

  it('keeps the encoder inside the free run: a value larger than the run is left elsewhere and the ring is untouched past the run', () => {
    const ring = makeRing();
    const filled = fill(ring, 1024);
    const first = drain(ring, 5000); // the writer takes a few records: that much free, at offset 0
    const run = first.records.length * 1024;
    expect(run).toBeGreaterThanOrEqual(5120);
    expect(ring.producer.inPlaceOffset()).toBe(0);
    expect(ring.producer.window.length).toBe(run);
    const before = ring.views.bytes.slice();
    const big = encodeAt(valueFor(1, 2 * run), ring.producer.window, RECORD_HEADER_BYTES);
    expect((big as Uint8Array) === ring.producer.window).toBe(false);
    expect(decode(big.subarray(big.start, big.end))).toEqual(valueFor(1, 2 * run));
    expect(firstDifference(ring.views.bytes.subarray(run), before.subarray(run))).toBe(-1);
    // A small one still lands there, after the records the writer has yet to take.
    expect(putInPlace(ring, valueFor(filled + 1, 100), filled + 1)).toBe(true);
    const { records } = drain(ring);
    const taken = first.records.length;
    expect(records.map((r) => r.lsn)).toEqual(
      Array.from({ length: filled + 1 - taken }, (_, i) => i + taken + 1),
    );
    expectValues(records.slice(-1), [filled + 1], 100);
  });

  it('offers no offset while fewer than 4 KiB are free in a row, and writes nothing', () => {
    // MIN_RUN - 8 bytes free, at offset 1000 (nothing is collected here: what is in flight is never read).
    const ring = makeRing(CAPACITY + 1000, 1000 + MIN_RUN - 8);
    const before = ring.views.bytes.slice();
    expect(ring.producer.inPlaceOffset()).toBe(-1);
    expect(firstDifference(ring.views.bytes, before)).toBe(-1);
    expect(writePos(ring)).toBe((CAPACITY + 1000) >>> 0);
    // The writer gives 8 bytes back: now the run is long enough.
    Atomics.store(ring.views.control, READ_POS, (1000 + MIN_RUN) | 0);
    expect(ring.producer.inPlaceOffset()).toBe(1000);
    expect(ring.producer.window.length).toBe(1000 + MIN_RUN);
  });

  it('pads the end only when the start of the data area has the room', () => {
    // Records up to 1 KiB before the end, with 1024 + MIN_RUN - 8 bytes free in all.
    const near = CAPACITY - 1024;
    const inFlight = CAPACITY - 1024 - MIN_RUN + 8;
    const ring = makeRing(near - inFlight);
    let lsn = 0;
    while (writePos(ring) + 2048 <= near) {
      put(ring, payloadFor(++lsn, 1000), lsn);
      ring.producer.publish();
    }
    put(ring, payloadFor(++lsn, near - writePos(ring) - RECORD_HEADER_BYTES), lsn);
    ring.producer.publish();
    expect(writePos(ring)).toBe(near);
    expect(ring.producer.inFlightBytes).toBe(inFlight);
    // Padding would leave too little at offset 0.
    expect(ring.producer.inPlaceOffset()).toBe(-1);
    expect(ring.views.words[near >> 2]).toBe((STALE * 0x01010101) | 0);
    expect(writePos(ring)).toBe(near);
    // The writer takes the first record: now the end is padded and the entry goes at 0.
    const first = drain(ring, 1);
    expect(ring.producer.inPlaceOffset()).toBe(0);
    expect(ring.views.words[near >> 2]).toBe(PAD_MARKER);
    expect(putInPlace(ring, valueFor(lsn + 1, 10), lsn + 1)).toBe(true);
    const { records } = drain(ring);
    expect([...first.records, ...records].map((r) => r.lsn)).toEqual(
      Array.from({ length: lsn + 1 }, (_, i) => i + 1),
    );
    expectValues(records.slice(-1), [lsn + 1], 10);
  });

  it('mixes in-place and copied entries in LSN order through many turns of the ring', () => {
    const ring = makeRing(TWO_POW_32 - 3 * CAPACITY);
    const random = prng(42);
    const lengths = new Map<number, number>();
    const assembler = new Assembler();
    const values: unknown[] = [];
    for (let lsn = 1; lsn <= 3000; lsn++) {
      const length = Math.floor(random() * random() * 3 * MAX_FRAGMENT);
      lengths.set(lsn, length);
      const value = valueFor(lsn, length);
      values.push(value);
      if (random() < 0.5 && putInPlace(ring, value, lsn)) continue;
      // The copy path, as enqueue takes it when the entry did not land in place.
      const encoded = encodeAt(value, Buffer.allocUnsafe(8192), 0);
      const copy = encoded.slice(encoded.start, encoded.end);
      let from = put(ring, copy, lsn, 0);
      while (from < copy.length) {
        assembler.pushAll(drain(ring, 16 * 1024).records);
        from = put(ring, copy, lsn, from);
      }
      if (random() < 0.1) assembler.pushAll(drain(ring, 16 * 1024).records);
    }
    assembler.pushAll(drain(ring).records);
    expect(assembler.entries.map((e) => e.lsn)).toEqual(values.map((_, i) => i + 1));
    for (const e of assembler.entries) expect(decode(e.payload), `LSN ${e.lsn}`).toEqual(values[e.lsn - 1]);
  });
});
