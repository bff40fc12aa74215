/**
 * Bad input gets a typed error with a stable code, and nothing already acknowledged is lost:
 * each case appends first, provokes the error, then checks the earlier entries and that the
 * log still accepts appends.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ErrorCode,
  openWal,
  type ReadOptions,
  type RecoveryMode,
  readWal,
  recoverState,
  type Wal,
  WalError,
  type WalOptions,
} from '../../src/index.js';
import { exited, lines, startFixture } from '../helpers/child.js';
import { segmentPaths } from '../helpers/log-bytes.js';
import { readAll } from '../helpers/read.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

let dir: string;
const open: Wal[] = [];
afterEach(async () => {
  for (const wal of open.splice(0)) await wal.close().catch(() => {});
  removeDir(dir);
});

async function openTracked(d: string, options?: WalOptions): Promise<Wal> {
  const wal = await openWal(d, options);
  open.push(wal);
  return wal;
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (e) {
    expect(e).toBeInstanceOf(WalError);
    return (e as WalError).code;
  }
  throw new Error('expected a rejection');
}

function syncCodeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(WalError);
    return (e as WalError).code;
  }
  throw new Error('expected a throw');
}

/** Appends two entries, runs `provoke`, then checks both survive and the log still works. */
async function survives(wal: Wal, provoke: () => Promise<void>): Promise<void> {
  const a = await wal.append({ before: 1 });
  const b = await wal.append({ before: 2 });
  await provoke();
  const c = await wal.append({ after: 3 });
  expect([a, b, c]).toEqual([a, a + 1, a + 2]); // no LSN was used up by the failure
  await wal.close();
  const values = (await readAll(wal.dir)).map((e) => e.value);
  expect(values.slice(-3)).toEqual([{ before: 1 }, { before: 2 }, { after: 3 }]);
}

