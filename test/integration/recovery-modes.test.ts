/**
 * Byte mutators against the four recovery modes (issue #4, item 5), as LevelDB's
 * `log_test.cc` does: build one log, damage known bytes of it, and check from first
 * principles what each mode does with them:
 *
 *   (a) openWal: rejects with WAL_CORRUPT naming the file and offset and changes no byte, or
 *       opens at the right LSN with the right reports (also passed to `onCorruption`), keeps
 *       exactly the bytes it cut in `.torn-<offset>` / `.broken-<offset>` / `.broken`, and
 *       takes the next append at the next LSN;
 *   (b) readWal on the damaged directory (not reopened): the exact entries, reports, error;
 *   (c) recoverState: a sequential replay of what readWal delivered, or the same error.
 *
 * The log (LSN arithmetic: docs/FORMAT.md "Segment header", "Records"):
 *
 *   S1  LSN   1 ..  40     40 entries   ~3 KiB    sealed
 *   S2  LSN  41 .. 240    200 entries  ~12 KiB    sealed (room for a zeroed 4 KiB sector in the middle)
 *   S3  LSN 241 .. 280     40 entries   ~3 KiB    sealed (removed for the gap case)
 *   S4  LSN 281 .. 481    201 entries  ~12 KiB    the tail; LSN 481 is a 32-byte record, 31 cut points
 *
 * Each segment starts with the 40-byte header; each record is a 24-byte header, the payload,
 * and zero padding to a multiple of 8. Segments are cut with `wal.rotate()` rather than
 * `segmentBytes`, so that the sealed S2 and the tail are big enough to hold an aligned 4 KiB
 * sector with records on both sides. Offsets of records are found by walking the length
 * fields (test/helpers/log-bytes.ts), never by asking the code under test.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CorruptionReport,
  ErrorCode,
  openWal,
  type RecoveryMode,
  readWal,
  recoverState,
  type WalEntry,
  WalError,
} from '../../src/index.js';
import {
  type DirSnapshot,
  garbage,
  type LocatedRecord,
  locateRecords,
  REC,
  RECORD_HEADER,
  restoreDir,
  SEGMENT_HEADER,
  segmentNames,
  setU32,
  snapshotDir,
  zeroRange,
} from '../helpers/log-bytes.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const MODES: readonly RecoveryMode[] = ['strict', 'tolerate-tail', 'point-in-time', 'skip-corrupt'];

/** Entries per segment; a rotate() follows each but the last. */
const PLAN = [40, 200, 40, 200];
/** The value of entry `lsn` for LSN 1..480: sets, some deletes, some entries recoverState ignores. */
function valueAt(lsn: number): Record<string, unknown> {
  // Every fifth entry sets a key nothing else touches, so losing any of them changes the state.
  if (lsn % 5 === 0) return { op: 'set', key: `u${lsn}`, value: lsn };
  if (lsn % 11 === 0) return { plain: lsn };
  if (lsn % 7 === 0) return { op: 'delete', key: `k${lsn % 13}` };
  return { op: 'set', key: `k${lsn % 13}`, value: `v${lsn}` };
}
/**
 * The last entry, LSN 481: the string 'end', 4 payload bytes (fixstr), so a 32-byte record:
 * 24 header bytes, 4 payload bytes, 4 of padding; 31 cut points. (The smallest set() entry
 * is 48 bytes; each cut point costs four opens, so the last record is kept small.)
 */
const LAST_VALUE = 'end';
const LAST_LSN = 481;
/** What each successful open appends. */
const NEXT_VALUE = { op: 'set', key: 'after-reopen', value: 1 };

/** The whole-sector mutation: 4 KiB, 4 KiB-aligned, well inside S2 and S4. */
const SECTOR = { from: 4096, to: 8192 };
/** The sealed segment and the record in it that record mutations damage. */
const SEALED = 1;
const SEALED_LSN = 140;
/** The record in the middle of the tail that record mutations damage. */
const TAIL_LSN = 380;

const IN_PLACE = 'left in place; readers in skip-corrupt mode skip it';
const NOT_DELIVERED = 'not delivered: reading stops at the first damage';

interface Segment {
  name: string;
  firstLsn: number;
  lastLsn: number;
  bytes: Buffer;
  records: LocatedRecord[];
}

interface Layout {
  segments: Segment[];
  /** The clean log as read back, entry `lsn` at index `lsn - 1`. */
  entries: WalEntry[];
  snapshot: DirSnapshot;
}

/** The clean log, built once; every test works on its own copy. */
let L: Layout;

// ---------------------------------------------------------------------------------------------
// Expectations

