/**
 * Segment lifecycle: rotation on demand, by size and by time; retention by count, bytes and
 * age (also under a reader mid-iteration); checkpoints and checkpoint-gated retention.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RECORD_HEADER_BYTES, SEGMENT_HEADER_BYTES } from '../../src/format/constants.js';
import { parseRecord } from '../../src/format/record.js';
import { decodeSegmentHeader } from '../../src/format/segment-header.js';
import {
  ErrorCode,
  openWal,
  readWal,
  type Wal,
  type WalEntry,
  type WalError,
  type WalOptions,
} from '../../src/index.js';
import { gapless, readAll } from '../helpers/read.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

let dir: string;
let wal: Wal | null = null;
afterEach(async () => {
  await wal?.close().catch(() => {});
  wal = null;
  removeDir(dir);
});

async function open(options?: WalOptions): Promise<Wal> {
  wal = await openWal(dir, options);
  return wal;
}

function segmentFiles(d: string): string[] {
  return fs
    .readdirSync(d)
    .filter((f) => /^wal-\d{16}-.*\.log$/.test(f))
    .sort();
}

/** Polls `check` until it holds (no timing is asserted: the test's own timeout bounds it). */
async function eventually(check: () => Promise<boolean> | boolean): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 20));
}

async function appendMany(w: Wal, count: number, inFlight = 256, value = (i: number): unknown => ({ i })) {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      await w.append(value(i));
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
}

describe('rotation', () => {
  it('rotate() seals the current segment and starts the next at the following LSN; an empty one is not rotated', async () => {
    dir = tempDir();
    const w = await open();
    await w.append('a');
    await w.append('b');
    await w.rotate();
    await w.rotate(); // nothing in the new segment: no-op
    await w.append('c');
    const segments = await w.segments();
    expect(segments.map((s) => [s.firstLsn, s.lastLsn, s.sealed])).toEqual([
      [1, 2, true],
      [3, 3, false],
    ]);
    expect(segments[0].bytes).toBeGreaterThan(SEGMENT_HEADER_BYTES);
    expect(segments[0].createdAt).toBeInstanceOf(Date);
    await w.close();
    expect((await readAll(dir)).map((e) => e.value)).toEqual(['a', 'b', 'c']);
  });

  it('keeps names unique and in LSN order however fast segments rotate', async () => {
    dir = tempDir();
    const w = await open();
    for (let i = 0; i < 300; i++) {
      await w.append(i);
      await w.rotate();
    }
    const names = segmentFiles(dir);
    expect(names).toHaveLength(301); // 300 sealed, and the empty one being written
    expect(new Set(names).size).toBe(301);
    const firsts = names.map((n) => Number(n.slice(4, 20)));
    expect(firsts).toEqual(Array.from({ length: 301 }, (_, i) => i + 1));
  });

  it('200,000 entries at 1024 in flight over 64 KiB segments: all read back in order, every segment starts with its header and a record', async () => {
    dir = tempDir();
    const w = await open({ segmentBytes: 64 * 1024 });
    await appendMany(w, 200_000, 1024, (i) => ({ op: 'set', key: `user:${i}`, value: { i } }));
    await w.close();
    const names = segmentFiles(dir);
    expect(names.length).toBeGreaterThan(50);
    expect([...names].sort()).toEqual(names);
    let expectedFirst = 1;
    for (const name of names) {
      const bytes = fs.readFileSync(path.join(dir, name));
      const header = decodeSegmentHeader(bytes);
      expect('invalid' in header).toBe(false);
      if ('invalid' in header) continue;
      expect(header.firstLsn).toBe(expectedFirst);
      expect(Number(name.slice(4, 20))).toBe(header.firstLsn);
      if (bytes.length === SEGMENT_HEADER_BYTES && name === names.at(-1)) continue; // rotated right at the end
      const first = parseRecord(bytes, SEGMENT_HEADER_BYTES, bytes.length, header.maxRecordBytes);
      expect(first).toMatchObject({ kind: 'record', lsn: header.firstLsn });
      // Count the segment's records to know where the next one must start.
      let at = SEGMENT_HEADER_BYTES;
      let last = 0;
      while (at + RECORD_HEADER_BYTES <= bytes.length) {
        const r = parseRecord(bytes, at, bytes.length, header.maxRecordBytes);
        if (r.kind !== 'record') break;
        last = r.lsn;
        at += r.size;
      }
      expect(at).toBe(bytes.length);
      expectedFirst = last + 1;
    }
    const entries = await readAll(dir);
    expect(entries).toHaveLength(200_000);
    expect(gapless(entries)).toBeNull();
    expect(entries[199_999].value).toEqual({ op: 'set', key: 'user:199999', value: { i: 199_999 } });
  }, 120_000);

  it('rotates by time, while idle and under load, with no timers on the main thread', async () => {
    dir = tempDir();
    const w = await open({ rotateIntervalMs: 100 });
    await w.append('idle');
    // Idle: the writer's own wait timeout rotates the segment holding 'idle'.
    await eventually(async () => (await w.segments()).length === 2);
    // An empty segment is never rotated, however long it waits.
    // Under load: appends for a while produce several segments.
    let stop = false;
    const load = (async () => {
      let i = 0;
      while (!stop) await w.append(i++);
    })();
    await eventually(async () => (await w.segments()).length >= 6);
    stop = true;
    await load;
    await w.close();
    expect(gapless(await readAll(dir))).toBeNull();
  }, 30_000);
});

