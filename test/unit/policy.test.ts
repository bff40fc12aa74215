/**
 * The corruption policy (src/reader/policy.ts) on its own (issue #17, item 5): `judgeEnd`, the
 * one rule that tells a clean end from a torn tail from corruption, for each way a walk ends
 * in the last and in a sealed segment; and `ReaderPolicy` in each recovery mode: what a reader
 * does next (go on, skip the segment, stop), what it reports, and the WAL_CORRUPT it throws
 * (docs/FORMAT.md "How a segment's walk ends", "Reading: live tail versus sealed segments").
 *
 * The walks judged are real ones, of segments the writer's encoders built and byte mutators
 * damaged (test/helpers/log-bytes.ts):
 *
 *   SEG   LSN 1 (marked SYNCED_BEFORE), 2, 3 | LSN 4 (marked), 5, 6       two batches, FULL records
 *   FRAG  LSN 1 (marked), 2 = FIRST + MIDDLE + LAST (40 000-char string)  one batch
 */
import { describe, expect, it } from 'vitest';
import { encode } from '../../src/encoding.js';
import { ErrorCode, WalError } from '../../src/errors.js';
import type { Damage } from '../../src/format/segment-scanner.js';
import {
  type CorruptionReport,
  checkCorruptionHandler,
  checkRecoveryMode,
  corruptError,
  judgeEnd,
  lsnsLost,
  ReaderPolicy,
  type ReaderStep,
  type RecoveryMode,
} from '../../src/reader/policy.js';
import type { SegmentFile } from '../../src/segment/naming.js';
import {
  flipBit,
  garbage,
  locateRecords,
  scanBytes,
  segmentHeader,
  withHeader,
  withRecord,
  writerBatch,
  zeroRange,
} from '../helpers/log-bytes.js';

const MODES: readonly RecoveryMode[] = ['strict', 'tolerate-tail', 'point-in-time', 'skip-corrupt'];
const TS = 1795593600000;
const NOT_DELIVERED = 'not delivered: reading stops at the first damage';

function payloadOf(value: unknown): Buffer {
  const e = encode(value);
  return Buffer.from(e.subarray(e.start, e.end));
}

const SEG = Buffer.concat([
  segmentHeader({ firstLsn: 1 }),
  writerBatch(
    [1, 2, 3].map((i) => payloadOf({ i })),
    { firstLsn: 1, ts: TS, syncedBefore: true },
  ),
  writerBatch(
    [4, 5, 6].map((i) => payloadOf({ i })),
    { firstLsn: 4, ts: TS + 1, syncedBefore: true },
  ),
]);
const [, R2, R3, R4, R5, R6] = locateRecords(SEG);
const LEN = SEG.length;

const FRAG = Buffer.concat([
  segmentHeader({ firstLsn: 1 }),
  writerBatch([payloadOf('first'), payloadOf('x'.repeat(40_000))], {
    firstLsn: 1,
    ts: TS,
    syncedBefore: true,
  }),
]);
const [, FIRST, MIDDLE, LAST] = locateRecords(FRAG);

function segmentFile(firstLsn: number): SegmentFile {
  const name = `wal-${String(firstLsn).padStart(16, '0')}-20261125-080000-000.log`;
  return { name, path: `/logs/${name}`, firstLsn };
}

