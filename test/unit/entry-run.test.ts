/**
 * The segment walk's fast loop (src/format/entry-run.ts, `takeFullRecords`) takes runs of
 * whole, valid FULL records in sequence; everything else is left to the record-by-record
 * path. It must never take a record that path would refuse, and a walk must come to the same
 * entries, reports and verdicts whether the loop takes records or not (issue #19: "torn-tail
 * and corruption verdicts must not change"). The loop reads words, so a buffer at an odd
 * address turns it off: each walk below is run both ways and compared.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encode } from '../../src/encoding.js';
import { EntryRun, RUN_CAPACITY, takeFullRecords } from '../../src/format/entry-run.js';
import type { ScanOptions } from '../../src/format/segment-scanner.js';
import {
  flipBit,
  locateRecords,
  RECORD_HEADER,
  SEGMENT_HEADER,
  scanBytes,
  segmentHeader,
  TYPE,
  writerBatch,
  zeroRange,
} from '../helpers/log-bytes.js';

const TS = 1795593600000;
const FIRST_LSN = 101;

function payloadOf(value: unknown): Buffer {
  const e = encode(value);
  return Buffer.from(e.subarray(e.start, e.end));
}

/** `count` entries of varied sizes in three batches; with `big`, two of them cut into fragments (16 360-byte records). */
function segment(count: number, big = false): Buffer {
  const values = Array.from({ length: count }, (_, i) =>
    big && i % 17 === 9 ? 'x'.repeat(20_000 + i) : { i, pad: 'y'.repeat((i * 37) % 300) },
  );
  const payloads = values.map(payloadOf);
  const third = Math.ceil(count / 3);
  const batches = [0, 1, 2].map((b) =>
    writerBatch(payloads.slice(b * third, (b + 1) * third), {
      firstLsn: FIRST_LSN + b * third,
      ts: TS + b,
      syncedBefore: true,
    }),
  );
  return Buffer.concat([segmentHeader({ firstLsn: FIRST_LSN }), ...batches]);
}

/** A copy in a fresh buffer: at offset 0 of its own ArrayBuffer (aligned), or at offset 1 (not). */
function placed(bytes: Uint8Array, aligned: boolean): Uint8Array {
  const shift = aligned ? 0 : 1;
  const out = new Uint8Array(bytes.length + shift).subarray(shift);
  out.set(bytes);
  return out;
}

describe('takeFullRecords', () => {
  const bytes = placed(segment(60), true);
  const records = locateRecords(bytes);

  it('takes every record of a clean run of FULL records, with their fields', () => {
    const run = new EntryRun();
    const taken = takeFullRecords(bytes, SEGMENT_HEADER, bytes.length, FIRST_LSN, 1 << 20, run, 0);
    expect(taken.count).toBe(60);
    expect(taken.next).toBe(bytes.length);
    expect(taken.lastSyncMark).toBe(records[40].offset); // the first record of the third batch
    for (const [k, r] of records.entries()) {
      expect(run.entry(k)).toEqual({
        lsn: r.lsn,
        ts: TS + Math.floor(k / 20),
        payload: bytes.subarray(r.offset + RECORD_HEADER, r.offset + RECORD_HEADER + r.length),
        offset: r.offset,
        end: r.offset + r.size,
      });
    }
  });

  it('stops before the record holding any flipped bit it checks, and ignores padding', () => {
    for (let offset = SEGMENT_HEADER; offset < bytes.length; offset += 3) {
      const damaged = placed(flipBit(Buffer.from(bytes), offset, offset % 8), true);
      const k = records.findIndex((r) => offset >= r.offset && offset < r.offset + r.size);
      const inPadding = offset >= records[k].offset + RECORD_HEADER + records[k].length;
      const taken = takeFullRecords(damaged, SEGMENT_HEADER, damaged.length, FIRST_LSN, 1 << 20, null, 0);
      expect(taken.count, `bit flipped at ${offset}`).toBe(inPadding ? 60 : k);
    }
  });

  it('stops at an LSN out of sequence, a length over the bound, the end of the bytes, and a full run', () => {
    const run = new EntryRun();
    expect(takeFullRecords(bytes, SEGMENT_HEADER, bytes.length, FIRST_LSN + 1, 1 << 20, run, 0).count).toBe(
      0,
    );
    const longest = Math.max(...records.map((r) => r.length));
    const k = records.findIndex((r) => r.length === longest);
    expect(takeFullRecords(bytes, SEGMENT_HEADER, bytes.length, FIRST_LSN, longest - 1, null, 0).count).toBe(
      k,
    );
    expect(
      takeFullRecords(bytes, SEGMENT_HEADER, records[5].offset + 30, FIRST_LSN, 1 << 20, null, 0).count,
    ).toBe(5);
    run.count = RUN_CAPACITY - 3;
    expect(takeFullRecords(bytes, SEGMENT_HEADER, bytes.length, FIRST_LSN, 1 << 20, run, 0).count).toBe(3);
  });

  it('takes nothing from bytes at an odd address (the record-by-record path reads them)', () => {
    const odd = placed(bytes, false);
    expect(takeFullRecords(odd, SEGMENT_HEADER, odd.length, FIRST_LSN, 1 << 20, null, 0).count).toBe(0);
  });

  it('does not take fragments', () => {
    const withBig = placed(segment(30, true), true);
    const first = locateRecords(withBig).findIndex((r) => r.type === TYPE.FIRST);
    expect(first).toBeGreaterThan(0);
    expect(takeFullRecords(withBig, SEGMENT_HEADER, withBig.length, FIRST_LSN, 1 << 20, null, 0).count).toBe(
      first,
    );
  });
});