describe('options', () => {
  const bad: [string, unknown][] = [
    ['sync', 'sometimes'],
    ['syncIntervalMs', 0],
    ['ringBytes', 100_000],
    ['ringBytes', 1024],
    ['maxEntryBytes', -1],
    ['maxEntryBytes', 1.5],
    ['segmentBytes', 'big'],
    ['flushOnExit', 'yes'],
    ['flushTimeoutMs', -5],
    ['rotateIntervalMs', -1],
    ['retention', 5],
    ['retention', { maxSegments: 0 }],
    ['retention', { maxAgeMs: 1.5 }],
    ['retention', { requireCheckpoint: 'yes' }],
    ['retention', { keep: 3 }],
    ['recovery', 'lenient'],
    ['onCorruption', 'log it'],
    ['ackPollUs', -1],
    ['ackPollUs', 2.5],
    ['ackPollUs', 2_000_000],
    ['ackPollUs', '100'],
    ['noSuchOption', 1],
  ];
  for (const [name, value] of bad) {
    it(`rejects ${name}: ${JSON.stringify(value)} with WAL_INVALID_OPTION naming the option`, async () => {
      dir = tempDir();
      const error = await openWal(dir, { [name]: value } as WalOptions).catch((e: unknown) => e as WalError);
      expect(error).toBeInstanceOf(WalError);
      expect((error as WalError).code).toBe(ErrorCode.INVALID_OPTION);
      expect((error as WalError).message).toContain(name);
    });
  }

  it('rejects a non-object options argument and an empty dir', async () => {
    dir = tempDir();
    expect(await codeOf(openWal(dir, 42 as unknown as WalOptions))).toBe(ErrorCode.INVALID_OPTION);
    expect(await openWal(dir, null as unknown as WalOptions).catch((e: unknown) => e)).toMatchObject({
      code: ErrorCode.INVALID_OPTION,
      message: 'options must be an object; got null',
    });
    expect(await codeOf(openWal(''))).toBe(ErrorCode.INVALID_OPTION);
  });

  it('rejects bad reader options: recovery, onCorruption, threads, fromLsn', async () => {
    dir = tempDir();
    const wal = await openTracked(dir);
    await wal.append('kept');
    await wal.close();
    const firstOf = (options: object) =>
      readWal(dir, options as ReadOptions)
        [Symbol.asyncIterator]()
        .next();
    expect(await codeOf(firstOf({ recovery: 'lenient' }))).toBe(ErrorCode.INVALID_OPTION);
    expect(await codeOf(firstOf({ onCorruption: 1 }))).toBe(ErrorCode.INVALID_OPTION);
    expect(await codeOf(firstOf({ fromLsn: 0 }))).toBe(ErrorCode.INVALID_OPTION);
    expect(await codeOf(recoverState(dir, { recovery: 'x' as RecoveryMode }))).toBe(ErrorCode.INVALID_OPTION);
    expect(await codeOf(recoverState(dir, { threads: 0 }))).toBe(ErrorCode.INVALID_OPTION);
    expect((await readAll(dir)).map((e) => e.value)).toEqual(['kept']);
  });

  it('rejects a dir that is not a string, is missing, or is a file, with typed errors', async () => {
    dir = tempDir();
    const first = (d: unknown, options: ReadOptions = {}) =>
      readWal(d as string, options)
        [Symbol.asyncIterator]()
        .next();
    expect(await codeOf(first(42))).toBe(ErrorCode.INVALID_OPTION);
    expect(await codeOf(recoverState('' as string))).toBe(ErrorCode.INVALID_OPTION);
    const missing = path.join(dir, 'no-such-log');
    const file = path.join(dir, 'a-file');
    fs.writeFileSync(file, 'not a log directory');
    // openWal on a path that is a file, or below one, cannot create the directory: typed, too.
    for (const d of [file, path.join(file, 'below')]) {
      expect(await openWal(d).catch((e: unknown) => e)).toMatchObject({ code: ErrorCode.IO_ERROR, path: d });
    }
    // Where mkdir fails below a parent that exists (Node's recursive mkdir spins forever on
    // this one): an error, not a hang.
    if (fs.existsSync('/proc/self')) {
      const proc = '/proc/no-such-process/wal';
      expect(await openWal(proc).catch((e: unknown) => e)).toMatchObject({
        code: ErrorCode.IO_ERROR,
        path: proc,
      });
    }
    for (const d of [missing, file]) {
      for (const error of [
        await first(d).catch((e: unknown) => e),
        await first(d, { threads: 1 }).catch((e: unknown) => e),
        await recoverState(d).catch((e: unknown) => e),
      ]) {
        expect(error).toBeInstanceOf(WalError);
        expect(error).toMatchObject({ code: ErrorCode.IO_ERROR, path: d });
      }
    }
  });
});

