/**
 * `ringwal/pino` with the real pino (and pino-pretty): lines logged right before
 * `process.exit()` or an uncaught exception are on disk after it; `flush`/`flushed()` answer
 * only once what was logged is fdatasync'd; lines come back from `ringwal dump --format lines`
 * byte for byte as pino wrote them, and pino-pretty reads them; a log that pushes back drops
 * lines visibly ('drop'), a closed one says so ('error').
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, type WalError, type WalOptions } from '../../src/index.js';
import { type RingwalDestination, ringwalDestination } from '../../src/pino.js';
import { exited, startFixture, stderrOf } from '../helpers/child.js';
import { ringwal } from '../helpers/cli.js';
import { readAll } from '../helpers/read.js';
import { tempDirs } from '../helpers/tmp.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const PINO_PRETTY = path.join(ROOT, 'node_modules', 'pino-pretty', 'bin.js');

const dirs = tempDirs();
const open: RingwalDestination[] = [];
afterEach(async () => {
  for (const dest of open.splice(0)) await dest.wal.close().catch(() => {});
  dirs.removeAll();
});

async function destination(options?: WalOptions): Promise<RingwalDestination> {
  const dest = await ringwalDestination(dirs.dir('ringwal-pino-'), options);
  open.push(dest);
  return dest;
}

/** Every line pino hands the destination, as it handed it. */
function recordLines(dest: RingwalDestination): string[] {
  const written: string[] = [];
  const write = dest.write.bind(dest);
  dest.write = (chunk) => {
    written.push(String(chunk));
    return write(chunk);
  };
  return written;
}

async function storedLines(dir: string): Promise<Record<string, unknown>[]> {
  return (await readAll(dir)).map((e) => JSON.parse(e.value as string) as Record<string, unknown>);
}

/** Runs pino-pretty over `input`, as a user piping `ringwal dump` into it would. */
function pinoPretty(input: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PINO_PRETTY, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`pino-pretty exited ${code}`))));
    child.stdin.end(input);
  });
}

