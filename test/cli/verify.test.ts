/**
 * `ringwal verify`: exit 0 on a clean log, a torn tail and a live log; exit 1 with
 * `file offset reason` for each piece of damage anywhere else; the same with --threads.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Verification } from '../../src/cli/verify.js';
import {
  contents,
  copyLog,
  corruptRecord,
  liveAppender,
  makeLog,
  recordsOf,
  ringwal,
  ringwalJson,
  tearTail,
} from '../helpers/cli.js';
import { fixRecordCrc, RECORD_HEADER } from '../helpers/log-bytes.js';
import { tempDirs } from '../helpers/tmp.js';

const temp = tempDirs();
/** 3 segments of 40 entries. */
let clean: string;
const copy = (name: string) => copyLog(clean, path.join(temp.dir(`ringwal-cli-verify-${name}-`), 'log'));

beforeAll(async () => {
  clean = temp.dir('ringwal-cli-verify-');
  await makeLog(clean, { segments: 3, perSegment: 40, checkpoint: 10 });
});
afterAll(() => temp.removeAll());

describe('ringwal verify', () => {
  it('exits 0 on a clean log', async () => {
    const r = await ringwal(['verify', clean]);
    expect(r).toEqual({
      code: 0,
      stdout: 'OK: 3 segments, 120 entries (LSN 1 to 120), every CRC checked\n',
      stderr: '',
    });
    const { json } = await ringwalJson<Verification>(['verify', clean, '--threads', '2']);
    expect(json).toMatchObject({
      ok: true,
      segments: 3,
      entries: 120,
      firstLsn: 1,
      lastLsn: 120,
      damage: [],
    });
  });

  it('exits 0 on damage in the last batch of the tail: a torn tail, as open judges it', async () => {
    const dir = copy('last-batch');
    const torn = corruptRecord(dir, 2, 118);
    const r = await ringwal(['verify', dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      `note: ${torn.name} ends with ${r.stdout.match(/ends with ([\d,]+) bytes/)?.[1]} bytes after its last complete entry (offset ${torn.offset}: checksum mismatch); a write in progress or a torn tail, not damage\n` +
        'OK: 3 segments, 117 entries (LSN 1 to 117), every CRC checked\n',
    );
  });

  it('exits 0 on a torn tail, and says where it is', async () => {
    const dir = copy('torn');
    const torn = tearTail(dir, 64);
    const before = contents(dir);
    const r = await ringwal(['verify', dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `note: ${torn.name} ends with 64 bytes after its last complete entry (offset ${torn.offset}`,
    );
    expect(r.stdout).toContain('OK: 3 segments, 120 entries');
    expect(contents(dir)).toEqual(before);
  });

  it.each([0, 2])(
    'exits 1 on flipped bits in a sealed segment (each found) and in the tail (the first), each as `file offset reason` (threads %i)',
    async (threads) => {
      const dir = copy(`mid-${threads}`);
      const sealed1 = corruptRecord(dir, 0, 20);
      const sealed2 = corruptRecord(dir, 0, 30);
      const tail = corruptRecord(dir, 2, 100); // records from LSN 101 on follow a sync
      const before = contents(dir);
      const args = threads > 0 ? ['verify', dir, '--threads', String(threads)] : ['verify', dir];
      const r = await ringwal(args);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('');
      expect(r.stdout.trimEnd().split('\n')).toEqual([
        `${sealed1.name} ${sealed1.offset} checksum mismatch`,
        `${sealed2.name} ${sealed2.offset} checksum mismatch`,
        `${tail.name} ${tail.offset} checksum mismatch, and a record written after a sync follows`,
        'DAMAGED: 3 damaged regions; 3 segments, 97 entries (LSN 1 to 99) readable',
      ]);
      const { code, json } = await ringwalJson<Verification>(args);
      expect(code).toBe(1);
      expect(json).toMatchObject({ ok: false, segments: 3, entries: 97, firstLsn: 1, lastLsn: 99 });
      expect(json.damage).toEqual([
        {
          file: sealed1.name,
          offset: sealed1.offset,
          bytes: expect.any(Number),
          reason: 'checksum mismatch',
          lsns: { from: 20, to: 20 },
        },
        {
          file: sealed2.name,
          offset: sealed2.offset,
          bytes: expect.any(Number),
          reason: 'checksum mismatch',
          lsns: { from: 30, to: 30 },
        },
        {
          file: tail.name,
          offset: tail.offset,
          bytes: fs.statSync(path.join(dir, tail.name)).size - tail.offset,
          reason: 'checksum mismatch, and a record written after a sync follows',
          lsns: { from: 100, to: null },
        },
      ]);
      expect(contents(dir)).toEqual(before);
    },
  );

  it('exits 1 on an entry whose checksum matches but whose bytes are not MessagePack, and reads on', async () => {
    const dir = copy('forged');
    const { name, file, records } = recordsOf(dir, 0);
    const record = records.find((r) => r.lsn === 7)!;
    const bytes = fs.readFileSync(file);
    bytes[record.offset + RECORD_HEADER] = 0xc1; // a byte MessagePack never uses
    fs.writeFileSync(file, fixRecordCrc(bytes, record.offset));
    const { code, json } = await ringwalJson<Verification>(['verify', dir]);
    expect(code).toBe(1);
    expect(json).toMatchObject({ ok: false, entries: 120, lastLsn: 120 });
    expect(json.damage).toEqual([
      {
        file: name,
        offset: record.offset,
        bytes: record.length,
        reason: expect.stringMatching(/^the entry's checksum matches but it is not valid MessagePack/),
        lsns: { from: 7, to: 7 },
      },
    ]);
  });

  it('exits 1 on a damaged CHECKPOINT file', async () => {
    const dir = copy('checkpoint');
    const file = path.join(dir, 'CHECKPOINT');
    const bytes = fs.readFileSync(file);
    bytes[9] ^= 1;
    fs.writeFileSync(file, bytes);
    const r = await ringwal(['verify', dir]);
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n')[0]).toBe('CHECKPOINT 0 checksum mismatch');
  });

  it('exits 0 on a live log another process is appending to, with segments rotating', async () => {
    const dir = path.join(temp.dir('ringwal-cli-verify-live-'), 'log');
    const appender = await liveAppender(dir, 300, 32 * 1024);
    try {
      for (const args of [
        ['verify', dir],
        ['verify', dir, '--threads', '2'],
      ]) {
        const { code, json, stderr } = await ringwalJson<Verification>(args);
        expect(stderr).toBe('');
        expect(code).toBe(0);
        expect(json.ok).toBe(true);
        expect(json.firstLsn).toBe(1);
        expect(json.lastLsn).toBe(json.entries);
        expect(json.entries).toBeGreaterThanOrEqual(300);
      }
    } finally {
      await appender.stop();
    }
  });
});