describe('judgeEnd', () => {
  const cases: [string, Buffer, string, 'clean' | 'torn' | 'corrupt', 'clean' | 'corrupt'][] = [
    ['the end of the file', SEG, 'eof', 'clean', 'clean'],
    ['a segment with only its header', SEG.subarray(0, 40), 'eof', 'clean', 'clean'],
    [
      'zeros to the end of the file (preallocated)',
      Buffer.concat([SEG, Buffer.alloc(4096)]),
      'zeros',
      'clean',
      'corrupt',
    ],
    ['fewer zeros than a record header', Buffer.concat([SEG, Buffer.alloc(8)]), 'zeros', 'clean', 'corrupt'],
    [
      'a hole of zeros, then unmarked records',
      zeroRange(SEG, R5.offset, R6.offset),
      'zeros',
      'torn',
      'corrupt',
    ],
    [
      'a hole of zeros, then a marked record',
      zeroRange(SEG, R3.offset, R4.offset),
      'zeros',
      'corrupt',
      'corrupt',
    ],
    ['a record cut by the end of the file', SEG.subarray(0, R6.offset + 10), 'incomplete', 'torn', 'corrupt'],
    ['a bad checksum, unmarked records after', flipBit(SEG, R5.offset + 16), 'bad', 'torn', 'corrupt'],
    ['a bad checksum, a marked record after', flipBit(SEG, R2.offset + 16), 'bad', 'corrupt', 'corrupt'],
    ['a bad checksum in the last record', flipBit(SEG, R6.offset + 16), 'bad', 'torn', 'corrupt'],
    ['garbage after the last entry', Buffer.concat([SEG, garbage(64)]), 'bad', 'torn', 'corrupt'],
    [
      'garbage, then zeros to the end of the file',
      Buffer.concat([SEG, garbage(16), Buffer.alloc(4096)]),
      'bad',
      'torn',
      'corrupt',
    ],
    ['an LSN gap at an unmarked record', withRecord(SEG, R5.offset, { lsn: 9 }), 'bad', 'torn', 'corrupt'],
    ['an LSN gap at a marked record', withRecord(SEG, R4.offset, { lsn: 9 }), 'bad', 'corrupt', 'corrupt'],
    [
      'the file ends between the fragments of an entry',
      FRAG.subarray(0, LAST.offset),
      'incomplete',
      'torn',
      'corrupt',
    ],
    [
      'zeros after an entry’s FIRST, to the end',
      zeroRange(FRAG, MIDDLE.offset, FRAG.length),
      'incomplete',
      'torn',
      'corrupt',
    ],
    [
      // No entry starts after the damage (next is -1), but a marked record does follow it.
      'a bad FIRST, then its MIDDLE marked',
      flipBit(withRecord(FRAG, MIDDLE.offset, { flags: 1 }), FIRST.offset + 16),
      'bad',
      'corrupt',
      'corrupt',
    ],
    // Not judgeEnd's business: callers look at stop 'bad-header' first.
    ['a bad segment header', withHeader(SEG, { magic: 0 }), 'bad-header', 'clean', 'clean'],
  ];
  for (const [name, bytes, stop, last, sealed] of cases) {
    it(`${name}: ${last} in the last segment, ${sealed} in a sealed one`, () => {
      const { result } = scanBytes(bytes);
      expect(result.stop).toBe(stop);
      expect(judgeEnd(result, true)).toBe(last);
      expect(judgeEnd(result, false)).toBe(sealed);
    });
  }

  // Regression. docs/FORMAT.md "How a segment's walk ends": clean is a stop "at zeros that run
  // to the end of the file"; torn covers "zeros where pages never reached the disk, ... even
  // complete records after such a hole". Here the FIRST's pages never reached the disk and its
  // MIDDLE and LAST did. The scan stepped over valid MIDDLE/LAST records without looking at
  // their bytes and called the region all zeros, so the verdict was 'clean': openWal
  // (tolerate-tail) reported nothing, kept no `.torn-` copy, and left the MIDDLE and LAST
  // behind validEnd for appends to overwrite.
  it('a hole of zeros, then the rest of an entry (MIDDLE, LAST) to the end: torn in the last segment', () => {
    const { result } = scanBytes(zeroRange(FRAG, FIRST.offset, MIDDLE.offset));
    expect(result.damage).toMatchObject({
      stop: 'zeros',
      offset: FIRST.offset,
      next: -1,
      syncedAfter: false,
    });
    expect(judgeEnd(result, true)).toBe('torn');
  });
});