describe('ringwal/pino', () => {
  it('keeps 10,000 lines logged right before process.exit(0), in order', async () => {
    const dir = dirs.dir('ringwal-pino-exit-');
    const child = startFixture('pino-logger.mjs', ['exit', dir, '10000']);
    const stderr = stderrOf(child);
    expect(await exited(child), stderr()).toEqual({ code: 0, signal: null });
    const lines = await storedLines(dir);
    expect(lines).toHaveLength(10_000);
    expect(lines.map((l) => l.i)).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
    expect(lines.every((l) => l.level === 30 && l.msg === 'line')).toBe(true);
  });

  it('keeps the line logged just before an uncaught exception', async () => {
    const dir = dirs.dir('ringwal-pino-throw-');
    const child = startFixture('pino-logger.mjs', ['throw', dir, '100']);
    const stderr = stderrOf(child);
    expect(await exited(child)).toEqual({ code: 1, signal: null });
    expect(stderr()).toContain('boom');
    const lines = await storedLines(dir);
    expect(lines).toHaveLength(101);
    expect(lines.at(-1)).toMatchObject({ level: 60, msg: 'last words', i: 100 });
  });

  for (const sync of ['always', 'none'] as const) {
    it(`flush(cb) and flushed() answer only once every line logged is fdatasync'd (sync '${sync}')`, async () => {
      // With sync 'none' nothing is fdatasync'd unless asked: only the flush makes it durable.
      const dest = await destination({ sync });
      const logger = pino(dest);
      for (let round = 0; round < 10; round++) {
        for (let i = 0; i < 50; i++) logger.info({ round, i }, 'flush me');
        const logged = dest.wal.lastLsn;
        const durableAtCallback = await new Promise<number>((resolve, reject) =>
          logger.flush((error) => (error ? reject(error) : resolve(dest.wal.durableLsn))),
        );
        expect(durableAtCallback).toBeGreaterThanOrEqual(logged);
        for (let i = 0; i < 50; i++) logger.warn({ round, i }, 'and me');
        const loggedAgain = dest.wal.lastLsn;
        await dest.flushed();
        expect(dest.wal.durableLsn).toBeGreaterThanOrEqual(loggedAgain);
      }
      expect(dest.wal.lastLsn).toBe(1000);
    });
  }

  it('gives lines back through `ringwal dump --format lines` as pino wrote them; child loggers and custom levels read in pino-pretty', async () => {
    const dest = await destination();
    const written = recordLines(dest);
    const logger = pino({ customLevels: { audit: 35 } }, dest);
    logger.info('plain');
    logger.audit({ user: 'ada', action: 'login' }, 'audited');
    const child = logger.child({ requestId: 'r-42' });
    child.info({ nested: { deep: [1, 2, { x: 'ü' }] } }, 'from the child');
    child.child({ span: 7 }).audit('grandchild audit');
    logger.error(new Error('kaput'), 'an error');
    logger.info('multi\nline message with "quotes" and a tab\t');
    await new Promise<void>((resolve) => dest.end(resolve));
    expect(written).toHaveLength(6);

    const dump = await ringwal(['dump', dest.wal.dir, '--format', 'lines']);
    expect(dump.code, dump.stderr).toBe(0);
    expect(dump.stdout).toBe(written.join('')); // byte for byte, newline for newline

    const pretty = await pinoPretty(dump.stdout, [
      '--colorize',
      'false',
      '--customLevels',
      'audit:35',
      '--useOnlyCustomProps',
      'false',
    ]);
    const prettyLines = pretty.split('\n').filter((l) => /^\[/.test(l));
    expect(prettyLines).toHaveLength(6);
    expect(prettyLines[0]).toMatch(/INFO \(\d+\): plain$/);
    expect(prettyLines[1]).toMatch(/AUDIT \(\d+\): audited$/);
    expect(prettyLines[2]).toMatch(/INFO \(\d+\): from the child$/);
    expect(prettyLines[3]).toMatch(/AUDIT \(\d+\): grandchild audit$/);
    expect(prettyLines[4]).toMatch(/ERROR \(\d+\): an error$/);
    expect(pretty).toContain('requestId: "r-42"');
    expect(pretty).toContain('span: 7');
    expect(pretty).toContain('user: "ada"');
    expect(pretty).toContain('Error: kaput');
  });

  it('is a stream to pino on its own: pino(dest)', async () => {
    const dest = await destination();
    const logger = pino(dest);
    logger.info({ alone: true }, 'one argument');
    await dest.flushed();
    expect(await storedLines(dest.wal.dir)).toMatchObject([{ alone: true, msg: 'one argument' }]);
  });

  it("drops lines the log cannot take ('drop', counted) and keeps every other one, in order", async () => {
    // A 64 KiB ring and 4 KiB allowed to wait outside it: one synchronous burst overruns both.
    const dest = await destination({ ringBytes: 64 * 1024, maxEntryBytes: 4096, maxPendingBytes: 4096 });
    const dropped: string[] = [];
    dest.on('drop', (line: string) => dropped.push(line));
    const logger = pino(dest);
    const pad = 'x'.repeat(900);
    for (let i = 0; i < 2000; i++) logger.info({ i, pad }, 'burst');
    await dest.flushed();
    const kept = (await storedLines(dest.wal.dir)).map((l) => l.i as number);
    expect(dropped.length).toBeGreaterThan(0);
    expect(dest.dropped).toBe(dropped.length);
    expect(kept.length + dropped.length).toBe(2000);
    expect(kept).toEqual([...kept].sort((a, b) => a - b));
    expect(new Set([...kept, ...dropped.map((l) => JSON.parse(l).i as number)]).size).toBe(2000);
    // The log stays healthy: later lines are taken.
    logger.info('after the burst');
    await dest.flushed();
    expect((await storedLines(dest.wal.dir)).at(-1)).toMatchObject({ msg: 'after the burst' });
  });

  it("says 'error' for a line over maxEntryBytes and for lines after end(), and keeps the rest", async () => {
    const dest = await destination({ maxEntryBytes: 1024 });
    const errors: WalError[] = [];
    dest.on('error', (error: WalError) => errors.push(error));
    const logger = pino(dest);
    logger.info('small');
    logger.info({ big: 'y'.repeat(2000) }, 'too big');
    logger.info('small again');
    await dest.flushed();
    expect(errors.map((e) => e.code)).toEqual([ErrorCode.ENTRY_TOO_LARGE]);
    expect((await storedLines(dest.wal.dir)).map((l) => l.msg)).toEqual(['small', 'small again']);

    await new Promise<void>((resolve) => dest.end(resolve));
    logger.info('too late');
    expect(errors.map((e) => e.code)).toEqual([ErrorCode.ENTRY_TOO_LARGE, ErrorCode.CLOSED]);
  });
});
