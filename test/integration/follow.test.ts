/**
 * Following a log: `wal.tail()` in the writer's process (durable entries only) and
 * `readWal(dir, { follow: true })` from another process, across rotation, retention, a
 * killed writer and damage.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCode, openWal, readWal, type WalEntry, WalError } from '../../src/index.js';
// @ts-expect-error a plain .mjs fixture, shared with the child processes
import { valueFor } from '../fixtures/entry-value.mjs';
import { exited, lines, startFixture } from '../helpers/child.js';
import { tempDirs } from '../helpers/tmp.js';

const dirs = tempDirs();
afterAll(() => dirs.removeAll());

/** Takes entries from `iterator` until `until` says stop; checks LSNs are consecutive. */
async function take(
  iterator: AsyncIterator<WalEntry>,
  until: (entry: WalEntry) => boolean,
  onEntry: (entry: WalEntry) => void = () => {},
): Promise<WalEntry[]> {
  const got: WalEntry[] = [];
  while (true) {
    const step = await iterator.next();
    if (step.done) return got;
    const entry = step.value;
    if (got.length > 0) expect(entry.lsn).toBe(got[got.length - 1].lsn + 1);
    got.push(entry);
    onEntry(entry);
    if (until(entry)) return got;
  }
}

describe('wal.tail() in the writer process', () => {
  it('yields every entry once durable, in order, waits for more, and ends at close', async () => {
    const dir = dirs.dir('follow-tail-');
    const wal = await openWal(dir, { segmentBytes: 64 * 1024 });
    const tail = wal.tail();
    const seen: number[] = [];
    const reading = take(
      tail,
      () => false,
      (entry) => {
        // Never ahead of the durable LSN.
        expect(entry.lsn).toBeLessThanOrEqual(wal.durableLsn);
        seen.push(entry.lsn);
      },
    );
    const appends: Promise<number>[] = [];
    for (let i = 1; i <= 3000; i++) appends.push(wal.append({ i, pad: 'p'.repeat(i % 100) }));
    await Promise.all(appends);
    // Idle for a while, then more: the tail waits and picks them up.
    await new Promise((resolve) => setTimeout(resolve, 50));
    for (let i = 3001; i <= 3100; i++) await wal.append({ i });
    await wal.close();
    const got = await reading;
    expect(got.map((e) => e.lsn)).toEqual(Array.from({ length: 3100 }, (_, k) => k + 1));
    expect(got[41].value).toEqual({ i: 42, pad: 'p'.repeat(42) });
    expect((await wal.segments().catch((e) => e)).code).toBe(ErrorCode.CLOSED);
  });

  it('starts at fromLsn and, in the none mode, yields only what a sync made durable', async () => {
    const dir = dirs.dir('follow-none-');
    const wal = await openWal(dir, { sync: 'none' });
    for (let i = 1; i <= 100; i++) await wal.append(i);
    await wal.sync();
    for (let i = 101; i <= 150; i++) await wal.append(i);
    const tail = wal.tail({ fromLsn: 90 });
    const first = await take(tail, (e) => e.lsn === 100);
    expect(first.map((e) => e.value)).toEqual(Array.from({ length: 11 }, (_, k) => 90 + k));
    const next = tail.next();
    const raced = await Promise.race([
      next,
      new Promise((resolve) => setTimeout(() => resolve('waiting'), 100)),
    ]);
    // 101-150 are written; the writer may still sync on its own (a preallocation step), and
    // then the tail may yield them, but never before they are durable.
    if (raced === 'waiting') expect(wal.durableLsn).toBeLessThan(101);
    else expect(wal.durableLsn).toBeGreaterThanOrEqual(101);
    await wal.sync();
    expect((await next).value).toEqual({ lsn: 101, ts: expect.any(Number), value: 101 });
    await tail.return();
    await wal.close();
  });

  it('ends (done) once its signal aborts, also while it waits', async () => {
    const dir = dirs.dir('follow-abort-');
    const wal = await openWal(dir);
    for (let i = 1; i <= 10; i++) await wal.append(i);
    const controller = new AbortController();
    const tail = wal.tail({ signal: controller.signal });
    const got = await take(tail, (e) => e.lsn === 10);
    expect(got).toHaveLength(10);
    const waiting = tail.next();
    controller.abort();
    expect(await waiting).toEqual({ value: undefined, done: true });
    await wal.close();
  });

  it('reports a range retention deleted before the follower got to it', async () => {
    const dir = dirs.dir('follow-deleted-');
    const wal = await openWal(dir, { segmentBytes: 16 * 1024, retention: { maxSegments: 2 } });
    const value = 'v'.repeat(1000);
    for (let i = 1; i <= 200; i++) await wal.append(value);
    const segments = await wal.segments();
    const oldest = segments[0].firstLsn;
    expect(oldest).toBeGreaterThan(1);
    // Without a handler: WAL_SEGMENT_DELETED naming the range.
    const error = await wal
      .tail({ fromLsn: 1 })
      .next()
      .catch((e) => e);
    expect(error).toBeInstanceOf(WalError);
    expect(error.code).toBe(ErrorCode.SEGMENT_DELETED);
    expect([error.firstLsn, error.lastLsn]).toEqual([1, oldest - 1]);
    // With one: reported, then the follower goes on at the oldest entry there.
    const reports: unknown[] = [];
    const tail = wal.tail({ fromLsn: 1, onDeleted: (range) => reports.push(range) });
    const got = await take(tail, (e) => e.lsn === 200);
    expect(reports).toEqual([{ firstLsn: 1, lastLsn: oldest - 1 }]);
    expect(got[0].lsn).toBe(oldest);
    // Without fromLsn a follower starts at the oldest entry: nothing to report.
    const fromOldestTail = wal.tail();
    const fromOldest = await fromOldestTail.next();
    expect(fromOldest.value?.lsn).toBe(oldest);
    await fromOldestTail.return();
    await wal.close();
  });

  it('reports what retention deleted while the follower was paused mid-log', async () => {
    const dir = dirs.dir('follow-paused-');
    const wal = await openWal(dir, { segmentBytes: 16 * 1024, retention: { maxSegments: 3 } });
    const value = 'v'.repeat(1000);
    for (let i = 1; i <= 20; i++) await wal.append(value);
    const reports: { firstLsn: number; lastLsn: number }[] = [];
    const tail = wal.tail({ onDeleted: (range) => reports.push(range) });
    await take(tail, (e) => e.lsn === 5);
    for (let i = 21; i <= 300; i++) await wal.append(value); // many rotations; the early segments go
    const rest: WalEntry[] = [];
    for await (const entry of tail) {
      rest.push(entry);
      if (entry.lsn === 300) break;
    }
    // Entries 6.. up to the end of the segment the follower had open were still readable (the
    // open file); from there, the deleted range is reported and reading goes on after it.
    expect(reports).toHaveLength(1);
    const [{ firstLsn, lastLsn }] = reports;
    expect(firstLsn).toBeGreaterThan(5);
    expect(lastLsn).toBeGreaterThanOrEqual(firstLsn);
    // Exactly the entries not reported: 6 to the gap, then from after it to 300.
    const expected = [];
    for (let lsn = 6; lsn <= 300; lsn++) if (lsn < firstLsn || lsn > lastLsn) expected.push(lsn);
    expect(rest.map((e) => e.lsn)).toEqual(expected);
    await wal.close();
  });

  it('says how many bytes of the log lie after what it delivered (bytesBehind)', async () => {
    const dir = dirs.dir('follow-behind-');
    const wal = await openWal(dir, { segmentBytes: 64 * 1024 });
    for (let i = 1; i <= 500; i++) await wal.append('b'.repeat(1000));
    const follower = wal.tailRaw();
    const measured = async (): Promise<number> => {
      follower.bytesBehind(); // starts a measure
      await new Promise((resolve) => setTimeout(resolve, 300));
      follower.bytesBehind();
      await new Promise((resolve) => setTimeout(resolve, 50));
      return follower.bytesBehind();
    };
    const first = await follower.next();
    expect(first.value?.[0]).toMatchObject({ lsn: 1, bytes: expect.any(Uint8Array) });
    const behind = await measured();
    // Lagging: the ~450 KB of entries still ahead, and at most the files' whole size (the live
    // segment, not yet reached, counts its preallocated zeros).
    const files = (await wal.segments()).reduce(
      (sum, s) => sum + fs.statSync(path.join(dir, s.name)).size,
      0,
    );
    expect(behind).toBeGreaterThan(400 * 1000);
    expect(behind).toBeLessThanOrEqual(files);
    let last = 0;
    while (last < 500) {
      const step = await follower.next();
      last = step.value?.at(-1)?.lsn ?? last;
    }
    expect(await measured()).toBe(0); // caught up
    await follower.return();
    await wal.close();
  });

  it('checks its options', async () => {
    const dir = dirs.dir('follow-options-');
    const wal = await openWal(dir);
    const bad: unknown[] = [
      { fromLsn: 0 },
      { pollMs: 0 },
      { signal: {} },
      { onDeleted: 'x' },
      { threads: 2 },
      { recovery: 'strict' },
    ];
    for (const options of bad) {
      expect(() => wal.tail(options as never), JSON.stringify(options)).toThrow(
        expect.objectContaining({ code: ErrorCode.INVALID_OPTION }),
      );
    }
    const error = await readWal(dir, { follow: 'yes' as never })
      .next()
      .catch((e) => e);
    expect(error.code).toBe(ErrorCode.INVALID_OPTION);
    await wal.close();
  });
});