describe('lsnsLost', () => {
  const damage = (lastLsnBefore: number, next: number, nextLsn: number) =>
    ({ lastLsnBefore, next, nextLsn }) as Damage;
  it.each([
    ['nothing valid after the damage: to the end of the log', damage(4, -1, 0), { from: 5, to: null }],
    ['entries between the damage and the next record', damage(4, 200, 8), { from: 5, to: 7 }],
    ['the next record is the next entry (only bytes lost)', damage(4, 200, 5), null],
  ])('%s', (_, d, lsns) => {
    expect(lsnsLost(d)).toEqual(lsns);
  });
});

describe('corruptError', () => {
  it('is WAL_CORRUPT naming the file and the offset', () => {
    const e = corruptError('/logs/x.log', 48, 'checksum mismatch');
    expect(e).toBeInstanceOf(WalError);
    expect(e).toMatchObject({
      code: ErrorCode.CORRUPT,
      path: '/logs/x.log',
      offset: 48,
      message: '/logs/x.log is corrupt at offset 48: checksum mismatch',
    });
  });
});

describe('option checks', () => {
  it('take each mode, default to tolerate-tail, and refuse anything else naming the option', () => {
    for (const mode of MODES) expect(checkRecoveryMode(mode, 'options.recovery')).toBe(mode);
    expect(checkRecoveryMode(undefined, 'options.recovery')).toBe('tolerate-tail');
    for (const bad of ['Strict', '', 1, null]) {
      expect(() => checkRecoveryMode(bad, 'options.recovery')).toThrow(
        expect.objectContaining({
          code: ErrorCode.INVALID_OPTION,
          message: expect.stringMatching(/^options\.recovery must be one of 'strict', 'tolerate-tail', /),
        }),
      );
    }
    const handler = () => {};
    expect(checkCorruptionHandler(handler, 'options.onCorruption')).toBe(handler);
    expect(checkCorruptionHandler(undefined, 'options.onCorruption')).toBeUndefined();
    expect(() => checkCorruptionHandler('log', 'options.onCorruption')).toThrow(
      expect.objectContaining({
        code: ErrorCode.INVALID_OPTION,
        message: 'options.onCorruption must be a function',
      }),
    );
  });
});

/** What a policy call did: threw, or returned a step and made reports. */
type Outcome =
  | { error: { code: string; path?: string; offset?: number; message: string } }
  | { step: ReaderStep; reports: CorruptionReport[] };

function run(mode: RecoveryMode, act: (policy: ReaderPolicy) => ReaderStep): Outcome {
  const reports: CorruptionReport[] = [];
  const policy = new ReaderPolicy(mode, (r) => reports.push(r));
  try {
    return { step: act(policy), reports };
  } catch (e) {
    expect(e).toBeInstanceOf(WalError);
    expect(reports).toEqual([]);
    const { code, path, offset, message } = e as WalError;
    return { error: { code, path, offset, message } };
  }
}

/**
 * Damage a reader may not pass over silently, and what each mode does with it: strict and
 * tolerate-tail throw WAL_CORRUPT; point-in-time reports it (up to the end of the log) and
 * stops; skip-corrupt reports it and goes on.
 */
interface DamageCase {
  name: string;
  act: (policy: ReaderPolicy) => ReaderStep;
  segment: SegmentFile;
  offset: number;
  bytes: number;
  reason: string;
  pointInTimeLsns: CorruptionReport['lsns'];
  skip: { step: ReaderStep; lsns: CorruptionReport['lsns'] };
}

const S21 = segmentFile(21);
const S1 = segmentFile(1);
const scanOf = (bytes: Buffer) => scanBytes(bytes).result;

