/**
 * Length fields that claim far more than the file holds (issue #5, item 6: "no allocation is
 * driven by a length field beyond maxEntryBytes"). A record's length is set to 4 GiB - 1,
 * 2 GiB, just under and just over the 1 GiB reader cap, just over the reader's own small
 * `maxEntryBytes`, or just past the end of the file; in a record of the tail, of a sealed
 * segment, and in the FIRST fragment of a large entry; with the segment header as written,
 * and with its size bounds forged to 4 GiB (header CRC fixed up), so that only the reader's
 * cap and the file's size stand between the length field and an allocation.
 *
 * Each case runs in every recovery mode and must end quickly, with no uncaught exception or
 * unhandled rejection. What readWal delivers (exactly as appended) is fixed by where the
 * damage is (docs/FORMAT.md "How a segment's walk ends"): the last record of the tail is a
 * torn tail, the end of the log in every mode (the entries before the damaged one); anywhere
 * else it is corruption: WAL_CORRUPT in 'strict' and 'tolerate-tail', the entries before it in
 * 'point-in-time', every entry but the damaged one in 'skip-corrupt'. recoverState equals a
 * replay of that. openWal continues after the same entry, except that 'tolerate-tail' and
 * 'skip-corrupt' do not walk sealed segments' records on open, and 'strict' refuses any
 * damage. readWal must never ask for a buffer larger than the file it reads (checked on every
 * FileHandle.read), and RSS must not jump. The writer's recovery scan (openWal) and
 * recoverState's workers read in other threads: for them the bound is checked through RSS and
 * the time bound.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, type RecoveryMode } from '../../src/index.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import {
  buildTemplate,
  crc32c,
  MODES,
  openAppendClose,
  outcome,
  readEntries,
  recordOffsets,
  recover,
  replayState,
  rssMiB,
  type Template,
  watchReads,
  watchUncaught,
} from './fuzz-helpers.js';

/** The reader's own cap in these cases: small next to the lengths claimed, above the template's largest entry (~21 KiB). */
const SMALL_MAX_ENTRY_BYTES = 32 * 1024;
const MAX_RSS_GROWTH_MIB = 128;

/**
 * What readWal delivers when the record holding entry `lsn` is damaged (of `last` entries), or
 * null for WAL_CORRUPT.
 */
function expectedRead(mode: RecoveryMode, torn: boolean, lsn: number, last: number): number[] | null {
  const before = Array.from({ length: lsn - 1 }, (_, i) => i + 1);
  if (torn || mode === 'point-in-time') return before;
  if (mode === 'skip-corrupt')
    return [...before, ...Array.from({ length: last - lsn }, (_, i) => lsn + 1 + i)];
  return null;
}

/** The lastLsn openWal must continue after, or null for WAL_CORRUPT. */
function expectedOpen(
  mode: RecoveryMode,
  inTail: boolean,
  torn: boolean,
  lsn: number,
  last: number,
): number | null {
  if (mode === 'strict') return null; // any damage, a torn tail included
  if (torn) return lsn - 1;
  if (mode === 'point-in-time') return lsn - 1;
  if (mode === 'skip-corrupt') return last;
  return inTail ? null : last; // 'tolerate-tail' reads only the sealed segments' headers
}

interface Target {
  label: string;
  segment: string;
  /** File offset of the record whose length is changed, and its LSN. */
  offset: number;
  lsn: number;
}