/** Where WAL_CORRUPT must point: a segment's file name (its path in the test's directory) and an offset. */
interface Where {
  segment: string;
  offset: number;
}

interface Expected {
  open:
    | { error: Where }
    | {
        lastLsn: number;
        reports: unknown[];
        /** File name -> exact bytes, for every file open created. */
        copies: Record<string, Buffer>;
        /** LSNs a default-mode read delivers after the reopen (before the new append); null when open left damage in place. */
        clean: number[] | null;
      };
  read: { lsns: number[]; reports: unknown[]; error?: Where };
}

interface Mutation {
  /** Files to write (bytes) or remove (null), applied to the clean log. */
  files: Record<string, Buffer | null>;
  expect(mode: RecoveryMode): Expected;
}

interface Case {
  name: string;
  build(): Mutation;
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let lsn = from; lsn <= to; lsn++) out.push(lsn);
  return out;
}

function recordOf(segment: Segment, lsn: number): LocatedRecord {
  const found = segment.records.find((r) => r.lsn === lsn);
  if (!found) throw new Error(`LSN ${lsn} is not in ${segment.name}`);
  return found;
}

function segmentIndexOf(lsn: number): number {
  return L.segments.findIndex((s) => s.firstLsn <= lsn && lsn <= s.lastLsn);
}

const tail = (): Segment => L.segments[L.segments.length - 1];

function report(
  segment: Segment,
  offset: number,
  bytes: number,
  kind: CorruptionReport['kind'],
  lsns: CorruptionReport['lsns'],
  action: string,
  reason: RegExp | null = null,
): unknown {
  return {
    segment: segment.name,
    offset,
    bytes,
    reason: reason ? expect.stringMatching(reason) : expect.any(String),
    kind,
    lsns,
    action,
  };
}

/** Whether a record carries RecordFlag.SYNCED_BEFORE (byte 15 of its header, bit 0), read from the clean bytes. */
function syncMarked(segment: Segment, record: LocatedRecord): boolean {
  return (segment.bytes[record.offset + 15] & 1) === 1;
}

/**
 * Damage to the records with LSNs `from..to` of segment `s` (nothing else changed; the file
 * keeps its size). The walk stops at the first of them and the next valid record is the one
 * after `to`. In the tail the verdict is 'torn' unless a record marked as written after a
 * sync follows the damage, which proves the damaged bytes were synced: then it is 'corrupt'
 * (docs/FORMAT.md "How a segment's walk ends"). Every entry of this log is appended and
 * awaited one at a time, so every record is such a record.
 */
function recordDamage(
  s: number,
  from: number,
  to: number,
  mutated: Buffer,
  opts: { reason?: RegExp } = {},
): (mode: RecoveryMode) => Expected {
  const segment = L.segments[s];
  const isTail = s === L.segments.length - 1;
  const offset = recordOf(segment, from).offset;
  const after = segment.records.find((r) => r.lsn === to + 1);
  const next = after ? after.offset : -1;
  const size = mutated.length;
  const syncedAfter = segment.records.some((r) => r.lsn > to && syncMarked(segment, r));
  const torn = isTail && !syncedAfter;
  const reason = opts.reason ?? null;
  const everything = range(1, LAST_LSN);
  const before = range(1, from - 1);
  const skippedLsns = everything.filter((l) => l < from || l > to);
  const cut = (kind: CorruptionReport['kind']) => {
    const suffix = kind === 'torn-tail' ? 'torn' : 'broken';
    const copy = `${segment.name}.${suffix}-${offset}`;
    return {
      report: report(
        segment,
        offset,
        size - offset,
        kind,
        kind === 'torn-tail' ? null : { from, to: null },
        `truncated; the bytes are kept in ${copy}`,
        reason,
      ),
      copy: { [copy]: mutated.subarray(offset) },
    };
  };
  return (mode) => {
    let open: Expected['open'];
    let read: Expected['read'];
    if (mode === 'strict') open = { error: { segment: segment.name, offset } };
    else if (isTail) {
      if (mode === 'skip-corrupt' && next >= 0) {
        open = {
          lastLsn: LAST_LSN,
          reports: [report(segment, offset, next - offset, 'corruption', { from, to }, IN_PLACE, reason)],
          copies: {},
          clean: null,
        };
      } else if (torn || mode === 'point-in-time') {
        const c = cut(torn ? 'torn-tail' : 'corruption');
        open = { lastLsn: from - 1, reports: [c.report], copies: c.copy, clean: before };
      } else open = { error: { segment: segment.name, offset } };
    } else if (mode === 'point-in-time') {
      // Every later segment renamed aside (newest first), then this one cut.
      const later = L.segments.slice(s + 1).reverse();
      const c = cut('corruption');
      open = {
        lastLsn: from - 1,
        reports: [
          ...later.map((l) =>
            report(
              l,
              0,
              l.bytes.length,
              'corruption',
              { from: l.firstLsn, to: null },
              `renamed to ${l.name}.broken`,
              new RegExp(`after damage in ${segment.name}`),
            ),
          ),
          c.report,
        ],
        copies: { ...Object.fromEntries(later.map((l) => [`${l.name}.broken`, l.bytes])), ...c.copy },
        clean: before,
      };
    } else {
      // tolerate-tail and skip-corrupt read only the headers of sealed segments.
      open = { lastLsn: LAST_LSN, reports: [], copies: {}, clean: null };
    }

    if (mode === 'skip-corrupt') {
      read = {
        lsns: skippedLsns,
        reports: [
          report(
            segment,
            offset,
            (next >= 0 ? next : size) - offset,
            'corruption',
            { from, to },
            'skipped',
            reason,
          ),
        ],
      };
    } else if (torn) read = { lsns: before, reports: [] };
    else if (mode === 'point-in-time') {
      read = {
        lsns: before,
        reports: [
          report(segment, offset, size - offset, 'corruption', { from, to: null }, NOT_DELIVERED, reason),
        ],
      };
    } else read = { lsns: before, reports: [], error: { segment: segment.name, offset } };
    return { open, read };
  };
}

