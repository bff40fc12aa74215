/**
 * Fuzzed segment files (issue #5, item 6), in each recovery mode. Each case copies a real log
 * written by openWal (small segments, fragmented entries, a checkpoint) and damages one
 * segment with up to four mutations: flipped bytes, truncation, splices from other segments, a
 * record length set to anything (4 GiB included, with or without its CRC fixed up), zeroed
 * ranges, appended garbage or zeros, a random body or whole file, header fields changed (with
 * or without the header CRC fixed up), a payload byte changed under a fixed-up CRC, the file
 * deleted or renamed. The directory then goes to readWal, recoverState and openWal (+ one
 * append and close), all in the same mode. Each must return or throw a WalError with a known
 * code (WAL_CORRUPT naming file and offset), within a time bound, with no uncaught exception
 * or unhandled rejection in the process, and:
 * - LSNs read back increase; they are consecutive except in 'skip-corrupt' (gaps where damage
 *   was skipped);
 * - unless a mutation forged a record, every entry read back is exactly one that was appended
 *   (damage can only lose entries, never invent them), readWal and recoverState agree on
 *   whether the log can be read, and in 'point-in-time' and 'skip-corrupt' (which pass over
 *   damage) readWal, recoverState and openWal all succeed;
 * - a forged record whose payload is not MessagePack is WAL_CORRUPT in every mode;
 * - when readWal and recoverState both succeed, the state equals a sequential replay of what
 *   readWal read, and both reported damage in the same segments;
 * - when readWal and openWal both succeed, open continues after the last entry readWal read
 *   (docs/FORMAT.md: open cuts exactly what a reader in the same mode stops at or skips), and
 *   the log then reads back with the new entry; in 'strict', open succeeds only on a log
 *   readWal reads in full;
 * - readWal never asks for a read larger than the file it reads (a length field cannot
 *   drive an allocation), and RSS does not grow by more than MAX_RSS_GROWTH_MIB.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CorruptionReport, ErrorCode } from '../../src/index.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import {
  applyCase,
  buildTemplate,
  crc32c,
  expectLsnOrder,
  forges,
  MODES,
  openAppendClose,
  outcome,
  perMode,
  readEntries,
  recordOffsets,
  recover,
  replayState,
  rssMiB,
  type SegmentCase,
  seedFor,
  segmentCaseArb,
  type Template,
  watchReads,
  watchUncaught,
} from './fuzz-helpers.js';

/** Cases per mode (four modes): ~0.4 s each on a 2-core machine (a writer thread and a replay pool per case). */
const RUNS = perMode(12);
const FORGED_RUNS = perMode(6);
const MAX_RSS_GROWTH_MIB = 256;