const DAMAGE: DamageCase[] = [
  {
    name: 'a gap before a segment (LSNs 11 to 20 missing)',
    act: (p) => p.gap(S21, 11),
    segment: S21,
    offset: 0,
    bytes: 0,
    reason: 'the log has a gap: LSNs 11 to 20 are missing',
    pointInTimeLsns: { from: 11, to: null },
    skip: { step: 'go-on', lsns: { from: 11, to: 20 } },
  },
  {
    name: 'a segment that starts before the previous one ended (an overlap)',
    act: (p) => p.gap(segmentFile(5), 11),
    segment: segmentFile(5),
    offset: 0,
    bytes: 0,
    reason: 'the segment starts at LSN 5, before the end of the previous one',
    pointInTimeLsns: null,
    skip: { step: 'skip-segment', lsns: null },
  },
  {
    name: 'a bad header in a sealed segment',
    act: (p) => p.badHeader(S21, 0, 4096, 'bad segment header: bad magic', 31),
    segment: S21,
    offset: 0,
    bytes: 4096,
    reason: 'bad segment header: bad magic',
    pointInTimeLsns: { from: 21, to: null },
    skip: { step: 'skip-segment', lsns: { from: 21, to: 30 } },
  },
  {
    name: 'a header that contradicts the name, in the last segment',
    act: (p) => p.badHeader(S21, 8, 200, 'the header says first LSN 22, the name says 21', null),
    segment: S21,
    offset: 8,
    bytes: 200,
    reason: 'the header says first LSN 22, the name says 21',
    pointInTimeLsns: { from: 21, to: null },
    skip: { step: 'skip-segment', lsns: { from: 21, to: null } },
  },
  {
    name: 'a bad last record in a sealed segment (the next starts at 9)',
    act: (p) => p.end(S1, scanOf(flipBit(SEG, R6.offset + 16)), false, 9),
    segment: S1,
    offset: R6.offset,
    bytes: LEN - R6.offset,
    reason: 'checksum mismatch',
    pointInTimeLsns: { from: 6, to: null },
    skip: { step: 'go-on', lsns: { from: 6, to: 8 } },
  },
  {
    name: 'zeros after the last entry of a sealed segment (no entry lost before the next)',
    act: (p) => p.end(S1, scanOf(Buffer.concat([SEG, Buffer.alloc(64)])), false, 7),
    segment: S1,
    offset: LEN,
    bytes: 64,
    reason: 'zeros after the last entry',
    pointInTimeLsns: { from: 7, to: null },
    skip: { step: 'go-on', lsns: null },
  },
  {
    name: 'damage in the last segment with a marked record after it',
    act: (p) => p.end(S1, scanOf(flipBit(SEG, R2.offset + 16)), true, null),
    segment: S1,
    offset: R2.offset,
    bytes: LEN - R2.offset,
    reason: 'checksum mismatch, and a record written after a sync follows',
    pointInTimeLsns: { from: 2, to: null },
    skip: { step: 'go-on', lsns: { from: 2, to: null } },
  },
];

describe('ReaderPolicy: damage', () => {
  for (const c of DAMAGE) {
    describe(c.name, () => {
      const report = {
        segment: c.segment.name,
        offset: c.offset,
        bytes: c.bytes,
        reason: c.reason,
        kind: 'corruption' as const,
      };
      const expected: Record<RecoveryMode, Outcome> = {
        strict: {
          error: {
            code: ErrorCode.CORRUPT,
            path: c.segment.path,
            offset: c.offset,
            message: `${c.segment.path} is corrupt at offset ${c.offset}: ${c.reason}`,
          },
        },
        'tolerate-tail': {
          error: {
            code: ErrorCode.CORRUPT,
            path: c.segment.path,
            offset: c.offset,
            message: `${c.segment.path} is corrupt at offset ${c.offset}: ${c.reason}`,
          },
        },
        'point-in-time': {
          step: 'stop',
          reports: [{ ...report, lsns: c.pointInTimeLsns, action: NOT_DELIVERED }],
        },
        'skip-corrupt': {
          step: c.skip.step,
          reports: [{ ...report, lsns: c.skip.lsns, action: 'skipped' }],
        },
      };
      for (const mode of MODES) {
        it(mode, () => {
          expect(run(mode, c.act)).toEqual(expected[mode]);
        });
      }
    });
  }
});