/**
 * The tail ends in bytes that are not a complete record and nothing valid follows them: a
 * torn tail. `strict` refuses it; every other mode cuts it at `offset` and keeps the bytes.
 * If those bytes are all zeros the end is clean (preallocated space): nothing happens.
 */
function tornTail(mutated: Buffer, offset: number, lastComplete: number): (mode: RecoveryMode) => Expected {
  const segment = tail();
  const rest = mutated.subarray(offset);
  const zeros = rest.every((b) => b === 0);
  const copy = `${segment.name}.torn-${offset}`;
  return (mode) => {
    let open: Expected['open'];
    if (zeros) open = { lastLsn: lastComplete, reports: [], copies: {}, clean: range(1, lastComplete) };
    else if (mode === 'strict') open = { error: { segment: segment.name, offset } };
    else {
      open = {
        lastLsn: lastComplete,
        reports: [
          report(segment, offset, rest.length, 'torn-tail', null, `truncated; the bytes are kept in ${copy}`),
        ],
        copies: { [copy]: rest },
        clean: range(1, lastComplete),
      };
    }
    // A reader cannot tell a torn tail from a write in progress: it is the end of the log, in every mode.
    return { open, read: { lsns: range(1, lastComplete), reports: [] } };
  };
}

/** A mutation of one segment's bytes at the LSN's record, by `change(bytes, recordOffset)`. */
function recordCase(
  name: string,
  lsn: number,
  change: (bytes: Buffer, at: number, record: LocatedRecord) => Buffer,
  reason?: RegExp,
): Case {
  return {
    name,
    build() {
      const s = segmentIndexOf(lsn);
      const segment = L.segments[s];
      const record = recordOf(segment, lsn);
      const mutated = change(segment.bytes, record.offset, record);
      return { files: { [segment.name]: mutated }, expect: recordDamage(s, lsn, lsn, mutated, { reason }) };
    },
  };
}

/** Flips bit `bit` of the byte `field` bytes into the record. */
const flip =
  (field: number, bit: number) =>
  (bytes: Buffer, at: number): Buffer => {
    const out = Buffer.from(bytes);
    out[at + field] ^= 1 << bit;
    return out;
  };

function recordCases(where: string, lsn: number): Case[] {
  return [
    // The length +/- 8 (still within the file): the checksum covers the length field.
    recordCase(`length bit flipped, ${where}`, lsn, flip(REC.length, 3), /checksum mismatch/),
    recordCase(`LSN bit flipped, ${where}`, lsn, flip(REC.lsnLow, 0), /checksum mismatch/),
    // FULL (1) becomes 5, not a record type.
    recordCase(`type bit flipped, ${where}`, lsn, flip(REC.type, 2), /bad record type 5/),
    recordCase(`payload bit flipped, ${where}`, lsn, flip(RECORD_HEADER + 5, 0), /checksum mismatch/),
    recordCase(`checksum bit flipped, ${where}`, lsn, flip(REC.crc + 1, 7), /checksum mismatch/),
    // 0xFFFFFFFF, over the header's maxRecordBytes (1 048 552 with the default 4 MiB ring).
    recordCase(
      `length claims 4 GiB, ${where}`,
      lsn,
      (b, at) => setU32(b, at + REC.length, 0xffffffff),
      /record length 4294967295 exceeds the 1048552-byte limit/,
    ),
  ];
}

