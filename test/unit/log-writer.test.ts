/**
 * The writer's logic driven in-process, one `step()` at a time, on a file system that records
 * (and can fail) every call: group commit, the order of durable steps, sync modes, rotation,
 * and the sticky failure.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encode } from '../../src/encoding.js';
import { ErrorCode, type WalError } from '../../src/errors.js';
import { nodeFs } from '../../src/fs.js';
import { DEFAULTS } from '../../src/options.js';
import { recoverOnOpen } from '../../src/recovery/open-scan.js';
import {
  COMMAND,
  COMMAND_CLOSE,
  createRing,
  DURABLE_LSN,
  ERROR_SET,
  ERROR_STATE,
  ROTATE_REQUEST,
  ringViews,
  SYNC_DONE,
  SYNC_REQUEST,
  WRITTEN_LSN,
} from '../../src/ring/layout.js';
import { RingProducer } from '../../src/ring/producer.js';
import { LogWriter, type WriterConfig } from '../../src/writer/log-writer.js';
import { readAll } from '../helpers/read.js';
import { type RecordingFs, recordingFs } from '../helpers/recording-fs.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

let dir: string;
afterEach(() => removeDir(dir));

function setup(overrides: Partial<WriterConfig> = {}, now: () => number = Date.now) {
  dir = tempDir('ringwal-writer-');
  const sab = createRing(64 * 1024);
  const fsys = recordingFs();
  const config: WriterConfig = {
    dir,
    sync: 'always',
    syncIntervalMs: 100,
    segmentBytes: 1024 * 1024,
    maxEntryBytes: 1024 * 1024,
    maxRecordBytes: 16 * 1024 - 24,
    maxBatchBytes: 32 * 1024,
    idleWaitMs: 0,
    rotateIntervalMs: 0,
    retention: { ...DEFAULTS.retention },
    preallocate: false,
    ...overrides,
  };
  const writer = new LogWriter(fsys, sab, config, now);
  writer.open();
  const producer = new RingProducer(sab);
  const ring = ringViews(sab);
  let lsn = 0;
  const append = (...values: unknown[]) => {
    for (const value of values) {
      const e = encode(value);
      lsn++;
      expect(producer.write(e, e.start, e.end, e.start, lsn)).toBe(e.end);
    }
    producer.publish();
  };
  const durable = () => Number(Atomics.load(ring.lsns, DURABLE_LSN));
  const written = () => Number(Atomics.load(ring.lsns, WRITTEN_LSN));
  return { writer, fsys, ring, append, durable, written };
}

function ops(fsys: RecordingFs, from = 0): string[] {
  return fsys.calls.slice(from).map((c) => `${c.op} ${c.file}`);
}

describe('LogWriter', () => {
  it('creates the first segment durably before anything else: draft, header sync, rename, directory sync', () => {
    const { fsys } = setup();
    const seq = ops(fsys).filter((o) => !o.startsWith('open ') || o.includes('.log'));
    // (The directory's own open is filtered out; its fsync ends each file's creation.) Then
    // the log's identity, the same way: a synced draft renamed into place, the directory synced.
    expect(seq.map((o) => o.split(' ')[0])).toEqual([
      'open',
      'writev',
      'fdatasync',
      'rename',
      'fsync',
      'writev',
      'fsync',
      'rename',
      'fsync',
    ]);
    expect(seq[7]).toMatch(/LOG_ID\.tmp -> .*LOG_ID$/);
    expect(seq[0]).toMatch(/wal-0000000000000001-.*\.log\.tmp$/);
  });

  it('commits everything published before a step in one writev and one fdatasync', () => {
    const { writer, fsys, append, durable } = setup();
    const before = fsys.calls.length;
    append(...Array.from({ length: 100 }, (_, i) => ({ i })));
    writer.step();
    expect(ops(fsys, before).map((o) => o.split(' ')[0])).toEqual(['writev', 'fdatasync']);
    expect(durable()).toBe(100);
  });

  it('marks the first record after each sync, and open tells damage before a mark (corrupt) from damage after the last (torn)', async () => {
    const { writer, append } = setup();
    append(...Array.from({ length: 10 }, (_, i) => ({ batch: 1, i })));
    writer.step();
    append(...Array.from({ length: 10 }, (_, i) => ({ batch: 2, i })));
    writer.step();
    const [file] = fs.readdirSync(dir).filter((f) => f.endsWith('.log'));
    const clean = fs.readFileSync(path.join(dir, file));
    // Walk the records: 40-byte segment header, then 24-byte headers, payloads padded to 8.
    const offsets: number[] = [];
    for (let at = 40; at < clean.length && clean.readUInt32LE(at + 4) > 0; ) {
      offsets.push(at);
      at += Math.ceil((24 + clean.readUInt32LE(at + 4)) / 8) * 8;
    }
    expect(offsets).toHaveLength(20);
    const marked = offsets.map((at) => clean[at + 15]);
    expect(marked).toEqual(offsets.map((_, i) => (i === 0 || i === 10 ? 1 : 0)));
    writer.step(); // idle
    const damageAt = async (index: number) => {
      const bytes = Buffer.from(clean);
      bytes[offsets[index] + 30] ^= 1; // a payload bit
      fs.writeFileSync(path.join(dir, file), bytes);
      for (const f of fs.readdirSync(dir)) if (/\.(torn|broken)-/.test(f)) fs.rmSync(path.join(dir, f));
      try {
        return recoverOnOpen(nodeFs, dir, 'tolerate-tail');
      } catch (e) {
        return e as WalError;
      }
    };
    // In the first batch: the second batch's first record was written after a sync that made it durable.
    const corrupt = (await damageAt(4)) as WalError;
    expect(corrupt.code).toBe(ErrorCode.CORRUPT);
    expect(corrupt.offset).toBe(offsets[4]);
    // In the last batch, after its marked first record: an interrupted write, cut as a torn tail.
    const torn = (await damageAt(14)) as { lastLsn: number; corruptions: { kind: string; offset: number }[] };
    expect(torn.lastLsn).toBe(14);
    expect(torn.corruptions).toEqual([expect.objectContaining({ kind: 'torn-tail', offset: offsets[14] })]);
  });

  it("with sync 'none' writes without fdatasync until a sync is requested", () => {
    const { writer, fsys, ring, append, durable, written } = setup({ sync: 'none' });
    const before = fsys.calls.length;
    append('a', 'b');
    writer.step();
    expect(ops(fsys, before).map((o) => o.split(' ')[0])).toEqual(['writev']);
    expect([written(), durable()]).toEqual([2, 0]);
    Atomics.store(ring.control, SYNC_REQUEST, 1);
    writer.step();
    expect(ops(fsys, before).map((o) => o.split(' ')[0])).toEqual(['writev', 'fdatasync']);
    expect(durable()).toBe(2);
    expect(Atomics.load(ring.control, SYNC_DONE)).toBe(1);
  });

  it("with sync 'interval' fdatasyncs once the interval has passed, even when idle", () => {
    let clock = 0;
    const { writer, append, durable, written } = setup({ sync: 'interval', syncIntervalMs: 50 }, () => clock);
    append('a');
    writer.step();
    expect([written(), durable()]).toEqual([1, 0]);
    clock = 49;
    writer.step();
    expect(durable()).toBe(0);
    clock = 50;
    writer.step();
    expect(durable()).toBe(1);
  });

  it('does not sleep through a burst published between its last look at the ring and its wait', () => {
    // Regression: the writer once slept on a fresh load of WRITE_POS, so entries published
    // in that window waited out the whole idle timeout. The window is forced open by a clock
    // that publishes when the writer reads it on its way to sleep; every wait is recorded.
    let trap: (() => void) | null = null;
    const clock = () => {
      const spring = trap;
      trap = null;
      spring?.();
      return 0;
    };
    const { writer, append, written } = setup({ sync: 'interval', syncIntervalMs: 3_600_000 }, clock);
    append('a');
    writer.step();
    expect(written()).toBe(1);
    const realWait = Atomics.wait.bind(Atomics);
    const outcomes: string[] = [];
    const spy = vi.spyOn(Atomics, 'wait').mockImplementation((...args: Parameters<typeof Atomics.wait>) => {
      const outcome = realWait(...args);
      outcomes.push(outcome);
      return outcome;
    });
    try {
      trap = () => append('b');
      writer.step(50);
      writer.step(50);
    } finally {
      spy.mockRestore();
    }
    expect(outcomes).not.toContain('timed-out');
    expect(written()).toBe(2);
  });

  it('rotates at an entry boundary past segmentBytes: old segment synced, new one durable before its records', () => {
    const { writer, fsys, append } = setup({ segmentBytes: 4096 });
    for (let round = 0; round < 10; round++) {
      append(...Array.from({ length: 10 }, (_, i) => ({ round, i, pad: 'x'.repeat(40) })));
      writer.step();
    }
    const seq = ops(fsys);
    const isSegmentRename = (o: string): boolean => o.startsWith('rename') && o.endsWith('.log');
    const firstRename = seq.findIndex(isSegmentRename);
    const secondRename = seq.findIndex((o, i) => i > firstRename && isSegmentRename(o));
    expect(secondRename).toBeGreaterThan(firstRename);
    // Before the second segment is renamed into place, the first is fdatasync'd and the new
    // draft's header too; the directory is synced before any record goes to the new file.
    const newName = seq[secondRename].split(' -> ')[1];
    const before = seq.slice(firstRename + 1, secondRename);
    expect(before.filter((o) => o.startsWith('fdatasync')).length).toBeGreaterThanOrEqual(2);
    const firstWriteToNew = seq.indexOf(`writev ${newName}`);
    const dirSync = seq.findIndex((o, i) => i > secondRename && o.startsWith('fsync'));
    expect(dirSync).toBeGreaterThan(secondRename);
    expect(firstWriteToNew).toBeGreaterThan(dirSync);
  });

  it('poisons on an fdatasync failure: the error is published, and nothing more is acknowledged', async () => {
    const { writer, fsys, ring, append, durable } = setup();
    append('ok');
    writer.step();
    expect(durable()).toBe(1);
    fsys.failNext('fdatasyncSync', 'EIO');
    append('doomed');
    writer.step();
    expect(Atomics.load(ring.control, ERROR_STATE)).toBe(ERROR_SET);
    const error = JSON.parse(
      new TextDecoder().decode(ring.errorArea.slice(0, Atomics.load(ring.control, 21))),
    );
    expect(error).toMatchObject({ code: ErrorCode.FSYNC_FAILED, errno: 'EIO' });
    // The file system works again, but the writer never syncs or acknowledges again.
    const before = fsys.calls.length;
    append('after');
    writer.step();
    Atomics.store(ring.control, SYNC_REQUEST, 5);
    writer.step();
    expect(ops(fsys, before)).toEqual([]);
    expect(durable()).toBe(1);
    Atomics.or(ring.control, COMMAND, COMMAND_CLOSE);
    expect(writer.step()).toBe(false);
    expect((await readAll(dir)).map((e) => e.value).slice(0, 1)).toEqual(['ok']);
  });

  it('preallocates synced zeros ahead of the write position, and trims them off a sealed or closed segment', async () => {
    const { writer, fsys, ring, append } = setup({ preallocate: true, segmentBytes: 64 * 1024 });
    append('a', 'b');
    writer.step();
    const sizeOf = (name: string) => fs.statSync(path.join(dir, name)).size;
    const names = () =>
      fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.log'))
        .sort();
    const [first] = names();
    // The zeros were written and fdatasync'd (a sync follows the zero-fill write).
    expect(sizeOf(first)).toBeGreaterThanOrEqual(64 * 1024);
    const zeroFill = fsys.calls.findIndex((c) => c.op === 'writev' && (c.bytes ?? 0) >= 32 * 1024);
    expect(zeroFill).toBeGreaterThan(0);
    expect(fsys.calls[zeroFill + 1]).toMatchObject({ op: 'fdatasync', file: first });
    // Commits land in the preallocated space: the file does not grow.
    const before = sizeOf(first);
    append('c', 'd');
    writer.step();
    expect(sizeOf(first)).toBe(before);
    expect((await readAll(dir)).map((e) => e.value)).toEqual(['a', 'b', 'c', 'd']);
    // Rotation seals the segment at exactly its data; close trims the last one.
    Atomics.store(ring.control, ROTATE_REQUEST, 1);
    writer.step();
    append('e');
    writer.step();
    Atomics.or(ring.control, COMMAND, COMMAND_CLOSE);
    while (writer.step()) {
      // until stopped
    }
    for (const name of names()) {
      const bytes = fs.readFileSync(path.join(dir, name));
      expect(bytes.at(-1)).not.toBe(undefined);
      expect(bytes.subarray(-8).some((b) => b !== 0) || bytes.length === 40).toBe(true);
    }
    expect(names()).toHaveLength(2);
    expect((await readAll(dir)).map((e) => e.value)).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('stops zero-filling while commits are large (the file grows instead), and resumes once they are small', async () => {
    const { writer, fsys, append } = setup({ preallocate: true, segmentBytes: 2 * 1024 * 1024 });
    const draft = path.join(dir, 'wal-next.tmp');
    const zeroFills = () =>
      fsys.calls.filter((c) => c.op === 'writev' && (c.bytes ?? 0) >= 256 * 1024).length;
    const big = { pad: 'x'.repeat(3000) };
    for (let k = 0; k < 10; k++) append(big);
    writer.step();
    const atStart = zeroFills(); // the first step, zero-filled when the segment was opened
    // Commits of ~30 KiB each: zeros would cost more than they save.
    for (let batch = 1; batch < 40; batch++) {
      for (let k = 0; k < 10; k++) append(big);
      writer.step();
      writer.step(0); // idle moments too: housekeeping must not zero-fill either
    }
    const afterBig = zeroFills();
    // Past half the segment, but the next segment's draft (zero-filled too) is not prepared.
    expect(fs.existsSync(draft)).toBe(false);
    const segment = fs.readdirSync(dir).find((f) => f.endsWith('.log'))!;
    const size = fs.statSync(path.join(dir, segment)).size;
    expect(size).toBeGreaterThan(1024 * 1024); // written well past the first zero-filled step
    // Small commits again: once the average is under the threshold, zero-filling resumes.
    for (let i = 0; i < 40; i++) {
      append(i);
      writer.step();
    }
    for (let i = 0; i < 4; i++) writer.step(0); // idle: the open segment's step, then the draft
    expect(zeroFills()).toBeGreaterThan(afterBig);
    expect(fs.existsSync(draft)).toBe(true);
    expect(fs.statSync(path.join(dir, segment)).size).toBeGreaterThan(size + 512 * 1024);
    // The first small commits after the big ones grew the file; nothing is lost either way.
    expect(await readAll(dir)).toHaveLength(440);
    expect(afterBig).toBe(atStart);
  });

  it('prepares the next segment ahead of need and rotates into it', async () => {
    const { writer, fsys, append } = setup({ preallocate: true, segmentBytes: 4096 });
    for (let i = 0; i < 30; i++) append({ i, pad: 'p'.repeat(40) }); // past half the segment
    writer.step();
    writer.step(0); // idle: housekeeping prepares the next segment
    writer.step(0);
    expect(fs.statSync(path.join(dir, 'wal-next.tmp')).size).toBe(4096);
    for (let i = 30; i < 60; i++) append({ i, pad: 'p'.repeat(40) });
    writer.step();
    const rename = fsys.calls.find((c) => c.op === 'rename' && c.file.startsWith('wal-next.tmp -> '));
    expect(rename?.file).toMatch(/-> wal-\d{16}-.*\.log$/);
    expect(fs.existsSync(path.join(dir, 'wal-next.tmp'))).toBe(false);
    expect((await readAll(dir)).map((e) => (e.value as { i: number }).i)).toEqual(
      Array.from({ length: 60 }, (_, i) => i),
    );
  });

  it('drains, syncs and stops on close', async () => {
    const { writer, ring, append, durable } = setup({ sync: 'none' });
    append('x', 'y', 'z');
    Atomics.or(ring.control, COMMAND, COMMAND_CLOSE);
    while (writer.step()) {
      // until stopped
    }
    expect(durable()).toBe(3);
    expect((await readAll(dir)).map((e) => e.value)).toEqual(['x', 'y', 'z']);
  });
});