describe('ReaderPolicy: no damage goes on without a report, in every mode', () => {
  const torn = scanOf(flipBit(SEG, R5.offset + 16));
  const cases: [string, (p: ReaderPolicy) => ReaderStep][] = [
    ['the segment starts where the previous one ended', (p) => p.gap(S21, 21)],
    ['no start is expected (the first segment read, or after damage)', (p) => p.gap(S21, 0)],
    ['a clean end of a sealed segment', (p) => p.end(S1, scanOf(SEG), false, 7)],
    ['a clean end of the last segment', (p) => p.end(S1, scanOf(SEG), true, null)],
    [
      'zeros to the end of the last segment',
      (p) => p.end(S1, scanOf(Buffer.concat([SEG, Buffer.alloc(64)])), true, null),
    ],
    // A reader cannot tell a torn tail from a write in progress: it is the current end of the log.
    ['a torn end of the last segment', (p) => p.end(S1, torn, true, null)],
  ];
  for (const [name, act] of cases) {
    it(name, () => {
      for (const mode of MODES) expect(run(mode, act), mode).toEqual({ step: 'go-on', reports: [] });
    });
  }
});

describe('ReaderPolicy: skipped regions (skip-corrupt)', () => {
  it('reports each region the scanner skipped, with the LSNs it lost', () => {
    const bytes = withRecord(flipBit(SEG, R2.offset + 16), R5.offset, { lsn: 7 });
    const { result } = scanBytes(withRecord(bytes, R6.offset, { lsn: 8 }), { skipCorrupt: true });
    expect(result.skipped).toHaveLength(2);
    const reports: CorruptionReport[] = [];
    const policy = new ReaderPolicy('skip-corrupt', (r) => reports.push(r));
    for (const d of result.skipped) policy.skipped(S1.name, d);
    expect(reports).toEqual([
      {
        segment: S1.name,
        offset: R2.offset,
        bytes: R3.offset - R2.offset,
        reason: 'checksum mismatch',
        kind: 'corruption',
        lsns: { from: 2, to: 2 },
        action: 'skipped',
      },
      {
        segment: S1.name,
        offset: R5.offset,
        bytes: 0,
        reason: 'LSN out of sequence: expected 5, found 7',
        kind: 'corruption',
        lsns: { from: 5, to: 6 },
        action: 'skipped',
      },
    ]);
  });
});

describe('ReaderPolicy: each report once', () => {
  it('a live segment read again does not report the same damage twice', () => {
    for (const mode of ['point-in-time', 'skip-corrupt'] as const) {
      const reports: CorruptionReport[] = [];
      const policy = new ReaderPolicy(mode, (r) => reports.push(r));
      const scan = scanOf(flipBit(SEG, R6.offset + 16));
      policy.end(S1, scan, false, 7);
      policy.end(S1, scan, false, 7);
      policy.gap(S21, 11);
      policy.gap(S21, 11);
      expect(
        reports.map((r) => [r.segment, r.offset]),
        mode,
      ).toEqual([
        [S1.name, R6.offset],
        [S21.name, 0],
      ]);
    }
  });

  it('without a handler, decides the same and throws nothing', () => {
    expect(new ReaderPolicy('point-in-time', undefined).gap(S21, 11)).toBe('stop');
    expect(new ReaderPolicy('skip-corrupt', undefined).badHeader(S21, 0, 40, 'bad', null)).toBe(
      'skip-segment',
    );
  });

  // Regression. docs/FORMAT.md "Reading": 'skip-corrupt' "reports each skipped region". A
  // segment after a gap whose header is also bad is two losses: the missing LSNs (the gap,
  // offset 0) and the segment itself (its bad header, offset 0 too). The policy keyed reports
  // by segment and offset, so the second was dropped: the LSNs of the unreadable segment were
  // lost without a report. SegmentWalk asks exactly this (gap 'go-on', then badHeader).
  it('two different losses at the same segment and offset are both reported', () => {
    const reports: CorruptionReport[] = [];
    const policy = new ReaderPolicy('skip-corrupt', (r) => reports.push(r));
    expect(policy.gap(S21, 11)).toBe('go-on');
    expect(policy.badHeader(S21, 0, 4096, 'bad segment header: bad magic', 31)).toBe('skip-segment');
    expect(reports.map((r) => r.lsns)).toEqual([
      { from: 11, to: 20 },
      { from: 21, to: 30 },
    ]);
  });
});