/** Zeroes SECTOR in segment `s`: the records whose checked bytes (header + payload) meet it are damaged. */
function sectorCase(name: string, s: number): Case {
  return {
    name,
    build() {
      const segment = L.segments[s];
      const hit = segment.records.filter(
        (r) => r.offset < SECTOR.to && r.offset + RECORD_HEADER + r.length > SECTOR.from,
      );
      expect(hit.at(-1)!.lsn).toBeLessThan(segment.lastLsn); // records on both sides
      expect(hit[0].offset).toBeGreaterThan(SEGMENT_HEADER);
      const mutated = zeroRange(segment.bytes, SECTOR.from, SECTOR.to);
      return {
        files: { [segment.name]: mutated },
        expect: recordDamage(s, hit[0].lsn, hit.at(-1)!.lsn, mutated, {
          // A record that starts before the sector loses the end of its header (type 0) or payload.
          reason: /checksum mismatch|bad record type 0|zeros after the last entry/,
        }),
      };
    },
  };
}

const CASES: Case[] = [
  ...recordCases('middle of the tail', TAIL_LSN),
  ...recordCases('sealed segment', SEALED_LSN),
  // The last record of a sealed segment: nothing valid follows it in its file.
  recordCase('payload bit flipped, last record of a sealed segment', 240, flip(RECORD_HEADER + 5, 0)),
  sectorCase('4 KiB sector zeroed, middle of the tail', 3),
  sectorCase('4 KiB sector zeroed, sealed segment', SEALED),
  {
    name: 'garbage appended after the last record',
    build() {
      const t = tail();
      const mutated = Buffer.concat([t.bytes, garbage(100)]);
      return { files: { [t.name]: mutated }, expect: tornTail(mutated, t.bytes.length, LAST_LSN) };
    },
  },
  {
    name: 'length of the last record points past the end of the file',
    build() {
      const t = tail();
      const last = recordOf(t, LAST_LSN);
      // Under the bound, so the record is incomplete, not bad: the reader never reads past the file.
      const mutated = setU32(t.bytes, last.offset + REC.length, 1_000_000);
      return { files: { [t.name]: mutated }, expect: tornTail(mutated, last.offset, LAST_LSN - 1) };
    },
  },
  {
    name: 'a whole segment missing in the middle (gap)',
    build() {
      const [, s2, s3, s4] = L.segments;
      return {
        files: { [s3.name]: null },
        expect(mode) {
          // Point-in-time delivers nothing after the damage: its loss runs to the end of the log.
          const gapReport = (action: string) =>
            report(
              s4,
              0,
              0,
              'corruption',
              { from: s3.firstLsn, to: action === NOT_DELIVERED ? null : s3.lastLsn },
              action,
              /gap/,
            );
          let open: Expected['open'];
          if (mode === 'strict') open = { error: { segment: s4.name, offset: 0 } };
          else if (mode === 'point-in-time') {
            open = {
              lastLsn: s2.lastLsn,
              reports: [
                report(
                  s4,
                  0,
                  s4.bytes.length,
                  'corruption',
                  { from: s4.firstLsn, to: null },
                  `renamed to ${s4.name}.broken`,
                  /gap: expected a segment starting at LSN 241/,
                ),
              ],
              copies: { [`${s4.name}.broken`]: s4.bytes },
              clean: range(1, s2.lastLsn),
            };
          } else {
            // Only sealed headers are read: nothing tells this mode that S2 ends at 240.
            open = { lastLsn: LAST_LSN, reports: [], copies: {}, clean: null };
          }
          let read: Expected['read'];
          if (mode === 'skip-corrupt') {
            read = {
              lsns: [...range(1, s2.lastLsn), ...range(s4.firstLsn, LAST_LSN)],
              reports: [gapReport('skipped')],
            };
          } else if (mode === 'point-in-time') {
            read = { lsns: range(1, s2.lastLsn), reports: [gapReport(NOT_DELIVERED)] };
          } else read = { lsns: range(1, s2.lastLsn), reports: [], error: { segment: s4.name, offset: 0 } };
          return { open, read };
        },
      };
    },
  },
  {
    name: 'bad segment header on a sealed segment',
    build() {
      const [s1, s2, s3, s4] = L.segments;
      const mutated = Buffer.from(s2.bytes);
      mutated[0] ^= 0x01; // magic "RWAL" -> "SWAL"
      return {
        files: { [s2.name]: mutated },
        expect(mode) {
          let open: Expected['open'];
          if (mode === 'strict' || mode === 'tolerate-tail')
            open = { error: { segment: s2.name, offset: 0 } };
          else if (mode === 'point-in-time') {
            const renamed = (s: Segment, reason: RegExp) =>
              report(
                s,
                0,
                s.bytes.length,
                'corruption',
                { from: s.firstLsn, to: null },
                `renamed to ${s.name}.broken`,
                reason,
              );
            open = {
              lastLsn: s1.lastLsn,
              reports: [
                renamed(s4, /after damage in/),
                renamed(s3, /after damage in/),
                renamed(s2, /bad segment header: bad magic/),
              ],
              copies: {
                [`${s2.name}.broken`]: mutated,
                [`${s3.name}.broken`]: s3.bytes,
                [`${s4.name}.broken`]: s4.bytes,
              },
              clean: range(1, s1.lastLsn),
            };
          } else {
            open = {
              lastLsn: LAST_LSN,
              reports: [
                report(
                  s2,
                  0,
                  s2.bytes.length,
                  'corruption',
                  { from: s2.firstLsn, to: s2.lastLsn },
                  'left in place; readers in skip-corrupt mode skip the segment',
                  /bad segment header: bad magic/,
                ),
              ],
              copies: {},
              clean: null,
            };
          }
          // The next segment's name says where the loss ends (point-in-time: at the end of the log).
          const headerReport = (action: string) =>
            report(
              s2,
              0,
              s2.bytes.length,
              'corruption',
              { from: s2.firstLsn, to: action === NOT_DELIVERED ? null : s2.lastLsn },
              action,
              /bad segment header: bad magic/,
            );
          let read: Expected['read'];
          if (mode === 'skip-corrupt') {
            read = {
              lsns: [...range(1, s1.lastLsn), ...range(s3.firstLsn, LAST_LSN)],
              reports: [headerReport('skipped')],
            };
          } else if (mode === 'point-in-time') {
            read = { lsns: range(1, s1.lastLsn), reports: [headerReport(NOT_DELIVERED)] };
          } else read = { lsns: range(1, s1.lastLsn), reports: [], error: { segment: s2.name, offset: 0 } };
          return { open, read };
        },
      };
    },
  },
];

