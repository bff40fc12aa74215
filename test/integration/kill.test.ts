/**
 * SIGKILL at random moments: a child appends with sync 'always' and reports each LSN as its
 * promise resolves; after each kill, every reported LSN must read back with its exact value,
 * LSNs must be gapless from 1, and the log must reopen and accept appends. The same directory
 * is reused across kills, so each child also recovers what the previous one left.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { openWal, type SyncMode } from '../../src/index.js';
// @ts-expect-error a plain .mjs fixture, shared with the child processes
import { valueFor } from '../fixtures/entry-value.mjs';
import { exited, lines, startFixture, stderrOf } from '../helpers/child.js';
import { gapless, readAll } from '../helpers/read.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const KILLS = 20;
const OTHER_MODE_KILLS = 8;
const dir = tempDir('ringwal-kill-');
afterAll(() => removeDir(dir));

/** Deterministic pseudo-random delays, so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * SIGKILLs a child appending with `sync` into `dir`, `kills` times. A process crash keeps the
 * page cache, so in every sync mode an acknowledged entry (fdatasync'd for 'always', written
 * to the OS for 'interval' and 'none') must read back.
 */
async function killLoop(dir: string, kills: number, sync: SyncMode, seed: number): Promise<void> {
  const random = rng(seed);
  let everAcked = 0;
  const log: string[] = [];
  for (let kill = 1; kill <= kills; kill++) {
    // Small segments on some runs so kills also land around rotation.
    const segmentBytes = kill % 2 === 0 ? String(64 * 1024) : '';
    const child = startFixture('appender.mjs', [
      dir,
      String(1 + Math.floor(random() * 64)),
      segmentBytes,
      sync,
    ]);
    const stderr = stderrOf(child);
    let acked = 0;
    let ready = false;
    let onReady = (): void => {};
    const readyLine = new Promise<void>((resolve) => {
      onReady = resolve;
    });
    lines(child, (line) => {
      if (line.startsWith('ack ')) acked = Math.max(acked, Number(line.slice(4)));
      else if (line.startsWith('ready ')) {
        ready = true;
        onReady();
      }
    });
    // Kill at a random moment: sometimes while the child starts and recovers, mostly while
    // it appends.
    const early = random() < 0.15;
    if (!early) await Promise.race([readyLine, exited(child)]);
    const delayMs = early ? random() * 300 : 10 + random() * 300;
    await new Promise((r) => setTimeout(r, delayMs));
    child.kill('SIGKILL');
    const { signal, code } = await exited(child);
    expect(stderr()).toBe('');
    expect(signal ?? code).toBe('SIGKILL');

    const entries = await readAll(dir);
    expect(gapless(entries)).toBeNull();
    const last = entries.length;
    expect(last).toBeGreaterThanOrEqual(acked);
    expect(last).toBeGreaterThanOrEqual(everAcked);
    for (const entry of entries) {
      if (entry.lsn <= acked || entry.lsn % 97 === 0) expect(entry.value).toEqual(valueFor(entry.lsn));
    }
    everAcked = Math.max(everAcked, acked);
    log.push(
      `kill ${kill}: ${early ? 'from start' : 'after ready'} +${delayMs.toFixed(0)} ms, ready=${ready}, acked ${acked}, on disk ${last}`,
    );
  }
  console.log(
    `${kills} SIGKILLs (sync '${sync}'); highest acknowledged LSN ${everAcked}\n  ${log.join('\n  ')}`,
  );
  expect(everAcked).toBeGreaterThan(0);

  const wal = await openWal(dir);
  const lastLsn = wal.lastLsn;
  expect(await wal.append(valueFor(lastLsn + 1))).toBe(lastLsn + 1);
  await wal.close();
  const entries = await readAll(dir);
  expect(gapless(entries)).toBeNull();
  expect(entries.at(-1)!.value).toEqual(valueFor(lastLsn + 1));
}

describe('kill -9 while appending', () => {
  it(`loses no acknowledged entry across ${KILLS} SIGKILLs`, async () => {
    await killLoop(dir, KILLS, 'always', Number(process.env.RINGWAL_SEED ?? 0x5eed));
  }, 120_000);

  it(`loses no acknowledged (written) entry across ${OTHER_MODE_KILLS} SIGKILLs each in 'interval' and 'none' modes`, async () => {
    const seed = Number(process.env.RINGWAL_SEED ?? 0x5eed);
    for (const sync of ['interval', 'none'] as const) {
      const d = tempDir(`ringwal-kill-${sync}-`);
      try {
        await killLoop(d, OTHER_MODE_KILLS, sync, seed + 1);
      } finally {
        removeDir(d);
      }
    }
  }, 120_000);
});