describe('retention', () => {
  async function fill(w: Wal, segments: number): Promise<void> {
    for (let s = 0; s < segments; s++) {
      await Promise.all(Array.from({ length: 20 }, (_, i) => w.append({ s, i, pad: 'r'.repeat(100) })));
      await w.rotate();
    }
  }

  it('keeps at most maxSegments, deleting the oldest sealed ones', async () => {
    dir = tempDir();
    const w = await open({ retention: { maxSegments: 3 } });
    await fill(w, 6);
    const segments = await w.segments();
    expect(segments).toHaveLength(3);
    expect(segments.at(-1)!.sealed).toBe(false);
    const entries = await readAll(dir);
    expect(entries[0].lsn).toBe(segments[0].firstLsn);
    expect(entries.at(-1)!.lsn).toBe(w.lastLsn);
  });

  it('keeps at most maxBytes', async () => {
    dir = tempDir();
    const w = await open({ retention: { maxBytes: 10_000 } });
    await fill(w, 10);
    const segments = await w.segments();
    const total = segments.reduce((n, s) => n + s.bytes, 0);
    expect(total).toBeLessThanOrEqual(10_000);
    expect(segments.length).toBeGreaterThan(1);
  });

  it('deletes segments whose newest entry is older than maxAgeMs, and never the one being written', async () => {
    dir = tempDir();
    const w = await open({ retention: { maxAgeMs: 200 } });
    await fill(w, 3);
    await w.append('latest');
    await eventually(async () => (await w.segments()).length === 1);
    expect((await readAll(dir)).map((e) => e.value)).toEqual(['latest']);
  }, 30_000);

  it('lets a reader in the middle of a segment finish it, and reports one it had not reached', async () => {
    dir = tempDir();
    const w = await open({ retention: { maxSegments: 2 } });
    await fill(w, 3);
    const reader = readWal(dir)[Symbol.asyncIterator]();
    const first = await reader.next(); // the reader is now inside the oldest segment
    expect((first.value as WalEntry).lsn).toBe((await w.segments())[0].firstLsn);
    await fill(w, 3); // retention deletes everything the reader has not reached
    const seen = [first.value];
    let error: WalError | null = null;
    try {
      while (true) {
        const step = await reader.next();
        if (step.done) break;
        seen.push(step.value);
      }
    } catch (e) {
      error = e as WalError;
    }
    expect(seen.length).toBeGreaterThanOrEqual(1);
    expect(error?.code).toBe(ErrorCode.SEGMENT_DELETED);
  });
});

describe('checkpoints', () => {
  it('persists the checkpoint across reopen and refuses to go backwards', async () => {
    dir = tempDir();
    let w = await open();
    await Promise.all(Array.from({ length: 10 }, (_, i) => w.append(i)));
    expect(w.checkpointLsn).toBe(0);
    await w.checkpoint(7);
    expect(w.checkpointLsn).toBe(7);
    await expect(w.checkpoint(5)).rejects.toMatchObject({ code: ErrorCode.INVALID_OPTION });
    await expect(w.checkpoint(11)).rejects.toMatchObject({ code: ErrorCode.INVALID_OPTION });
    await w.close();
    w = await open();
    expect(w.checkpointLsn).toBe(7);
    await w.checkpoint(10);
    expect(w.checkpointLsn).toBe(10);
  });

  it('with requireCheckpoint deletes exactly the sealed segments wholly at or below the checkpoint', async () => {
    dir = tempDir();
    const w = await open({ retention: { requireCheckpoint: true, maxSegments: 1 } });
    for (let s = 0; s < 4; s++) {
      await Promise.all(Array.from({ length: 10 }, (_, i) => w.append({ s, i })));
      await w.rotate();
    }
    // maxSegments: 1 would delete everything sealed, but without a checkpoint nothing goes.
    expect(await w.segments()).toHaveLength(5);
    await w.checkpoint(25); // segments 1-10, 11-20 are wholly covered; 21-30 is not
    const segments = await w.segments();
    expect(segments.map((s) => s.firstLsn)).toEqual([21, 31, 41]);
    expect((await readAll(dir))[0].lsn).toBe(21);
  });
});