describe('entries', () => {
  it('rejects an entry over maxEntryBytes with WAL_ENTRY_TOO_LARGE', async () => {
    dir = tempDir();
    const wal = await openTracked(dir, { maxEntryBytes: 1024 });
    await survives(wal, async () => {
      expect(await codeOf(wal.append('x'.repeat(2000)))).toBe(ErrorCode.ENTRY_TOO_LARGE);
      expect(syncCodeOf(() => wal.appendNoWait(new Uint8Array(4096)))).toBe(ErrorCode.ENTRY_TOO_LARGE);
    });
  });

  it('rejects values msgpack cannot encode with WAL_ENCODE_FAILED', async () => {
    dir = tempDir();
    const wal = await openTracked(dir);
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    await survives(wal, async () => {
      expect(await codeOf(wal.append(circular))).toBe(ErrorCode.ENCODE_FAILED);
      expect(await codeOf(wal.append(2n ** 70n))).toBe(ErrorCode.ENCODE_FAILED);
      expect(await codeOf(wal.append({ s: Symbol('no') }))).toBe(ErrorCode.ENCODE_FAILED);
      // msgpackr alone would store a function as undefined: the entry would lose it silently.
      expect(await codeOf(wal.append(() => 1))).toBe(ErrorCode.ENCODE_FAILED);
      expect(syncCodeOf(() => wal.appendNoWait({ id: 1, onDone: () => 1 }))).toBe(ErrorCode.ENCODE_FAILED);
      expect(await codeOf(wal.set(42 as unknown as string, 1))).toBe(ErrorCode.INVALID_OPTION);
    });
  });

  it('accepts entries larger than the ring, up to maxEntryBytes, in fragments', async () => {
    dir = tempDir();
    const wal = await openTracked(dir, { ringBytes: 64 * 1024, maxEntryBytes: 4 * 1024 * 1024 });
    const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 31) & 0xff);
    const lsns = await Promise.all([wal.append('small'), wal.append(big), wal.append({ after: true })]);
    expect(lsns).toEqual([1, 2, 3]);
    await wal.close();
    const entries = await readAll(dir);
    expect(entries.map((e) => e.lsn)).toEqual([1, 2, 3]);
    expect(Buffer.compare(Buffer.from(entries[1].value as Uint8Array), Buffer.from(big))).toBe(0);
    expect(entries[2].value).toEqual({ after: true });
  });

  it('keeps many unawaited appends beyond the ring and bounds them with WAL_BACKPRESSURE', async () => {
    dir = tempDir();
    const wal = await openTracked(dir, {
      ringBytes: 64 * 1024,
      maxEntryBytes: 1024,
      maxPendingBytes: 256 * 1024,
    });
    const accepted: Promise<number>[] = [];
    let refused: string | null = null;
    for (let i = 0; i < 20_000 && refused === null; i++) {
      try {
        wal.appendNoWait({ i, pad: 'p'.repeat(100) });
        accepted.push(Promise.resolve(i + 1));
      } catch (e) {
        refused = (e as WalError).code;
      }
    }
    expect(refused).toBe(ErrorCode.BACKPRESSURE);
    const acceptedCount = accepted.length;
    await wal.waitFor(acceptedCount);
    // Once the backlog drains, appends are accepted again.
    expect(await wal.append({ after: true })).toBe(acceptedCount + 1);
    await wal.close();
    const entries = await readAll(dir);
    expect(entries).toHaveLength(acceptedCount + 1);
    expect(entries[acceptedCount - 1].value).toEqual({ i: acceptedCount - 1, pad: 'p'.repeat(100) });
  });
});

describe('a closed log', () => {
  it('rejects every call with WAL_CLOSED and keeps what it had', async () => {
    dir = tempDir();
    const wal = await openWal(dir);
    await wal.append('kept');
    await wal.close();
    expect(await codeOf(wal.append('late'))).toBe(ErrorCode.CLOSED);
    expect(await codeOf(wal.set('k', 1))).toBe(ErrorCode.CLOSED);
    expect(syncCodeOf(() => wal.appendNoWait('late'))).toBe(ErrorCode.CLOSED);
    expect(await codeOf(wal.sync())).toBe(ErrorCode.CLOSED);
    expect(syncCodeOf(() => wal.flushSync())).toBe(ErrorCode.CLOSED);
    await wal.close(); // closing twice is harmless
    expect((await readAll(dir)).map((e) => e.value)).toEqual(['kept']);
  });

  it('settles appends made just before close', async () => {
    dir = tempDir();
    const wal = await openWal(dir);
    const pending = Array.from({ length: 5000 }, (_, i) => wal.append(i));
    await wal.close();
    expect(await Promise.all(pending)).toEqual(Array.from({ length: 5000 }, (_, i) => i + 1));
    expect(await readAll(dir)).toHaveLength(5000);
  });
});