// ---------------------------------------------------------------------------------------------
// Building, applying and checking

async function buildLog(dir: string): Promise<void> {
  const wal = await openWal(dir);
  let lsn = 0;
  for (let s = 0; s < PLAN.length; s++) {
    for (let i = 0; i < PLAN[s]; i++) {
      const v = valueAt(++lsn);
      if (v.op === 'set') await wal.set(v.key as string, v.value);
      else if (v.op === 'delete') await wal.delete(v.key as string);
      else await wal.append(v);
    }
    if (s < PLAN.length - 1) await wal.rotate();
  }
  expect(await wal.append(LAST_VALUE)).toBe(LAST_LSN);
  await wal.close();
}

function layoutOf(dir: string, entries: WalEntry[]): Layout {
  const segments = segmentNames(dir).map((name) => {
    const bytes = fs.readFileSync(path.join(dir, name));
    const records = locateRecords(bytes);
    expect(records.at(-1)!.offset + records.at(-1)!.size).toBe(bytes.length); // closed: no zeros after
    return { name, firstLsn: records[0].lsn, lastLsn: records.at(-1)!.lsn, bytes, records };
  });
  return { segments, entries, snapshot: snapshotDir(dir) };
}

/** A fresh directory holding the clean log with `files` written over it (null: removed). */
function damagedDir(files: Record<string, Buffer | null>): { dir: string; damaged: DirSnapshot } {
  const dir = tempDir('ringwal-modes-');
  restoreDir(dir, L.snapshot);
  for (const [name, bytes] of Object.entries(files)) {
    if (bytes === null) fs.rmSync(path.join(dir, name));
    else fs.writeFileSync(path.join(dir, name), bytes);
  }
  return { dir, damaged: snapshotDir(dir) };
}

/** Names of files that differ between `dir` and `snapshot` (missing, extra, or other bytes). */
function changedFiles(dir: string, snapshot: DirSnapshot): string[] {
  const now = snapshotDir(dir);
  const names = new Set([...now.keys(), ...snapshot.keys()]);
  return [...names].filter(
    (n) => !now.get(n)?.equals(snapshot.get(n) ?? Buffer.alloc(0)) || !snapshot.has(n),
  );
}

interface ReadOutcome {
  entries: WalEntry[];
  reports: CorruptionReport[];
  error: WalError | null;
}

