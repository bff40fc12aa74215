/**
 * readWal and recoverState walk a log's segments the same way (src/reader/segment-walk.ts), so
 * for the same damaged directory they must make the same corruption reports (segment, offset,
 * bytes, reason, kind, LSNs, action) and throw the same error (code, message, path, offset),
 * in every recovery mode, and recoverState's state must be a sequential replay of what readWal
 * delivered. The parallel reader (`threads`) is held to the same.
 *
 * Regression (issue #17): recoverState re-implemented the walk and drifted from it: for a
 * segment whose header names another first LSN than its file name, readers reported offset 8
 * ("the header says first LSN 1, the name says 2") and recoverState offset 0 ("bad segment
 * header: its first LSN does not match the name", or the scan's stop reason).
 *
 * The log: four segments cut with `wal.rotate()`, every entry appended and awaited alone (so
 * every record carries a sync mark, and damage in the middle of the tail is corruption, which
 * a reader confirms by reading the tail again). Byte offsets come from test/helpers/log-bytes.ts,
 * which walks the length fields without asking the code under test.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc32c } from '../../src/format/crc32c.js';
import {
  type CorruptionReport,
  openWal,
  type ReadOptions,
  type RecoveryMode,
  readWal,
  recoverState,
  type WalEntry,
  WalError,
} from '../../src/index.js';
import {
  type DirSnapshot,
  firstLsnOf,
  flipBit,
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
const PLAN = [30, 60, 30, 60];

function valueAt(lsn: number): Record<string, unknown> {
  if (lsn % 5 === 0) return { op: 'set', key: `u${lsn}`, value: lsn }; // a key nothing else touches
  if (lsn % 11 === 0) return { plain: lsn }; // not a key-value entry
  if (lsn % 7 === 0) return { op: 'delete', key: `k${lsn % 13}` };
  return { op: 'set', key: `k${lsn % 13}`, value: `v${lsn}` };
}

interface Segment {
  name: string;
  firstLsn: number;
  bytes: Buffer;
  records: LocatedRecord[];
}

let segments: Segment[];
let clean: DirSnapshot;

/** Files to write over the clean log (null: remove it). */
type Files = Record<string, Buffer | null>;

/** The name segment `s` would have if it started at `lsn` (same creation time). */
function renamed(s: Segment, lsn: number): string {
  return s.name.replace(/^wal-\d{16}/, `wal-${String(lsn).padStart(16, '0')}`);
}

/** A copy of `bytes` whose (valid) header says `firstLsn` (docs/FORMAT.md "Segment header": f64 at 8, CRC32C of [0, 36) at 36). */
function withHeaderFirstLsn(bytes: Buffer, firstLsn: number): Buffer {
  const out = Buffer.from(bytes);
  out.writeDoubleLE(firstLsn, 8);
  out.writeUInt32LE(crc32c(out, 0, 36), 36);
  return out;
}

/** The record of `lsn` in segment `s`. */
function at(s: Segment, lsn: number): LocatedRecord {
  const found = s.records.find((r) => r.lsn === lsn);
  if (!found) throw new Error(`LSN ${lsn} is not in ${s.name}`);
  return found;
}

const CASES: { name: string; files(): Files; check?: (mode: RecoveryMode, got: Outcome) => void }[] = [
  {
    // No segment before it, so no gap check: the readers read it, then judge its header.
    name: 'first segment renamed: its header says first LSN 1, its name 2',
    files: () => ({ [segments[0].name]: null, [renamed(segments[0], 2)]: segments[0].bytes }),
    check(mode, got) {
      const reason = 'the header says first LSN 1, the name says 2';
      if (mode === 'strict' || mode === 'tolerate-tail') {
        expect(got.error).toMatchObject({ offset: 8, message: expect.stringContaining(reason) });
      } else expect(got.reports[0]).toMatchObject({ segment: renamed(segments[0], 2), offset: 8, reason });
    },
  },
  {
    name: 'sealed segment whose valid header names another first LSN',
    files: () => ({ [segments[1].name]: withHeaderFirstLsn(segments[1].bytes, 1000) }),
    check(mode, got) {
      if (mode === 'point-in-time' || mode === 'skip-corrupt') {
        expect(got.reports[0]).toMatchObject({ offset: 8, reason: expect.stringMatching(/first LSN 1000/) });
      }
    },
  },
  {
    name: 'tail whose valid header names another first LSN',
    files: () => ({ [segments[3].name]: withHeaderFirstLsn(segments[3].bytes, segments[3].firstLsn + 1) }),
  },
  {
    name: 'bad magic, sealed segment',
    files: () => ({ [segments[1].name]: flipBit(segments[1].bytes, 0) }),
  },
  {
    name: 'bad header checksum, the tail (records follow it)',
    files: () => ({ [segments[3].name]: flipBit(segments[3].bytes, 36, 3) }),
  },
  {
    // A file system that lost the tail's blocks: no entry, the end of the log.
    name: 'the tail all zeros',
    files: () => ({ [segments[3].name]: Buffer.alloc(segments[3].bytes.length) }),
  },
  {
    name: 'the tail all zeros, after a missing segment',
    files: () => ({ [segments[2].name]: null, [segments[3].name]: Buffer.alloc(4096) }),
  },
  {
    name: 'a missing segment (gap)',
    files: () => ({ [segments[2].name]: null }),
  },
  {
    name: 'a segment that starts before the previous one ends (overlap)',
    files: () => ({
      [segments[2].name]: null,
      [renamed(segments[2], segments[2].firstLsn - 5)]: segments[2].bytes,
    }),
  },
  {
    name: 'payload bit flipped, sealed segment',
    files: () => {
      const s = segments[1];
      return { [s.name]: flipBit(s.bytes, at(s, s.firstLsn + 20).offset + RECORD_HEADER + 3) };
    },
  },
  {
    name: 'payload bit flipped, last record of a sealed segment',
    files: () => {
      const s = segments[2];
      return { [s.name]: flipBit(s.bytes, s.records.at(-1)!.offset + RECORD_HEADER + 3) };
    },
  },
  {
    // Synced records follow: corruption, confirmed by reading the tail again.
    name: 'payload bit flipped, middle of the tail',
    files: () => {
      const s = segments[3];
      return { [s.name]: flipBit(s.bytes, at(s, s.firstLsn + 20).offset + RECORD_HEADER + 3) };
    },
  },
  {
    name: 'records zeroed, middle of a sealed segment',
    files: () => {
      const s = segments[1];
      return { [s.name]: zeroRange(s.bytes, at(s, s.firstLsn + 10).offset, at(s, s.firstLsn + 14).offset) };
    },
  },
  {
    name: 'length claims 4 GiB, middle of the tail',
    files: () => {
      const s = segments[3];
      return { [s.name]: setU32(s.bytes, at(s, s.firstLsn + 30).offset + REC.length, 0xffffffff) };
    },
  },
  {
    name: 'garbage after the last record (a torn tail)',
    files: () => ({ [segments[3].name]: Buffer.concat([segments[3].bytes, garbage(100)]) }),
  },
  {
    name: 'the last record cut short (a torn tail)',
    files: () => ({ [segments[3].name]: segments[3].bytes.subarray(0, segments[3].bytes.length - 5) }),
  },
];