describe.each(MODES)('length fields claiming up to 4 GiB (recovery: %s)', (mode) => {
  let root: string;
  let template: Template;
  const targets: Target[] = [];
  beforeAll(async () => {
    root = tempDir('ringwal-fuzz-len-');
    template = await buildTemplate(path.join(root, 'template'));
    const segs = template.segments;
    const recordsOf = (name: string) => {
      const bytes = new Uint8Array(fs.readFileSync(path.join(template.dir, name)));
      const view = new DataView(bytes.buffer);
      return recordOffsets(bytes).map((offset) => ({
        offset,
        lsn: view.getUint32(offset + 8, true),
        type: view.getUint8(offset + 14),
      }));
    };
    const tail = recordsOf(segs.at(-1)!);
    const middle = tail[Math.floor(tail.length / 2)];
    targets.push({ label: 'tail, a middle record', segment: segs.at(-1)!, ...middle });
    const last = tail.at(-1)!;
    targets.push({ label: 'tail, the last record', segment: segs.at(-1)!, ...last });
    targets.push({ label: 'sealed, the first record', segment: segs[0], ...recordsOf(segs[0])[0] });
    for (const name of segs) {
      const first = recordsOf(name).find((r) => r.type === 2);
      if (first) {
        targets.push({ label: 'a FIRST fragment', segment: name, ...first });
        break;
      }
    }
    expect(targets).toHaveLength(4);
  });
  afterAll(() => removeDir(root));

  /** Copies the template with one record's length set to `length`, and the header's bounds forged if asked. */
  function damaged(target: Target, length: number | 'past-end', forgeHeader: boolean): string {
    const dir = path.join(root, 'case');
    fs.rmSync(dir, { recursive: true, force: true });
    fs.cpSync(template.dir, dir, { recursive: true });
    const file = path.join(dir, target.segment);
    const bytes = new Uint8Array(fs.readFileSync(file));
    const view = new DataView(bytes.buffer);
    const claim = length === 'past-end' ? bytes.length - target.offset - 24 + 8 : length;
    view.setUint32(target.offset + 4, claim, true);
    if (forgeHeader) {
      view.setUint32(24, 0xffffffff, true); // maxRecordBytes
      view.setUint32(28, 0xffffffff, true); // maxEntryBytes
      view.setUint32(36, crc32c(bytes, 0, 36), true);
    }
    fs.writeFileSync(file, bytes);
    return dir;
  }

  it('fail fast with WAL_CORRUPT or as a torn tail, and never allocate what the length claims', async () => {
    const lengths: (number | 'past-end')[] = [
      0xffffffff,
      0xfffffff8,
      0x80000000,
      0x3ffffff8,
      0x40000001,
      SMALL_MAX_ENTRY_BYTES + 1,
      'past-end',
    ];
    // Also through openWal and recoverState (a thread each), with the header's bounds forged:
    // then only the reader's cap and the file's size stand between the length and an allocation.
    const heavy = new Set<number | 'past-end'>([0xffffffff, 0x3ffffff8]);
    const tally = new Map<string, number>();
    const count = (key: string) => tally.set(key, (tally.get(key) ?? 0) + 1);
    const rssStart = rssMiB();
    let rssMax = rssStart;
    let cases = 0;
    const last = template.values.length - 1;
    const reads = watchReads();
    const uncaught = watchUncaught();
    try {
      for (const target of targets) {
        for (const length of lengths) {
          for (const forgeHeader of [false, true]) {
            const dir = damaged(target, length, forgeHeader);
            const what = `${target.label} (${target.segment} @${target.offset}, LSN ${target.lsn}): length ${length}${forgeHeader ? ', header bounds forged to 4 GiB' : ''}`;
            cases++;
            const inTail = target.segment === template.segments.at(-1);
            const torn = target.label === 'tail, the last record';
            const expected = expectedRead(mode, torn, target.lsn, last);
            let delivered: { lsn: number; value: unknown }[] | null = null;
            for (const cap of [undefined, SMALL_MAX_ENTRY_BYTES]) {
              const read = await outcome(`readWal cap ${cap} [${what}]`, () => readEntries(dir, mode, cap));
              count(`readWal: ${read.ok ? 'ok' : read.code}`);
              if (read.ok) {
                expect(read.value.map((e) => e.lsn)).toEqual(expected);
                for (const e of read.value) expect(e.value).toEqual(template.values[e.lsn]);
                delivered = read.value;
              } else {
                expect(read.code).toBe(ErrorCode.CORRUPT);
                expect(expected, `readWal cap ${cap} [${what}]: ${read.message}`).toBeNull();
              }
            }
            if (heavy.has(length) && forgeHeader) {
              const state = await outcome(`recoverState [${what}]`, () => recover(dir, mode));
              count(`recoverState: ${state.ok ? 'ok' : state.code}`);
              if (state.ok) expect(state.value).toEqual(replayState(delivered ?? []));
              else expect(state.code).toBe(ErrorCode.CORRUPT);
              expect(state.ok, `recoverState [${what}]`).toBe(expected !== null);
              const open = await outcome(`openWal [${what}]`, () =>
                openAppendClose(dir, mode, { maxEntryBytes: SMALL_MAX_ENTRY_BYTES }),
              );
              count(`openWal: ${open.ok ? 'ok' : open.code}`);
              const lastLsn = expectedOpen(mode, inTail, torn, target.lsn, last);
              if (open.ok) expect(open.value.lastLsn, `openWal [${what}]`).toBe(lastLsn);
              else {
                expect(open.code).toBe(ErrorCode.CORRUPT);
                expect(lastLsn, `openWal [${what}]: ${open.message}`).toBeNull();
              }
            }
            rssMax = Math.max(rssMax, rssMiB());
          }
        }
      }
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      reads.restore();
      uncaught.restore();
    }
    console.log(
      `fuzz length claims (mode ${mode}): ${cases} damaged logs (${targets.length} records x ${lengths.length} lengths x header as written / forged), ` +
        `each read with the default and a ${SMALL_MAX_ENTRY_BYTES} B cap; openWal and recoverState on ${targets.length * heavy.size} (header bounds forged)\n` +
        `  outcomes: ${[...tally].map(([k, v]) => `${k} ${v}`).join(', ')}\n` +
        `  largest readWal read ${reads.largest()} B (excess over the file read: ${reads.excess()} B); ` +
        `RSS ${rssStart.toFixed(0)} -> max ${rssMax.toFixed(0)} MiB; ` +
        `uncaught exceptions / unhandled rejections: ${uncaught.seen().length}`,
    );
    expect(uncaught.seen()).toEqual([]);
    expect(reads.excess()).toBeLessThanOrEqual(0);
    expect(rssMax - rssStart).toBeLessThan(MAX_RSS_GROWTH_MIB);
  }, 60_000);
});