async function readIn(dir: string, mode: RecoveryMode, fromLsn = 1): Promise<ReadOutcome> {
  const out: ReadOutcome = { entries: [], reports: [], error: null };
  try {
    for await (const entry of readWal(dir, {
      fromLsn,
      recovery: mode,
      onCorruption: (r) => out.reports.push(r),
    }))
      out.entries.push(entry);
  } catch (e) {
    if (!(e instanceof WalError)) throw e;
    out.error = e;
  }
  return out;
}

/** The key-value state a sequential replay of `entries` gives. */
function replay(entries: WalEntry[]): Map<string, unknown> {
  const state = new Map<string, unknown>();
  for (const { value } of entries) {
    const entry = value as { op?: string; key?: unknown; value?: unknown };
    if (typeof entry?.key !== 'string') continue;
    if (entry.op === 'set') state.set(entry.key, entry.value);
    else if (entry.op === 'delete') state.delete(entry.key);
  }
  return state;
}

/** Entries equal the clean log's at `lsns` (LSN, ts and value); cheap on 481 entries, precise on a miss. */
function expectEntries(got: WalEntry[], lsns: number[]): void {
  expect(got.map((e) => e.lsn)).toEqual(lsns);
  const miss = got.findIndex((e, i) => !isDeepStrictEqual(e, L.entries[lsns[i] - 1]));
  if (miss >= 0) expect(got[miss]).toEqual(L.entries[lsns[miss] - 1]);
}

function corruptAt(dir: string, where: Where): unknown {
  return expect.objectContaining({
    code: ErrorCode.CORRUPT,
    path: path.join(dir, where.segment),
    offset: where.offset,
  });
}

/** (a) openWal in `mode` on `dir`, which holds `damaged`. */
async function checkOpen(
  dir: string,
  mode: RecoveryMode,
  damaged: DirSnapshot,
  want: Expected['open'],
): Promise<void> {
  const seen: CorruptionReport[] = [];
  let error: unknown = null;
  // No preallocation: recovery runs before the writer preallocates, and it saves each of the
  // ~200 opens here writing and syncing 1 MiB of zeros.
  const options = { recovery: mode, preallocate: false, onCorruption: (r: CorruptionReport) => seen.push(r) };
  const wal = await openWal(dir, options).catch((e: unknown) => {
    error = e;
    return null;
  });
  if ('error' in want) {
    await wal?.close();
    expect(error).toBeInstanceOf(WalError);
    expect(error).toEqual(corruptAt(dir, want.error));
    expect(changedFiles(dir, damaged)).toEqual([]); // every file byte for byte, and no new one
    return;
  }
  expect(error).toBeNull();
  try {
    expect(wal!.lastLsn).toBe(want.lastLsn);
    expect(wal!.recoveryReport.lastLsn).toBe(want.lastLsn);
    expect(wal!.recoveryReport.corruptions).toEqual(want.reports);
    expect(seen).toEqual(wal!.recoveryReport.corruptions);

    // The files open created hold exactly what it cut or renamed; renamed segments are gone.
    const created = fs
      .readdirSync(dir)
      .filter((n) => n !== 'LOCK' && !damaged.has(n))
      .sort();
    expect(created).toEqual(Object.keys(want.copies).sort());
    for (const [name, bytes] of Object.entries(want.copies)) {
      expect(fs.readFileSync(path.join(dir, name)).equals(bytes), `${name} holds the bytes set aside`).toBe(
        true,
      );
    }
    const kept = [...damaged.keys()].filter((n) => n.endsWith('.log') && !(`${n}.broken` in want.copies));
    expect(segmentNames(dir)).toEqual(kept.sort());

    expect(await wal!.append(NEXT_VALUE)).toBe(want.lastLsn + 1);
  } finally {
    await wal!.close();
  }

  // A cut segment keeps every byte before the cut; the new entry follows.
  for (const r of want.reports as CorruptionReport[]) {
    if (!r.action.startsWith('truncated')) continue;
    const now = fs.readFileSync(path.join(dir, r.segment));
    expect(now.subarray(0, r.offset).equals(damaged.get(r.segment)!.subarray(0, r.offset))).toBe(true);
  }
  const next = await readIn(dir, 'skip-corrupt', want.lastLsn + 1);
  expect(next.entries.map((e) => [e.lsn, e.value])).toEqual([[want.lastLsn + 1, NEXT_VALUE]]);
  if (want.clean) {
    // Nothing left in place: the default reader sees the survivors and the new entry.
    const all = await readIn(dir, 'tolerate-tail');
    expect(all.error).toBeNull();
    expectEntries(all.entries.slice(0, -1), want.clean);
    expect(all.entries.at(-1)).toMatchObject({ lsn: want.lastLsn + 1, value: NEXT_VALUE });
  }
}