describe('readWal(dir, { follow: true }) from another process', () => {
  it('follows a writer in another process across rotations and two kill -9s', async () => {
    const dir = dirs.dir('follow-child-');
    const controller = new AbortController();
    const follower = readWal(dir, { follow: true, pollMs: 20, signal: controller.signal });
    const got: WalEntry[] = [];
    const reading = take(
      follower,
      () => false,
      (e) => got.push(e),
    ).catch((e) => e);
    let lastAcked = 0;
    for (let round = 0; round < 3; round++) {
      const child = startFixture('appender.mjs', [dir, '16', String(64 * 1024)]);
      lines(child, (line) => {
        if (line.startsWith('ack ')) lastAcked = Math.max(lastAcked, Number(line.slice(4)));
      });
      while (lastAcked < (round + 1) * 3000) await new Promise((resolve) => setTimeout(resolve, 10));
      child.kill('SIGKILL');
      await exited(child);
    }
    // Everything acknowledged arrives (and what was written after it), whatever the kills cut.
    const deadline = Date.now() + 30_000;
    while ((got.at(-1)?.lsn ?? 0) < lastAcked && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    controller.abort(); // a follower waiting for more ends at its signal
    expect(await reading).toEqual(got); // it ended without an error
    expect(got.at(-1)?.lsn).toBeGreaterThanOrEqual(lastAcked);
    expect(got[0].lsn).toBe(1);
    got.forEach((entry, k) => {
      expect(entry.lsn).toBe(k + 1);
      if (k % 97 === 0) expect(entry.value).toEqual(valueFor(entry.lsn));
    });
    expect(fs.readdirSync(dir).length).toBeGreaterThan(4); // it did rotate
  });

  it('waits for a directory that has no segment yet, then follows it', async () => {
    const dir = dirs.dir('follow-empty-');
    const controller = new AbortController();
    const follower = readWal(dir, { follow: true, signal: controller.signal });
    const first = follower.next();
    const wal = await openWal(dir);
    await wal.append('hello');
    expect((await first).value?.value).toBe('hello');
    controller.abort();
    expect(await follower.next()).toEqual({ value: undefined, done: true });
    await wal.close();
  });

  it('reports damage in a sealed segment with its file and offset', async () => {
    const dir = dirs.dir('follow-corrupt-');
    const wal = await openWal(dir, { segmentBytes: 16 * 1024 });
    for (let i = 1; i <= 100; i++) await wal.append('x'.repeat(500));
    const [first] = await wal.segments();
    await wal.close();
    const file = path.join(dir, first.name);
    const handle = fs.openSync(file, 'r+');
    fs.writeSync(handle, Buffer.from([0xff, 0xff, 0xff, 0xff]), 0, 4, 4096);
    fs.closeSync(handle);
    const follower = readWal(dir, { follow: true });
    const error = await (async () => {
      try {
        for await (const _ of follower);
      } catch (e) {
        return e as WalError;
      }
    })();
    expect(error?.code).toBe(ErrorCode.CORRUPT);
    expect(error?.path).toBe(file);
    expect(error?.offset).toBeGreaterThan(0);
    expect(error?.offset).toBeLessThanOrEqual(4096);
  });
});