/** A WalError message without the directory (paths differ from case to case). */
function reasonOf(message: string): string {
  return message.replace(/\/\S*\//g, '').slice(0, 90);
}

describe.each(MODES)('fuzzed segment files (recovery: %s)', (mode) => {
  let root: string;
  let template: Template;
  beforeAll(async () => {
    root = tempDir('ringwal-fuzz-seg-');
    template = await buildTemplate(path.join(root, 'template'));
  });
  afterAll(() => removeDir(root));

  /**
   * Runs `runs` cases. With `forging`, mutations may also forge valid records: their payloads
   * need not decode, which must then be WAL_CORRUPT like any other damage.
   */
  async function fuzz(forging: boolean, runs: number): Promise<void> {
    const work = path.join(root, forging ? 'forged' : 'case');
    const tally = {
      cases: 0,
      forged: 0,
      read: new Map<string, number>(),
      state: new Map<string, number>(),
      open: new Map<string, number>(),
    };
    const count = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
    const rssStart = rssMiB();
    let rssMax = rssStart;
    const reads = watchReads();
    const uncaught = watchUncaught();
    const reasons = new Set<string>();
    const seed = seedFor(forging ? 1 : 0, mode);
    // Damage is passed over (reported, not thrown) only in these modes.
    const passesOver = mode === 'point-in-time' || mode === 'skip-corrupt';
    const segmentsOf = (reports: CorruptionReport[]) => [...new Set(reports.map((r) => r.segment))].sort();
    try {
      await fc.assert(
        fc.asyncProperty(segmentCaseArb(forging), async (c: SegmentCase) => {
          const what = `${mode}: ${applyCase(template, work, c)}`;
          const forged = forges(c);
          tally.cases++;
          if (forged) tally.forged++;

          const readReports: CorruptionReport[] = [];
          const read = await outcome(`readWal [${what}]`, () =>
            readEntries(work, mode, undefined, readReports),
          );
          count(tally.read, read.ok ? 'ok' : read.code);
          if (!read.ok) reasons.add(`readWal: ${reasonOf(read.message)}`);
          if (read.ok) {
            expectLsnOrder(read.value, mode, `readWal [${what}]`);
            if (!forged) for (const e of read.value) expect(e.value).toEqual(template.values[e.lsn]);
          } else {
            expect(read.code).toBe(ErrorCode.CORRUPT);
            if (passesOver) expect(forged, `readWal [${what}]: ${read.message}`).toBe(true);
          }
          if (!passesOver) expect(readReports).toEqual([]);

          const stateReports: CorruptionReport[] = [];
          const state = await outcome(`recoverState [${what}]`, () => recover(work, mode, stateReports));
          count(tally.state, state.ok ? 'ok' : state.code);
          if (!state.ok) {
            expect(state.code).toBe(ErrorCode.CORRUPT);
            if (passesOver) expect(forged, `recoverState [${what}]: ${state.message}`).toBe(true);
          }
          if (!forged) {
            expect(state.ok, `readWal and recoverState disagree [${what}]`).toBe(read.ok);
          }
          if (state.ok && read.ok) {
            expect(state.value).toEqual(replayState(read.value));
            expect(segmentsOf(stateReports), `reports [${what}]`).toEqual(segmentsOf(readReports));
          }

          const open = await outcome(`openWal [${what}]`, () => openAppendClose(work, mode));
          count(tally.open, open.ok ? 'ok' : open.code);
          if (!open.ok) {
            reasons.add(`openWal: ${reasonOf(open.message)}`);
            expect(open.code).toBe(ErrorCode.CORRUPT);
            if (passesOver) expect(forged, `openWal [${what}]: ${open.message}`).toBe(true);
            return;
          }
          expect(open.value.appended).toBe(open.value.lastLsn + 1);
          if (mode === 'strict' && !forged) expect(read.ok, `strict open succeeded [${what}]`).toBe(true);
          if (read.ok && read.value.length > 0) {
            expect(open.value.lastLsn, `open's lastLsn [${what}]`).toBe(read.value.at(-1)!.lsn);
          }
          const after = await outcome(`readWal after open [${what}]`, () => readEntries(work, mode));
          if (!after.ok) {
            expect(after.code).toBe(ErrorCode.CORRUPT);
            if (passesOver) expect(forged, `readWal after open [${what}]: ${after.message}`).toBe(true);
          } else {
            expect(after.value.at(-1)?.lsn).toBe(open.value.appended);
            expectLsnOrder(after.value, mode, `readWal after open [${what}]`);
            if (!forged)
              for (const e of after.value.slice(0, -1)) expect(e.value).toEqual(template.values[e.lsn]);
          }
          rssMax = Math.max(rssMax, rssMiB());
        }),
        { numRuns: runs, seed },
      );
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      reads.restore();
      uncaught.restore();
    }
    const show = (m: Map<string, number>) => [...m].map(([k, v]) => `${k} ${v}`).join(', ');
    console.log(
      `fuzz segments${forging ? ' with forged records' : ''} (mode ${mode}, seed ${seed}): ` +
        `${tally.cases} cases (${tally.forged} forged a record)\n` +
        `  readWal: ${show(tally.read)}\n  recoverState: ${show(tally.state)}\n  openWal: ${show(tally.open)}\n` +
        `  largest readWal read: ${reads.largest()} B (excess over the file read: ${reads.excess()} B); ` +
        `RSS ${rssStart.toFixed(0)} -> max ${rssMax.toFixed(0)} MiB\n` +
        `  uncaught exceptions / unhandled rejections: ${uncaught.seen().length}\n` +
        `  some reasons given:\n    ${[...reasons].slice(0, 5).join('\n    ')}`,
    );
    expect(uncaught.seen()).toEqual([]);
    expect(reads.excess()).toBeLessThanOrEqual(0);
    expect(rssMax - rssStart).toBeLessThan(MAX_RSS_GROWTH_MIB);
  }

  it(`readWal, recoverState and openWal give WalErrors or exactly the entries appended (${RUNS} cases)`, async () => {
    await fuzz(false, RUNS);
  }, 120_000);

  it(`forged records (valid CRC over changed bytes) give WalErrors, never crashes or hangs (${FORGED_RUNS} cases)`, async () => {
    await fuzz(true, FORGED_RUNS);
  }, 120_000);

  // Regression: such a record used to escape readWal and recoverState as msgpackr's own Error.
  it('a record with a valid CRC whose payload is not MessagePack is WAL_CORRUPT naming the file and offset', async () => {
    const dir = path.join(root, 'not-msgpack');
    fs.rmSync(dir, { recursive: true, force: true });
    fs.cpSync(template.dir, dir, { recursive: true });
    const name = template.segments[1];
    const file = path.join(dir, name);
    const bytes = new Uint8Array(fs.readFileSync(file));
    const at = recordOffsets(bytes)[2];
    const view = new DataView(bytes.buffer);
    expect(view.getUint8(at + 14)).toBe(1); // FULL
    bytes[at + 24] = 0xc1; // "never used" in MessagePack; the entry's map header was here
    view.setUint32(at, crc32c(bytes, at + 4, at + 24 + view.getUint32(at + 4, true)), true);
    fs.writeFileSync(file, bytes);
    const uncaught = watchUncaught();
    try {
      const calls: [string, () => Promise<unknown>][] = [
        ['readWal', () => readEntries(dir, mode)],
        ['recoverState', () => recover(dir, mode)],
      ];
      for (const [what, work] of calls) {
        const got = await outcome(`${what} (${mode})`, work);
        expect(got.ok, what).toBe(false);
        if (got.ok) continue;
        expect(got.code).toBe(ErrorCode.CORRUPT);
        expect(got.path).toBe(file);
        expect(got.offset).toBe(at);
        expect(got.message).toMatch(/not valid MessagePack/);
      }
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      uncaught.restore();
    }
    expect(uncaught.seen()).toEqual([]);
  });
});

// Once a bug: readWal checked the LSN sequence before it saw that the last segment held nothing.
describe('an all-zero last segment out of LSN sequence', () => {
  it('is the end of the log for readWal, as for recoverState and openWal', async () => {
    const root = tempDir('ringwal-fuzz-zero-tail-');
    try {
      const dir = path.join(root, 'log');
      const template = await buildTemplate(dir, 3);
      // A segment whose header never reached the disk, named as if it started at LSN 2.
      fs.writeFileSync(path.join(dir, 'wal-0000000000000002-20260101-000000-000.log'), new Uint8Array(4096));
      const expected = replayState(template.values.slice(1).map((value) => ({ value })));
      for (const mode of ['strict', 'tolerate-tail'] as const) {
        expect(await recover(dir, mode)).toEqual(expected);
        const read = await outcome(`readWal (${mode})`, () => readEntries(dir, mode));
        expect(read.ok ? read.value.map((e) => e.lsn) : read.message).toEqual([1, 2, 3]);
      }
    } finally {
      removeDir(root);
    }
  });
});