describe('a walk with and without the fast loop', () => {
  const base = segment(45, true);
  /** Walks `bytes` aligned and at an odd address, and only verifying, and compares. */
  function agree(bytes: Buffer, options: Partial<ScanOptions>): void {
    const fast = scanBytes(placed(bytes, true), options);
    const slow = scanBytes(placed(bytes, false), options);
    expect(fast.events).toEqual(slow.events);
    expect(fast.result).toEqual(slow.result);
    const verifyOnly = scanBytes(placed(bytes, true), { ...options, entries: false });
    expect(verifyOnly.result).toEqual(fast.result);
    expect(verifyOnly.events).toEqual(fast.events.filter((e) => 'skip' in e));
  }

  it('agree on damaged segments (bits flipped, zeroed ranges, cut short), in small and large reads, skipping or not', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.record({ flip: fc.integer({ min: SEGMENT_HEADER, max: base.length - 1 }), bit: fc.nat(7) }),
          fc.record({
            zeroFrom: fc.integer({ min: SEGMENT_HEADER, max: base.length - 1 }),
            bytes: fc.integer({ min: 1, max: 300 }),
          }),
          fc.record({ cutAt: fc.integer({ min: 0, max: base.length }) }),
        ),
        fc.constantFrom(256, 4096, 1024 * 1024),
        fc.boolean(),
        (mutation, chunkBytes, skipCorrupt) => {
          let bytes = base;
          if ('flip' in mutation) bytes = flipBit(base, mutation.flip, mutation.bit);
          else if ('zeroFrom' in mutation)
            bytes = zeroRange(
              base,
              mutation.zeroFrom,
              Math.min(base.length, mutation.zeroFrom + mutation.bytes),
            );
          else bytes = base.subarray(0, mutation.cutAt);
          agree(bytes, { chunkBytes, skipCorrupt });
        },
      ),
      { numRuns: 300, seed: 19 },
    );
  });

  it('agree on a clean segment, a walk started mid-segment, and a file that shrank while it was read', () => {
    agree(base, {});
    agree(base, { chunkBytes: 512 });
    const records = locateRecords(base);
    const start = records[10];
    agree(base, { startAt: { offset: start.offset, lsn: start.lsn }, chunkBytes: 1000 });
    const fast = scanBytes(placed(base.subarray(0, 5000), true), { chunkBytes: 512 }, base.length);
    const slow = scanBytes(placed(base.subarray(0, 5000), false), { chunkBytes: 512 }, base.length);
    expect(fast.result).toEqual(slow.result);
    expect(fast.events).toEqual(slow.events);
  });
});
