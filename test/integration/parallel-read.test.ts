/**
 * readWal({ threads }): a pool reads and verifies ranges of segments; the caller gets the same
 * entries, in the same order, with the same reports and errors as the sequential reader, in
 * every recovery mode, whatever the range size (bufferBytes) and thread count. So does
 * readWalBatches (the same entries in arrays), and the sequential reader whatever its read
 * size (bufferBytes: reads ahead of the walk, entries larger than a read).
 */
import * as fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CorruptionReport,
  openWal,
  type ReadOptions,
  type RecoveryMode,
  readWal,
  readWalBatches,
  type WalEntry,
} from '../../src/index.js';
import { segmentPaths } from '../helpers/log-bytes.js';
import { gapless } from '../helpers/read.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const MODES: RecoveryMode[] = ['strict', 'tolerate-tail', 'point-in-time', 'skip-corrupt'];

let dir: string;
afterEach(() => removeDir(dir));

async function build(d: string, count: number): Promise<string[]> {
  const wal = await openWal(d, { segmentBytes: 16 * 1024 });
  for (let i = 1; i <= count; i++) await wal.set(`k${i % 7}`, { i, pad: 'x'.repeat(i % 300) });
  // One entry larger than any range the small budgets below allow.
  await wal.append({ big: 'b'.repeat(200_000) });
  await wal.close();
  return segmentPaths(d);
}

interface Outcome {
  entries: WalEntry[];
  reports: CorruptionReport[];
  error: string | null;
}

async function read(d: string, options: ReadOptions): Promise<Outcome> {
  const entries: WalEntry[] = [];
  const reports: CorruptionReport[] = [];
  let error: string | null = null;
  try {
    for await (const e of readWal(d, { ...options, onCorruption: (r) => reports.push(r) })) entries.push(e);
  } catch (e) {
    error = `${(e as { code: string }).code} ${(e as { path?: string }).path} ${(e as { offset?: number }).offset}`;
  }
  return { entries, reports, error };
}

/** `read` through readWalBatches: every batch holds 1 to 1,024 entries; the entries flattened. */
async function readInBatches(d: string, options: ReadOptions): Promise<Outcome> {
  const entries: WalEntry[] = [];
  const reports: CorruptionReport[] = [];
  let error: string | null = null;
  try {
    for await (const batch of readWalBatches(d, { ...options, onCorruption: (r) => reports.push(r) })) {
      expect(batch.length).toBeGreaterThan(0);
      expect(batch.length).toBeLessThanOrEqual(1024);
      entries.push(...batch);
    }
  } catch (e) {
    error = `${(e as { code: string }).code} ${(e as { path?: string }).path} ${(e as { offset?: number }).offset}`;
  }
  return { entries, reports, error };
}

const mutations: Record<string, (segments: string[]) => void> = {
  clean: () => {},
  'a flipped bit in the tail': (s) => flip(s.at(-2)!, 0.5), // the big entry's segment is last
  'a flipped bit in a sealed segment': (s) => flip(s[2], 0.5),
  'a missing segment': (s) => fs.rmSync(s[3]),
  'a bad sealed header': (s) => flip(s[2], 0),
  'a torn tail': (s) => {
    const bytes = fs.readFileSync(s.at(-1)!);
    fs.writeFileSync(s.at(-1)!, bytes.subarray(0, bytes.length - 1000));
  },
};

function flip(file: string, where: number): void {
  const bytes = fs.readFileSync(file);
  bytes[Math.floor(bytes.length * where)] ^= 0x10;
  fs.writeFileSync(file, bytes);
}

describe('readWal with threads', () => {
  it('delivers what the sequential reader does, in every mode, for any range size and thread count', async () => {
    let compared = 0;
    for (const [name, mutate] of Object.entries(mutations)) {
      dir = tempDir('ringwal-parallel-');
      mutate(await build(dir, 400));
      for (const recovery of MODES) {
        for (const fromLsn of [1, 150]) {
          const sequential = await read(dir, { recovery, fromLsn });
          if (name === 'clean') expect(sequential.entries).toHaveLength(402 - fromLsn);
          // Reads of the smallest size (16 KiB, less than the big entry) and in batches.
          expect(
            await read(dir, { recovery, fromLsn, bufferBytes: 1 }),
            `${name}, ${recovery}, small reads`,
          ).toEqual(sequential);
          expect(await readInBatches(dir, { recovery, fromLsn }), `${name}, ${recovery}, batches`).toEqual(
            sequential,
          );
          expect(
            await readInBatches(dir, { recovery, fromLsn, threads: 2, bufferBytes: 100_000 }),
            `${name}, ${recovery}, batches with threads`,
          ).toEqual(sequential);
          for (const [threads, bufferBytes] of [
            [1, 1],
            [2, 100_000],
          ]) {
            const parallel = await read(dir, { recovery, fromLsn, threads, bufferBytes });
            expect(parallel, `${name}, ${recovery}, from ${fromLsn}, ${threads} threads`).toEqual(sequential);
            compared++;
          }
        }
      }
      removeDir(dir);
    }
    console.log(
      `parallel readWal: ${compared} (mutation x mode x fromLsn x threads/budget) reads equal the sequential reader's`,
    );
  });

  it('reads from an open log, in its recovery mode, with or without threads', async () => {
    dir = tempDir('ringwal-parallel-');
    const wal = await openWal(dir, { segmentBytes: 8192, recovery: 'point-in-time' });
    for (let i = 1; i <= 500; i++) await wal.append({ i });
    const sequential: WalEntry[] = [];
    for await (const e of wal.read({ fromLsn: 100 })) sequential.push(e);
    const parallel: WalEntry[] = [];
    for await (const e of wal.read({ fromLsn: 100, threads: 2 })) parallel.push(e);
    expect(sequential.map((e) => e.lsn)).toEqual(Array.from({ length: 401 }, (_, k) => 100 + k));
    expect(parallel).toEqual(sequential);
    await wal.close();
  });

  it('stops cleanly when the caller stops early', async () => {
    dir = tempDir('ringwal-parallel-');
    await build(dir, 400);
    let n = 0;
    for await (const _ of readWal(dir, { threads: 2, bufferBytes: 70_000 })) if (++n === 10) break;
    expect(n).toBe(10);
  });

  it('the sequential reader closes its segment at once when the caller stops early', async () => {
    // It held the file until the garbage collector closed it (a warning on stderr; found by
    // `ringwal dump DIR | head -1`).
    dir = tempDir('ringwal-parallel-');
    await build(dir, 400);
    const openInDir = () =>
      fs.readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir);
        } catch {
          return false; // closed since the listing
        }
      });
    let n = 0;
    for await (const _ of readWal(dir)) if (++n === 10) break;
    expect(n).toBe(10);
    expect(openInDir()).toEqual([]);
  });

  it('reads a log another writer is appending to and rotating, up to its live tail', async () => {
    dir = tempDir('ringwal-parallel-');
    const wal = await openWal(dir, { segmentBytes: 8192 });
    let stop = false;
    const writing = (async () => {
      let i = 0;
      while (!stop) await Promise.all(Array.from({ length: 50 }, () => wal.append({ i: i++ })));
    })();
    for (let round = 0; round < 5; round++) {
      const seen: WalEntry[] = [];
      for await (const entry of readWal(dir, { threads: 2, bufferBytes: 100_000 })) seen.push(entry);
      expect(gapless(seen)).toBeNull();
      for (const e of seen) expect(e.value).toEqual({ i: e.lsn - 1 });
    }
    stop = true;
    await writing;
    await wal.close();
  });
});
