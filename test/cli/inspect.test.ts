/** `ringwal inspect`: what it shows of a log, that it changes no byte, and a live log with its lock holder. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Inspection } from '../../src/cli/inspect.js';
import {
  contents,
  copyLog,
  liveAppender,
  lockHolder,
  makeLog,
  ringwal,
  ringwalJson,
  tearTail,
} from '../helpers/cli.js';
import { segmentNames } from '../helpers/log-bytes.js';
import { tempDirs } from '../helpers/tmp.js';

const temp = tempDirs();
/** 3 segments of 30 entries, checkpoint at 40. */
let clean: string;

beforeAll(async () => {
  clean = temp.dir('ringwal-cli-inspect-');
  await makeLog(clean, { segments: 3, perSegment: 30, checkpoint: 40 });
});
afterAll(() => temp.removeAll());

describe('ringwal inspect', () => {
  it('lists segments, totals, the checkpoint and no lock; --json says the same; no byte changes', async () => {
    const before = contents(clean);
    const text = await ringwal(['inspect', clean]);
    expect(text.code).toBe(0);
    expect(text.stderr).toBe('');
    const names = segmentNames(clean);
    for (const name of names) expect(text.stdout).toContain(name);
    expect(text.stdout).toContain('3 segments, 90 entries (LSN 1 to 90)');
    expect(text.stdout).toContain('checkpoint  LSN 40');
    expect(text.stdout).toContain('lock        none');

    const { code, json } = await ringwalJson<Inspection>(['inspect', clean]);
    expect(code).toBe(0);
    expect(json.segments.map((s) => [s.name, s.firstLsn, s.lastLsn, s.entries, s.sealed])).toEqual([
      [names[0], 1, 30, 30, true],
      [names[1], 31, 60, 30, true],
      [names[2], 61, 90, 30, false],
    ]);
    for (const s of json.segments) {
      expect(s.bytes).toBe(fs.statSync(path.join(clean, s.name)).size);
      expect(Date.parse(s.createdAt)).toBeGreaterThan(0);
    }
    expect(json.totals).toMatchObject({ segments: 3, entries: 90, firstLsn: 1, lastLsn: 90 });
    expect(json.checkpointLsn).toBe(40);
    expect(json.lock).toEqual({ state: 'none' });
    expect(json.unfinishedTail).toBeNull();
    expect(contents(clean)).toEqual(before);
  });

  it('shows a torn tail as the end of the last segment, without changing it', async () => {
    const dir = copyLog(clean, path.join(temp.dir('ringwal-cli-inspect-torn-'), 'log'));
    const torn = tearTail(dir, 100);
    const before = contents(dir);
    const { code, json } = await ringwalJson<Inspection>(['inspect', dir]);
    expect(code).toBe(0);
    expect(json.totals.lastLsn).toBe(90);
    expect(json.unfinishedTail).toMatchObject({ segment: torn.name, offset: torn.offset, bytes: 100 });
    expect(contents(dir)).toEqual(before);
  });

  it('reads a live log without disturbing it: the holder is alive, the lock is never taken', async () => {
    const dir = path.join(temp.dir('ringwal-cli-inspect-live-'), 'log');
    const appender = await liveAppender(dir, 200);
    try {
      const { code, json, stderr } = await ringwalJson<Inspection>(['inspect', dir]);
      expect(stderr).toBe('');
      expect(code).toBe(0);
      expect(json.lock).toMatchObject({ state: 'alive', pid: appender.child.pid });
      expect(json.totals.lastLsn).toBeGreaterThanOrEqual(200);
      expect(json.segments.at(-1)?.sealed).toBe(false);
      // The appender is still appending: inspect took nothing from it.
      const seen = appender.acked();
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(appender.acked()).toBeGreaterThan(seen);
    } finally {
      await appender.stop();
    }
    // Killed, it left its LOCK behind: stale.
    const { json } = await ringwalJson<Inspection>(['inspect', dir]);
    expect(json.lock).toMatchObject({ state: 'stale', pid: appender.child.pid });
  });

  it('names a holder that keeps the log open and idle', async () => {
    const dir = path.join(temp.dir('ringwal-cli-inspect-held-'), 'log');
    const holder = await lockHolder(dir);
    try {
      const r = await ringwal(['inspect', dir]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(
        new RegExp(`lock +held by process ${holder.child.pid} .*\\(alive: the log is open\\)`),
      );
    } finally {
      await holder.stop();
    }
  });

  it('treats a directory with only ringwal files and no segment as an empty log', async () => {
    const dir = temp.dir('ringwal-cli-inspect-empty-');
    fs.writeFileSync(path.join(dir, 'CHECKPOINT'), '');
    const { code, json } = await ringwalJson<Inspection>(['inspect', dir]);
    expect(code).toBe(0);
    expect(json.segments).toEqual([]);
    expect(json.totals).toMatchObject({ segments: 0, entries: 0, lastLsn: 0 });
    expect(json.checkpointDamage).toBe('0 bytes, expected 24');
  });
});
