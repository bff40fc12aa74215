/**
 * `ringwal dump`: NDJSON and table output, the LSN window, how values JSON cannot hold are
 * shown, damage, and a reader that goes away (`| head -1`) through a real shell pipe.
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openWal } from '../../src/index.js';
import {
  BIN,
  copyLog,
  corruptRecord,
  firstLine,
  liveAppender,
  makeLog,
  quoted,
  ringwal,
  shell,
  valueAt,
} from '../helpers/cli.js';
import { tempDirs } from '../helpers/tmp.js';

const temp = tempDirs();
/** 2 segments of 30 entries (valueAt). */
let clean: string;
/** 20,000 small entries, so that a whole dump is far larger than a pipe's buffer. */
let big: string;

const parse = (stdout: string) =>
  stdout
    .trimEnd()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as { lsn: number; ts: number; value: unknown });

beforeAll(async () => {
  clean = temp.dir('ringwal-cli-dump-');
  await makeLog(clean, { segments: 2, perSegment: 30 });
  big = temp.dir('ringwal-cli-dump-big-');
  const wal = await openWal(big, { flushOnExit: false });
  for (let i = 0; i < 20_000; i++) wal.appendNoWait({ i, text: 'x'.repeat(40) });
  await wal.sync();
  await wal.close();
});
afterAll(() => temp.removeAll());