/** (b) readWal in `mode` on `dir`, which holds `damaged`. */
async function checkRead(
  dir: string,
  mode: RecoveryMode,
  damaged: DirSnapshot,
  want: Expected['read'],
): Promise<void> {
  const got = await readIn(dir, mode);
  expectEntries(got.entries, want.lsns);
  expect(got.reports).toEqual(want.reports);
  if (want.error) expect(got.error).toEqual(corruptAt(dir, want.error));
  else expect(got.error).toBeNull();
  expect(changedFiles(dir, damaged)).toEqual([]); // a reader changes nothing
}

/** (c) recoverState in `mode`: a sequential replay of what readWal delivers in that mode, or its error. */
async function checkRecoverState(dir: string, mode: RecoveryMode): Promise<void> {
  const read = await readIn(dir, mode);
  const reports: CorruptionReport[] = [];
  let state: Map<string, unknown> | null = null;
  let error: unknown = null;
  try {
    state = await recoverState(dir, { recovery: mode, threads: 2, onCorruption: (r) => reports.push(r) });
  } catch (e) {
    error = e;
  }
  if (read.error) {
    expect(error).toEqual(
      expect.objectContaining({ code: read.error.code, path: read.error.path, offset: read.error.offset }),
    );
  } else {
    expect(error).toBeNull();
    expect(state).toEqual(replay(read.entries));
  }
  expect(reports).toEqual(read.reports);
}

// ---------------------------------------------------------------------------------------------

const checked = { open: 0, read: 0, recoverState: 0, cuts: 0 };
const started = Date.now();

beforeAll(async () => {
  const dir = tempDir('ringwal-modes-');
  try {
    await buildLog(dir);
    const entries: WalEntry[] = [];
    for await (const entry of readWal(dir)) entries.push(entry);
    L = layoutOf(dir, entries);
  } finally {
    removeDir(dir);
  }

  // The layout is what the header comment says.
  expect(L.segments.map((s) => [s.firstLsn, s.lastLsn])).toEqual([
    [1, 40],
    [41, 240],
    [241, 280],
    [281, LAST_LSN],
  ]);
  for (const s of L.segments) expect(s.records.map((r) => r.lsn)).toEqual(range(s.firstLsn, s.lastLsn));
  for (const s of [L.segments[1], L.segments[3]]) expect(s.bytes.length).toBeGreaterThan(SECTOR.to + 1024);
  expect(recordOf(tail(), LAST_LSN)).toMatchObject({ length: 4, size: 32 });
  expect(L.entries.map((e) => e.lsn)).toEqual(range(1, LAST_LSN));
  for (const e of L.entries) {
    if (e.lsn === LAST_LSN) {
      expect(e.value).toBe(LAST_VALUE);
      continue;
    }
    const v = valueAt(e.lsn);
    // set() and delete() add their own time to the value; other entries are stored as given.
    expect(e.value).toEqual(v.op ? { ...v, ts: expect.any(Number) } : v);
  }
  expect([...L.snapshot.keys()].filter((n) => n !== 'LOG_ID')).toEqual(L.segments.map((s) => s.name)); // nothing else: LOCK goes on close
}, 60_000);