describe('the directory lock', () => {
  it('refuses a second open in the same process with WAL_LOCKED', async () => {
    dir = tempDir();
    const wal = await openTracked(dir);
    await survives(wal, async () => {
      expect(await codeOf(openWal(dir))).toBe(ErrorCode.LOCKED);
      expect(await codeOf(openWal(path.join(dir, '.')))).toBe(ErrorCode.LOCKED);
    });
  });

  it('refuses a directory held by another live process, and takes it over once that process is killed', async () => {
    dir = tempDir();
    const child = startFixture('hold-lock.mjs', [dir]);
    await new Promise<void>((resolve) => lines(child, (line) => line === 'ready' && resolve()));
    expect(await codeOf(openWal(dir))).toBe(ErrorCode.LOCKED);
    child.kill('SIGKILL');
    await exited(child);
    const wal = await openTracked(dir);
    expect(wal.lastLsn).toBe(1);
    await wal.append('mine');
    await wal.close();
    expect((await readAll(dir)).map((e) => e.value)).toEqual(['held', 'mine']);
  });

  it('takes over a lock naming a dead process, and one that is empty or garbage', async () => {
    dir = tempDir();
    for (const content of [JSON.stringify({ pid: 2 ** 22 + 7, start: '1', token: 'x' }), '', '{not json']) {
      fs.writeFileSync(path.join(dir, 'LOCK'), content);
      const wal = await openWal(dir);
      await wal.append(content);
      await wal.close();
    }
    expect(await readAll(dir)).toHaveLength(3);
    expect(fs.existsSync(path.join(dir, 'LOCK'))).toBe(false);
  });

  it('refuses a LOCK that is not a file with WAL_IO_ERROR, and leaves it where it is', async () => {
    dir = tempDir();
    const lock = path.join(dir, 'LOCK');
    fs.mkdirSync(lock);
    expect(await openWal(dir).catch((e: unknown) => e)).toMatchObject({
      code: ErrorCode.IO_ERROR,
      path: lock,
    });
    expect(fs.statSync(lock).isDirectory()).toBe(true);
    expect(fs.readdirSync(dir)).toEqual(['LOCK']);
  });
});

/** Writes a closed log of several 4 KiB segments in `dir`; returns their paths in order. */
async function smallSegments(d: string): Promise<string[]> {
  const wal = await openWal(d, { segmentBytes: 4096 });
  for (let i = 0; i < 200; i++) await wal.append({ i, pad: 'z'.repeat(50) });
  await wal.close();
  return segmentPaths(d);
}

describe('garbage in the directory', () => {
  it('ignores files that are not segments', async () => {
    dir = tempDir();
    fs.writeFileSync(path.join(dir, 'README.txt'), 'not a segment');
    fs.writeFileSync(path.join(dir, 'wal-garbage.log'), 'neither');
    const wal = await openTracked(dir);
    await survives(wal, async () => {});
  });

  it('reports a damaged sealed segment with WAL_CORRUPT naming the file and offset, changing nothing', async () => {
    dir = tempDir();
    const segments = await smallSegments(dir);
    expect(segments.length).toBeGreaterThan(2);
    const victim = segments[0];
    const bytes = fs.readFileSync(victim);
    bytes[0] ^= 0xff; // the header's magic
    fs.writeFileSync(victim, bytes);
    const error = await openWal(dir).catch((e: unknown) => e as WalError);
    expect(error).toBeInstanceOf(WalError);
    expect((error as WalError).code).toBe(ErrorCode.CORRUPT);
    expect((error as WalError).path).toBe(victim);
    expect((error as WalError).offset).toBe(0);
    expect(fs.readFileSync(victim)).toEqual(bytes);
    // The failed open released the directory.
    expect(fs.existsSync(path.join(dir, 'LOCK'))).toBe(false);
  });

  // A FIFO would block open() forever (and process.exit() with it, waiting for the thread).
  it.each(['a directory', 'a FIFO', 'a dangling symbolic link'])(
    'reports a segment name that is %s with WAL_IO_ERROR naming it, from the writer and every reader',
    async (kind) => {
      dir = tempDir();
      const victim = (await smallSegments(dir))[1];
      fs.rmSync(victim);
      if (kind === 'a directory') fs.mkdirSync(victim);
      else if (kind === 'a FIFO') execFileSync('mkfifo', [victim]);
      else fs.symlinkSync(path.join(dir, 'nowhere'), victim);
      const errors = [
        await openWal(dir).catch((e: unknown) => e),
        await readAll(dir).catch((e: unknown) => e),
        await (async () => {
          for await (const _ of readWal(dir, { threads: 1 })) {
            // reads until the error
          }
        })().catch((e: unknown) => e),
        await recoverState(dir).catch((e: unknown) => e),
      ];
      for (const error of errors) {
        expect(error).toBeInstanceOf(WalError);
        expect(error).toMatchObject({ code: ErrorCode.IO_ERROR, path: victim });
        expect((error as WalError).message).toContain(victim);
      }
      expect(fs.existsSync(path.join(dir, 'LOCK'))).toBe(false);
    },
  );
});