describe('ringwal dump', () => {
  it('prints every entry as one JSON object per line: lsn, ts, value', async () => {
    const r = await ringwal(['dump', clean]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const entries = parse(r.stdout);
    expect(entries.map((e) => e.lsn)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(entries.map((e) => e.value)).toEqual(entries.map((e) => valueAt(e.lsn)));
    for (const e of entries) expect(e.ts).toBeGreaterThan(Date.parse('2020-01-01'));
    // --json is the same output.
    expect((await ringwal(['dump', clean, '--json'])).stdout).toBe(r.stdout);
  });

  it('--format lines prints each value alone: a string as it is, anything else as JSON', async () => {
    const dir = temp.dir('ringwal-cli-dump-lines-');
    const wal = await openWal(dir, { flushOnExit: false });
    const values = [
      '{"level":30,"msg":"as pino wrote it"}',
      'plain text, "quoted"',
      { op: 'set', n: 1 },
      42,
      '',
    ];
    for (const v of values) wal.appendNoWait(v);
    await wal.close();
    const r = await ringwal(['dump', dir, '--format', 'lines']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      '{"level":30,"msg":"as pino wrote it"}\nplain text, "quoted"\n{"op":"set","n":1}\n42\n\n',
    );
    expect((await ringwal(['dump', dir, '--format', 'lines', '--from', '3', '--limit', '1'])).stdout).toBe(
      '{"op":"set","n":1}\n',
    );
    const both = await ringwal(['dump', dir, '--format', 'lines', '--json']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--json and --format lines contradict each other');
  });

  it.each([
    [['--from', '25'], 25, 60],
    [['--to', '7'], 1, 7],
    [['--from', '28', '--to', '33'], 28, 33],
    [['--from', '10', '--limit', '3'], 10, 12],
    [['--from', '59', '--limit', '10'], 59, 60],
    [['--from', '61'], 0, -1],
    [['--limit', '0'], 0, -1],
  ])('%j prints LSNs %i to %i', async (args, from, to) => {
    const r = await ringwal(['dump', clean, ...args]);
    expect(r.code).toBe(0);
    const want = from === 0 ? [] : Array.from({ length: to - from + 1 }, (_, i) => from + i);
    expect(parse(r.stdout).map((e) => e.lsn)).toEqual(want);
  });

  it('shows Buffers, BigInts, Dates, NaN, Infinity, undefined and Maps as the README says', async () => {
    const dir = temp.dir('ringwal-cli-dump-types-');
    const wal = await openWal(dir, { flushOnExit: false });
    await wal.append({
      buffer: Buffer.from('hello'),
      bytes: new Uint8Array([1, 2, 3]),
      big: 12345678901234567890n,
      date: new Date('2026-12-07T08:51:53.946Z'),
      nan: Number.NaN,
      inf: Number.POSITIVE_INFINITY,
      ninf: Number.NEGATIVE_INFINITY,
      undef: undefined,
      list: [undefined, 1],
      map: new Map<unknown, unknown>([
        [1, 'one'],
        ['k', 2],
      ]),
      set: new Set(['a']),
    });
    await wal.append(undefined);
    await wal.close();
    const r = await ringwal(['dump', dir]);
    expect(r.code).toBe(0);
    expect(parse(r.stdout).map((e) => e.value)).toEqual([
      {
        buffer: { $buffer: Buffer.from('hello').toString('base64') },
        bytes: { $buffer: 'AQID' },
        big: '12345678901234567890',
        date: '2026-12-07T08:51:53.946Z',
        nan: 'NaN',
        inf: 'Infinity',
        ninf: '-Infinity',
        undef: null,
        list: [null, 1],
        map: { 1: 'one', k: 2 },
        set: ['a'],
      },
      null,
    ]);
  });

  it('prints a table: LSN, time, value', async () => {
    const r = await ringwal(['dump', clean, '--format', 'table', '--to', '2']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ +LSN {2}time +value$/);
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(
      /^ +1 {2}\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z {2}\{"op":"set","key":"k1","value":\{"lsn":1\}\}$/,
    );
  });

  it('stops at damage with WAL_CORRUPT (exit 1), or passes it with --recovery skip-corrupt and a warning', async () => {
    const dir = copyLog(clean, path.join(temp.dir('ringwal-cli-dump-bad-'), 'log'));
    const bad = corruptRecord(dir, 0, 15);
    const r = await ringwal(['dump', dir]);
    expect(r.code).toBe(1);
    expect(firstLine(r.stderr)).toBe(
      `ringwal: dump ${dir}: WAL_CORRUPT: ${path.join(dir, bad.name)} is corrupt at offset ${bad.offset}: checksum mismatch, and a record written after a sync follows`,
    );
    expect(parse(r.stdout).map((e) => e.lsn)).toEqual(Array.from({ length: 14 }, (_, i) => i + 1));

    const skip = await ringwal(['dump', dir, '--recovery', 'skip-corrupt']);
    expect(skip.code).toBe(0);
    expect(skip.stderr).toBe(
      `ringwal: dump ${dir}: warning: ${bad.name} ${bad.offset} checksum mismatch: skipped\n`,
    );
    const lsns = parse(skip.stdout).map((e) => e.lsn);
    expect(lsns).toHaveLength(59);
    expect(lsns).not.toContain(15);
  });

  it('stops quietly and at once when the reader goes away: `ringwal dump DIR | head -1`', async () => {
    const r = await shell(`${quoted(process.execPath)} ${quoted(BIN)} dump ${quoted(big)} | head -1`);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(parse(r.stdout)).toEqual([
      { lsn: 1, ts: expect.any(Number), value: { i: 0, text: 'x'.repeat(40) } },
    ]);
    // ringwal's own exit status, and that it did not print an error.
    const status = await shell(
      `${quoted(process.execPath)} ${quoted(BIN)} dump ${quoted(big)} --format table 2>&1 | head -2 >/dev/null; ` +
        `${quoted(process.execPath)} ${quoted(BIN)} dump ${quoted(big)} 2>/dev/null | (read -r line; exit 0); echo "$?"`,
    );
    expect(status).toEqual({ code: 0, stdout: '0\n', stderr: '' });
  });

  it('waits for a slow reader instead of buffering the whole log (backpressure)', async () => {
    const r = await shell(
      `${quoted(process.execPath)} ${quoted(BIN)} dump ${quoted(big)} | (sleep 0.3; wc -l)`,
    );
    expect(r).toEqual({ code: 0, stdout: '20000\n', stderr: '' });
  });

  it('dumps a live log up to what is written', async () => {
    const dir = path.join(temp.dir('ringwal-cli-dump-live-'), 'log');
    const appender = await liveAppender(dir, 100);
    try {
      const r = await ringwal(['dump', dir]);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
      const lsns = parse(r.stdout).map((e) => e.lsn);
      expect(lsns.length).toBeGreaterThanOrEqual(100);
      expect(lsns).toEqual(Array.from({ length: lsns.length }, (_, i) => i + 1));
    } finally {
      await appender.stop();
    }
  });
});
