/**
 * Running the built `ringwal` bin as a subprocess (the vitest globalSetup compiles dist/
 * first), and logs for it to read: built in this process with the public API, damaged with
 * the byte tools of test/helpers/log-bytes.ts.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openWal } from '../../src/index.js';
import { exited, lines, startFixture } from './child.js';
import { type LocatedRecord, locateRecords, segmentNames } from './log-bytes.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `ringwal <args>` and collects its output. */
export function ringwal(args: readonly string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { maxBuffer: 64 * 1024 * 1024, env: { ...process.env, RINGWAL_DEBUG: '' } },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') reject(error);
        else resolve({ code: error ? (error.code as unknown as number) : 0, stdout, stderr });
      },
    );
  });
}

/** `ringwal <args> --json` whose stdout is one JSON document. */
export async function ringwalJson<T = Record<string, unknown>>(
  args: readonly string[],
): Promise<CliResult & { json: T }> {
  const result = await ringwal([...args, '--json']);
  return { ...result, json: JSON.parse(result.stdout) as T };
}

/** Runs a shell command line (for pipes) and collects its output. */
export function shell(command: string): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export function firstLine(text: string): string {
  return text.split('\n')[0];
}

/** The shell-quoted form of a path (for `shell`). */
export function quoted(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Entry `lsn` of the logs `makeLog` builds: set/delete entries over 10 keys, and a few others. */
export function valueAt(lsn: number): unknown {
  if (lsn % 9 === 0) return { op: 'delete', key: `k${lsn % 10}` };
  if (lsn % 13 === 0) return { plain: lsn };
  return { op: 'set', key: `k${lsn % 10}`, value: { lsn } };
}

/**
 * A closed log of `segments` x `perSegment` entries (valueAt), one rotate() between segments,
 * and a checkpoint at `checkpoint` when given. Entries are appended ten at a time, each ten
 * acknowledged before the next: each group is its own batch or more, so a record after the
 * first ten of a segment follows a sync (a sync mark, docs/FORMAT.md) and damage before it
 * is corruption, not a torn tail.
 */
export async function makeLog(
  dir: string,
  options: { segments: number; perSegment: number; checkpoint?: number },
): Promise<void> {
  const wal = await openWal(dir, { flushOnExit: false });
  let lsn = 0;
  for (let s = 0; s < options.segments; s++) {
    for (let i = 0; i < options.perSegment; i += 10) {
      const acks: Promise<number>[] = [];
      for (let k = i; k < Math.min(i + 10, options.perSegment); k++) acks.push(wal.append(valueAt(++lsn)));
      await Promise.all(acks);
    }
    if (s < options.segments - 1) await wal.rotate();
  }
  if (options.checkpoint !== undefined) await wal.checkpoint(options.checkpoint);
  await wal.close();
}

/** Copies a log directory (a fresh copy per test of one log built once). */
export function copyLog(from: string, to: string): string {
  fs.cpSync(from, to, { recursive: true });
  return to;
}

/** The records of segment `index` (in LSN order) of `dir`, with the segment's name and path. */
export function recordsOf(
  dir: string,
  index: number,
): { name: string; file: string; records: LocatedRecord[] } {
  const name = segmentNames(dir)[index];
  const file = path.join(dir, name);
  return { name, file, records: locateRecords(fs.readFileSync(file)) };
}

/** Flips one bit in the payload of the record with `lsn` in segment `index`; returns where it starts. */
export function corruptRecord(dir: string, index: number, lsn: number): { name: string; offset: number } {
  const { name, file, records } = recordsOf(dir, index);
  const record = records.find((r) => r.lsn === lsn);
  if (!record) throw new Error(`no record with LSN ${lsn} in ${name}`);
  const fd = fs.openSync(file, 'r+');
  try {
    const at = record.offset + 24 + Math.floor(record.length / 2);
    const byte = Buffer.alloc(1);
    fs.readSync(fd, byte, 0, 1, at);
    byte[0] ^= 0x10;
    fs.writeSync(fd, byte, 0, 1, at);
  } finally {
    fs.closeSync(fd);
  }
  return { name, offset: record.offset };
}

/** Appends `bytes` of non-zero garbage to the last segment: a torn tail. Returns the segment's name and old size. */
export function tearTail(dir: string, bytes: number): { name: string; offset: number } {
  const names = segmentNames(dir);
  const name = names[names.length - 1];
  const file = path.join(dir, name);
  const offset = fs.statSync(file).size;
  fs.appendFileSync(file, Buffer.alloc(bytes, 0x5a));
  return { name, offset };
}

/** Every file of `dir` with its bytes, to check that a command changed none. */
export function contents(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of fs.readdirSync(dir).sort()) {
    out[name] = fs.readFileSync(path.join(dir, name)).toString('base64');
  }
  return out;
}

/**
 * `contents(dir)` once it stays the same for 100 ms: a log just opened by another process
 * may still be preallocating (the writer extends its segment in the background).
 */
export async function settledContents(dir: string): Promise<Record<string, string>> {
  let last = contents(dir);
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const now = contents(dir);
    if (JSON.stringify(now) === JSON.stringify(last)) return now;
    last = now;
  }
}

/** A child appending to `dir` (test/fixtures/appender.mjs), once it has acknowledged `atLeast` entries. */
export async function liveAppender(
  dir: string,
  atLeast: number,
  segmentBytes = 64 * 1024,
): Promise<{ child: ChildProcess; acked: () => number; stop: () => Promise<void> }> {
  const child = startFixture('appender.mjs', [dir, '16', String(segmentBytes)]);
  let acked = 0;
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`appender exited with ${code}`)));
    lines(child, (line) => {
      if (line.startsWith('ack ')) acked = Math.max(acked, Number(line.slice(4)));
      if (acked >= atLeast) resolve();
    });
  });
  return {
    child,
    acked: () => acked,
    stop: async () => {
      child.kill('SIGKILL');
      await exited(child);
    },
  };
}

/** A child holding `dir` open (test/fixtures/hold-lock.mjs), once it has said "ready". */
export async function lockHolder(dir: string): Promise<{ child: ChildProcess; stop: () => Promise<void> }> {
  const child = startFixture('hold-lock.mjs', [dir]);
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`hold-lock exited with ${code}`)));
    lines(child, (line) => line === 'ready' && resolve());
  });
  return {
    child,
    stop: async () => {
      child.kill('SIGKILL');
      await exited(child);
    },
  };
}
