/**
 * `ringwal repair`: what it cuts and keeps (the openWal code path), that --dry-run predicts
 * exactly that and changes no byte, and that it refuses a log another process holds.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RepairResult } from '../../src/cli/repair.js';
import type { Verification } from '../../src/cli/verify.js';
import {
  contents,
  copyLog,
  corruptRecord,
  firstLine,
  lockHolder,
  makeLog,
  ringwal,
  ringwalJson,
  settledContents,
  tearTail,
} from '../helpers/cli.js';
import { tempDirs } from '../helpers/tmp.js';

const temp = tempDirs();
/** 3 segments of 30 entries, checkpoint at 75. */
let clean: string;
const copy = (name: string) => copyLog(clean, path.join(temp.dir(`ringwal-cli-repair-${name}-`), 'log'));

beforeAll(async () => {
  clean = temp.dir('ringwal-cli-repair-');
  await makeLog(clean, { segments: 3, perSegment: 30, checkpoint: 75 });
});
afterAll(() => temp.removeAll());

describe('ringwal repair', () => {
  it('point-in-time: cuts the log at the first damage, keeps every cut byte, lowers the checkpoint; --dry-run said so exactly', async () => {
    const dir = copy('pit');
    const bad = corruptRecord(dir, 1, 40);
    const before = contents(dir);
    const segmentSize = fs.statSync(path.join(dir, bad.name)).size;

    const dry = await ringwalJson<RepairResult>(['repair', dir, '--mode', 'point-in-time', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stderr).toBe('');
    expect(contents(dir)).toEqual(before); // not a byte changed
    expect(dry.json).toMatchObject({ dryRun: true, lastLsn: 39 });

    const real = await ringwalJson<RepairResult>(['repair', dir, '--mode', 'point-in-time']);
    expect(real.code).toBe(0);
    expect(real.stderr).toBe('');
    expect(real.json).toMatchObject({ dryRun: false, lastLsn: 39 });
    expect(real.json.reports).toEqual(dry.json.reports);
    const names = Object.keys(before).filter((n) => n.startsWith('wal-'));
    expect(real.json.reports).toEqual([
      expect.objectContaining({ segment: names[2], offset: 0, action: `renamed to ${names[2]}.broken` }),
      expect.objectContaining({
        segment: bad.name,
        offset: bad.offset,
        bytes: segmentSize - bad.offset,
        kind: 'corruption',
        action: `truncated; the bytes are kept in ${bad.name}.broken-${bad.offset}`,
      }),
      expect.objectContaining({ segment: 'CHECKPOINT', action: 'checkpoint lowered to LSN 39' }),
    ]);
    expect(dry.json.changes).toEqual([
      `rename ${names[2]} to ${names[2]}.broken`,
      `write ${segmentSize - bad.offset} bytes to ${bad.name}.broken-${bad.offset} at offset 0`,
      `truncate ${bad.name} to ${bad.offset} bytes`,
      'write 24 bytes to CHECKPOINT.tmp at offset 0',
      'rename CHECKPOINT.tmp to CHECKPOINT',
    ]);
    // Nothing lost: the copy holds exactly the bytes cut.
    const kept = fs.readFileSync(path.join(dir, `${bad.name}.broken-${bad.offset}`));
    expect(kept).toEqual(Buffer.from(before[bad.name], 'base64').subarray(bad.offset));
    expect(fs.readFileSync(path.join(dir, `${names[2]}.broken`))).toEqual(
      Buffer.from(before[names[2]], 'base64'),
    );

    const verify = await ringwalJson<Verification>(['verify', dir]);
    expect(verify.code).toBe(0);
    expect(verify.json).toMatchObject({ ok: true, entries: 39, lastLsn: 39 });
  });

  it('prints what it did, one drop a line, and where the copies are', async () => {
    const dir = copy('text');
    const torn = tearTail(dir, 40);
    const dry = await ringwal(['repair', dir, '--mode', 'skip-corrupt', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toBe(
      `${torn.name} ${torn.offset} torn-tail, 40 bytes: bad record type 90\n` +
        `  to do: truncated; the bytes are kept in ${torn.name}.torn-${torn.offset}\n` +
        'dry run (skip-corrupt): nothing was changed; after a repair the log would end at LSN 90\n',
    );
    const real = await ringwal(['repair', dir, '--mode', 'skip-corrupt']);
    expect(real.code).toBe(0);
    expect(real.stdout).toBe(
      `${torn.name} ${torn.offset} torn-tail, 40 bytes: bad record type 90\n` +
        `  done: truncated; the bytes are kept in ${torn.name}.torn-${torn.offset}\n` +
        `repaired (skip-corrupt): the log ends at LSN 90; cut bytes are kept in ${dir}\n`,
    );
    expect(fs.statSync(path.join(dir, torn.name)).size).toBe(torn.offset);
  });

  it('leaves a clean log as it was', async () => {
    const dir = copy('clean');
    const r = await ringwal(['repair', dir, '--mode', 'point-in-time']);
    expect(r).toEqual({
      code: 0,
      stdout: 'nothing to cut in point-in-time mode: the log ends at LSN 90\n',
      stderr: '',
    });
    const verify = await ringwalJson<Verification>(['verify', dir]);
    expect(verify.json).toMatchObject({ ok: true, entries: 90 });
  });

  it('refuses a log another process holds open, naming it, and changes nothing', async () => {
    const dir = path.join(temp.dir('ringwal-cli-repair-locked-'), 'log');
    const holder = await lockHolder(dir);
    try {
      const before = await settledContents(dir);
      const r = await ringwal(['repair', dir, '--mode', 'point-in-time']);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(firstLine(r.stderr)).toMatch(
        new RegExp(
          `^ringwal: repair ${dir}: WAL_LOCKED: the log is open in process ${holder.child.pid} on host .* since .*; stop it first \\(repair works on a closed log\\)\\. `,
        ),
      );
      expect(r.stderr.split('\n')).toHaveLength(2); // one line
      expect(contents(dir)).toEqual(before);
      // --dry-run takes no lock: it answers, with a warning.
      const dry = await ringwal(['repair', dir, '--mode', 'point-in-time', '--dry-run']);
      expect(dry.code).toBe(0);
      expect(firstLine(dry.stderr)).toMatch(
        new RegExp(
          `^ringwal: repair ${dir}: warning: lock held by process ${holder.child.pid} .*repair itself would refuse`,
        ),
      );
      expect(contents(dir)).toEqual(before);
    } finally {
      await holder.stop();
    }
  });

  it('refuses a lock left by another host unless --break-lock, and then repairs', async () => {
    const dir = copy('foreign');
    corruptRecord(dir, 2, 70); // the third segment holds LSN 61-90
    // What a host that had the disk before would leave: its record, naming a pid there.
    const foreign = {
      v: 1,
      host: 'db-2.example',
      bootId: 'another-kernel',
      pidNamespace: 'pid:[4026531836]',
      pid: 4242,
      start: '1',
      token: 'feedfeedfeedfeed',
      since: '2026-12-01T00:00:00.000Z',
      kernelLock: true,
    };
    fs.writeFileSync(path.join(dir, 'LOCK'), `${JSON.stringify(foreign)}\n`);
    const before = contents(dir);
    const refused = await ringwal(['repair', dir, '--mode', 'point-in-time']);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(firstLine(refused.stderr)).toMatch(
      new RegExp(
        `^ringwal: repair ${dir}: WAL_LOCKED: the log is open in process 4242 on host "db-2.example" since 2026-12-01T00:00:00.000Z; stop it first \\(repair works on a closed log\\), or pass --break-lock`,
      ),
    );
    expect(contents(dir)).toEqual(before);

    const r = await ringwalJson<RepairResult>(['repair', dir, '--mode', 'point-in-time', '--break-lock']);
    expect(r.code).toBe(0);
    expect(r.json.lastLsn).toBe(69);
    expect(fs.existsSync(path.join(dir, 'LOCK'))).toBe(false); // released on close
  });
});