afterAll(() => {
  const combos = CASES.length * MODES.length;
  console.log(
    `recovery-modes: ${CASES.length} mutations × ${MODES.length} modes = ${combos} combinations; ` +
      `checks passed: openWal ${checked.open}/${combos}, readWal ${checked.read}/${combos}, ` +
      `recoverState ${checked.recoverState}/${combos}; ` +
      `truncation: ${checked.cuts} (cut point × mode) checks; ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
});

// Every test has its own copy of the log, so they can run side by side.
describe.concurrent.each(CASES)('$name', (c) => {
  describe.each(MODES)('%s', (mode) => {
    const withDamage = async (check: (dir: string, m: Mutation, damaged: DirSnapshot) => Promise<void>) => {
      const m = c.build();
      const { dir, damaged } = damagedDir(m.files);
      try {
        await check(dir, m, damaged);
      } finally {
        removeDir(dir);
      }
    };
    it('openWal', () =>
      withDamage(async (dir, m, damaged) => {
        await checkOpen(dir, mode, damaged, m.expect(mode).open);
        checked.open++;
      }));
    it('readWal', () =>
      withDamage(async (dir, m, damaged) => {
        await checkRead(dir, mode, damaged, m.expect(mode).read);
        checked.read++;
      }));
    it('recoverState', () =>
      withDamage(async (dir) => {
        await checkRecoverState(dir, mode);
        checked.recoverState++;
      }));
  });
});

/**
 * Every cut point of the last record (LSN 481, 32 bytes at the end of the tail): the file
 * ends 1 to 31 bytes into it. Bytes 0-23 are its header, 24-27 its payload, 28-31 padding; a
 * cut leaves `cut` bytes of it, which are torn (or, if all zeros, look like preallocated
 * space: clean). One directory per cut and mode. recoverState starts a thread pool per call,
 * so it runs at the first cut of each kind (zeros only, in the header, before the payload, in
 * the payload, in the padding) rather than at all 31; openWal and readWal run at every cut.
 */
describe.concurrent.each(MODES)('the last record cut at every offset: %s', (mode) => {
  it('openWal, readWal and recoverState at each cut', async () => {
    const t = tail();
    const last = recordOf(t, LAST_LSN);
    const kinds = new Set<string>();
    for (let cut = 1; cut < last.size; cut++) {
      const cutBytes = t.bytes.subarray(0, last.offset + cut);
      const want = tornTail(cutBytes, last.offset, LAST_LSN - 1)(mode);
      const { dir, damaged } = damagedDir({ [t.name]: cutBytes });
      try {
        await checkRead(dir, mode, damaged, want.read);
        const kind = cutBytes.subarray(last.offset).every((b) => b === 0)
          ? 'zeros'
          : cut < RECORD_HEADER
            ? 'header'
            : cut === RECORD_HEADER
              ? 'no payload'
              : cut < RECORD_HEADER + last.length
                ? 'payload'
                : 'padding';
        if (!kinds.has(kind)) {
          kinds.add(kind);
          await checkRecoverState(dir, mode);
        }
        await checkOpen(dir, mode, damaged, want.open);
      } catch (e) {
        (e as Error).message = `cut ${cut} bytes into the last record: ${(e as Error).message}`;
        throw e;
      } finally {
        removeDir(dir);
      }
      checked.cuts++;
    }
    expect([...kinds].filter((k) => k !== 'zeros')).toEqual(['header', 'no payload', 'payload', 'padding']);
  }, 120_000);
});

describe('retention', () => {
  it('deletes old segments, a corrupt one included, and the log reads back clean', async () => {
    const dir = tempDir('ringwal-modes-');
    try {
      let wal = await openWal(dir, { segmentBytes: 4096 });
      for (let i = 1; i <= 300; i++) await wal.append({ i, pad: 'r'.repeat(40) });
      await wal.close();
      const before = segmentNames(dir);
      expect(before.length).toBeGreaterThanOrEqual(4);
      // Flip a payload bit of a record in the middle of the second segment (sealed).
      const corrupt = before[1];
      const bytes = fs.readFileSync(path.join(dir, corrupt));
      const records = locateRecords(bytes);
      const victim = records[records.length >> 1];
      bytes[victim.offset + RECORD_HEADER + 2] ^= 0x10;
      fs.writeFileSync(path.join(dir, corrupt), bytes);
      const bad = await readIn(dir, 'tolerate-tail');
      expect(bad.error).toEqual(corruptAt(dir, { segment: corrupt, offset: victim.offset }));

      // tolerate-tail reads only the headers of sealed segments, so it opens.
      wal = await openWal(dir, { segmentBytes: 4096, retention: { maxSegments: 2 } });
      expect(wal.lastLsn).toBe(300);
      expect(wal.recoveryReport.corruptions).toEqual([]);
      let lsn = 300;
      const seen = new Set(segmentNames(dir));
      // Append until two more segments have been started (so at least two rotations ran retention).
      while ([...new Set(segmentNames(dir))].filter((n) => !seen.has(n)).length < 2) {
        expect(await wal.append({ i: ++lsn })).toBe(lsn);
      }
      await wal.close();
      const after = segmentNames(dir);
      expect(after).toHaveLength(2);
      for (const old of before) expect(after).not.toContain(old);
      expect(
        fs.readdirSync(dir).filter((n) => !n.endsWith('.log') && n !== 'CHECKPOINT' && n !== 'LOG_ID'),
      ).toEqual([]);
      const clean = await readIn(dir, 'strict');
      expect(clean.error).toBeNull();
      expect(clean.reports).toEqual([]);
      const first = clean.entries[0].lsn;
      expect(clean.entries.map((e) => e.lsn)).toEqual(range(first, lsn));
      for (const e of clean.entries)
        expect(e.value).toEqual(e.lsn <= 300 ? { i: e.lsn, pad: 'r'.repeat(40) } : { i: e.lsn });
    } finally {
      removeDir(dir);
    }
  });
});