interface Outcome {
  entries: WalEntry[];
  reports: CorruptionReport[];
  error: { code: string; message: string; path?: string; offset?: number } | null;
}

function errorOf(e: unknown): Outcome['error'] {
  if (!(e instanceof WalError)) throw e;
  return { code: e.code, message: e.message, path: e.path, offset: e.offset };
}

async function read(dir: string, options: ReadOptions): Promise<Outcome> {
  const out: Outcome = { entries: [], reports: [], error: null };
  try {
    for await (const entry of readWal(dir, { ...options, onCorruption: (r) => out.reports.push(r) }))
      out.entries.push(entry);
  } catch (e) {
    out.error = errorOf(e);
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

beforeAll(async () => {
  const dir = tempDir('ringwal-same-');
  try {
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
    await wal.close();
    clean = snapshotDir(dir);
    segments = segmentNames(dir).map((name) => {
      const bytes = clean.get(name)!;
      return { name, firstLsn: firstLsnOf(name), bytes, records: locateRecords(bytes) };
    });
  } finally {
    removeDir(dir);
  }
  expect(segments.map((s) => [s.firstLsn, s.records.length])).toEqual([
    [1, 30],
    [31, 60],
    [91, 30],
    [121, 60],
  ]);
  for (const s of segments) expect(s.records[0].offset).toBe(SEGMENT_HEADER);
}, 60_000);

const compared = { combinations: 0, reports: 0, errors: 0 };
afterAll(() => {
  console.log(
    `same-reports: ${CASES.length} mutations × ${MODES.length} modes = ${compared.combinations} combinations ` +
      `compared (readWal, readWal with threads, recoverState); ${compared.reports} reports, ${compared.errors} errors`,
  );
});

describe.concurrent.each(CASES)('$name', (c) => {
  it.each(MODES)('%s: recoverState reports and throws what readWal does', async (mode) => {
    const dir = tempDir('ringwal-same-');
    try {
      restoreDir(dir, clean);
      for (const [name, bytes] of Object.entries(c.files())) {
        if (bytes === null) fs.rmSync(path.join(dir, name));
        else fs.writeFileSync(path.join(dir, name), bytes);
      }
      const sequential = await read(dir, { recovery: mode });
      c.check?.(mode, sequential);

      const parallel = await read(dir, { recovery: mode, threads: 2, bufferBytes: 64 * 1024 });
      expect(parallel.reports).toEqual(sequential.reports);
      expect(parallel.error).toEqual(sequential.error);
      expect(parallel.entries).toEqual(sequential.entries);

      const reports: CorruptionReport[] = [];
      let state: Map<string, unknown> | null = null;
      let error: Outcome['error'] = null;
      try {
        state = await recoverState(dir, { recovery: mode, threads: 2, onCorruption: (r) => reports.push(r) });
      } catch (e) {
        error = errorOf(e);
      }
      expect(reports).toEqual(sequential.reports);
      expect(error).toEqual(sequential.error);
      if (!error) expect(state).toEqual(replay(sequential.entries));

      compared.combinations++;
      compared.reports += reports.length;
      if (error) compared.errors++;
    } finally {
      removeDir(dir);
    }
  });
});
