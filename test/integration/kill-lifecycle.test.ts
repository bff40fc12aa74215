/**
 * SIGKILL across a segment's whole life (issue #5, item 5): a child appends with small
 * segments (16-64 KiB), time rotation, preallocation, retention and periodic checkpoints
 * (test/fixtures/lifecycle.mjs), and is killed at a random moment, so kills land during
 * rotation, preparation of the next segment, retention's deletes and checkpoint writes, and
 * sometimes during open and recovery. Children alternate between checkpoint-gated retention
 * and count-based retention on the same directory.
 *
 * After each kill:
 * - the log reads back gapless over what remains, every entry with its exact value, and
 *   reaches at least the highest LSN ever acknowledged;
 * - with checkpoint-gated retention nothing above the checkpoint (or below it but kept
 *   before) is gone; with count-based retention at most maxSegments + 1 segments exist (a
 *   kill between a rotation and its retention leaves one extra);
 * - the checkpoint never goes backwards and is at least every checkpoint a child reported;
 * - the log reopens and accepts appends (which are then checked like the child's).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openWal } from '../../src/index.js';
// @ts-expect-error a plain .mjs fixture, shared with the child processes
import { lifecycleValue, MAX_SEGMENTS_COUNT_MODE } from '../fixtures/lifecycle-value.mjs';
import { exited, lines, startFixture, stderrOf } from '../helpers/child.js';
import { readAll } from '../helpers/read.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const KILLS = 36;
const dir = tempDir('ringwal-lifecycle-');
afterAll(() => removeDir(dir));

type Aim = 'early' | 'random' | 'rotating' | 'checkpointing';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * What open dropped, as `{ reason }` items: `recoveryReport.corruptions`, or `openReport.repairs`
 * in builds from before recovery modes.
 */
function dropsOf(wal: object): { reason: string }[] {
  const w = wal as {
    recoveryReport?: { corruptions: { reason: string }[] };
    openReport?: { repairs: { reason: string }[] };
  };
  return w.recoveryReport?.corruptions ?? w.openReport?.repairs ?? [];
}

function segmentCount(): number {
  return fs.readdirSync(dir).filter((name) => /^wal-\d{16}-\d{8}-\d{6}-\d{3}\.log$/.test(name)).length;
}

describe('kill -9 across rotation, preallocation, retention and checkpoints', () => {
  it(`loses nothing acknowledged above the floor across ${KILLS} SIGKILLs`, async () => {
    const seed = Number(process.env.RINGWAL_SEED ?? 0x11fec7c1e);
    const random = rng(seed);
    let ackedFloor = 0; // highest LSN ever acknowledged (by a child or by this test)
    let checkpointFloor = 0; // highest checkpoint ever reported durable or read back
    let firstOnDisk = 1; // first LSN on disk after the previous iteration
    const counts = { early: 0, ready: 0, checkpointMode: 0, countMode: 0, retained: 0, repaired: 0 };
    // What the kills interrupted, as far as the files left behind show it.
    const leftovers = { segmentDraft: 0, nextSegment: 0, checkpointDraft: 0, extraSegment: 0 };
    const aims: Record<Aim, number> = { early: 0, random: 0, rotating: 0, checkpointing: 0 };
    const log: string[] = [];

    for (let kill = 1; kill <= KILLS; kill++) {
      const mode = kill % 3 === 0 ? 'count' : 'checkpoint';
      counts[mode === 'count' ? 'countMode' : 'checkpointMode']++;
      const segmentBytes = (16 + Math.floor(random() * 49)) * 1024;
      const rotateIntervalMs = 20 + Math.floor(random() * 200);
      const ringBytes = random() < 0.5 ? 64 * 1024 : 4 * 1024 * 1024;
      const child = startFixture('lifecycle.mjs', [
        dir,
        mode,
        String(segmentBytes),
        String(rotateIntervalMs),
        String(ringBytes),
        String(Math.floor(random() * 2 ** 31)),
      ]);
      const stderr = stderrOf(child);
      let acked = 0;
      let checkpointed = 0;
      let ready = false;
      let onReady = (): void => {};
      const readyLine = new Promise<void>((resolve) => {
        onReady = resolve;
      });
      // Most kills come at a random moment; some are aimed at the moment the child asks for a
      // rotation or a checkpoint (the writer is then likely inside it), some at startup.
      const roll = random();
      const aim: Aim =
        roll < 0.12 ? 'early' : roll < 0.3 ? 'rotating' : roll < 0.45 ? 'checkpointing' : 'random';
      let onAimed = (): void => {};
      const aimed = new Promise<void>((resolve) => {
        onAimed = resolve;
      });
      let armed = false;
      lines(child, (line) => {
        const [what, value] = line.split(' ');
        if (what === 'ack') acked = Math.max(acked, Number(value));
        else if (what === 'checkpoint') checkpointed = Math.max(checkpointed, Number(value));
        else if (what === 'ready') {
          ready = true;
          onReady();
        } else if (armed && what === aim) onAimed();
      });
      if (aim !== 'early') await Promise.race([readyLine, exited(child)]);
      let delayMs = aim === 'early' ? random() * 250 : 10 + random() * 400;
      if (aim === 'rotating' || aim === 'checkpointing') delayMs = 10 + random() * 150;
      await new Promise((r) => setTimeout(r, delayMs));
      if (aim === 'rotating' || aim === 'checkpointing') {
        armed = true;
        await Promise.race([aimed, new Promise((r) => setTimeout(r, 1000)), exited(child)]);
      }
      child.kill('SIGKILL');
      const { signal, code } = await exited(child);
      expect(stderr()).toBe('');
      expect(signal ?? code).toBe('SIGKILL');
      counts[ready ? 'ready' : 'early']++;
      aims[aim]++;
      ackedFloor = Math.max(ackedFloor, acked);
      checkpointFloor = Math.max(checkpointFloor, checkpointed);

      // Count-based retention ran on open and after every rotation: one extra segment at most.
      const segmentsAfterKill = segmentCount();
      if (mode === 'count' && ready)
        expect(segmentsAfterKill).toBeLessThanOrEqual(MAX_SEGMENTS_COUNT_MODE + 1);
      const names = fs.readdirSync(dir);
      if (names.some((n) => /^wal-\d{16}-.*\.log\.tmp$/.test(n))) leftovers.segmentDraft++; // mid-rotation
      if (names.includes('wal-next.tmp')) {
        // Prepared ahead (zeros), or holding the new header: killed mid-rotation.
        const head = fs.readFileSync(path.join(dir, 'wal-next.tmp')).subarray(0, 4).toString('latin1');
        if (head === 'RWAL') leftovers.segmentDraft++;
        else leftovers.nextSegment++;
      }
      if (names.includes('CHECKPOINT.tmp')) leftovers.checkpointDraft++; // mid-checkpoint
      // Killed between a rotation and the retention that follows it.
      if (mode === 'count' && ready && segmentsAfterKill > MAX_SEGMENTS_COUNT_MODE) leftovers.extraSegment++;

      // What the kill left, read without opening (no repair yet).
      const entries = await readAll(dir);
      // An empty log is possible only before anything was ever acknowledged: a first child
      // killed during its start-up (every later iteration appends after reopening).
      if (entries.length === 0) expect(ackedFloor).toBe(0);
      const first = entries[0]?.lsn ?? firstOnDisk;
      for (let i = 0; i < entries.length; i++) {
        expect(entries[i].lsn).toBe(first + i);
        expect(entries[i].value).toEqual(lifecycleValue(entries[i].lsn));
      }
      const last = entries.at(-1)?.lsn ?? 0;
      expect(last).toBeGreaterThanOrEqual(ackedFloor);
      expect(first).toBeGreaterThanOrEqual(firstOnDisk); // nothing deleted ever comes back
      if (first > firstOnDisk) counts.retained++;

      // Reopen (no retention here, so this open deletes nothing), check the checkpoint, append.
      const wal = await openWal(dir);
      expect(wal.lastLsn).toBe(last);
      expect(wal.checkpointLsn).toBeGreaterThanOrEqual(checkpointFloor);
      if (mode === 'checkpoint') {
        // Checkpoint-gated: only segments wholly at or below the checkpoint may have gone.
        expect(first).toBeLessThanOrEqual(Math.max(wal.checkpointLsn + 1, firstOnDisk));
      }
      checkpointFloor = wal.checkpointLsn;
      const drops = dropsOf(wal);
      if (drops.length > 0) counts.repaired++;
      const base = wal.lastLsn;
      const more = await Promise.all(
        Array.from({ length: 5 }, (_, i) => wal.append(lifecycleValue(base + 1 + i))),
      );
      expect(more).toEqual([1, 2, 3, 4, 5].map((i) => base + i));
      await wal.close();
      ackedFloor = base + 5;
      const after = await readAll(dir, base + 1);
      expect(after.map((e) => e.lsn)).toEqual(more);
      expect(after.map((e) => e.value)).toEqual(more.map((lsn) => lifecycleValue(lsn)));
      firstOnDisk = first;

      log.push(
        `kill ${String(kill).padStart(2)} ${mode.padEnd(10)} seg ${segmentBytes / 1024} KiB, ` +
          `rotate ${rotateIntervalMs} ms, ring ${ringBytes / 1024} KiB: ` +
          `+${delayMs.toFixed(0)} ms, aimed ${aim}, ready=${ready}; acked ${acked}, checkpoint ${wal.checkpointLsn}, ` +
          `on disk LSN ${first}..${last} in ${segmentsAfterKill} segments` +
          (drops.length > 0 ? `, open dropped: ${drops.map((d) => d.reason).join('; ')}` : ''),
      );
    }
    console.log(
      `kill-lifecycle: ${KILLS} SIGKILLs (seed ${seed}; aimed: ${aims.random} at random, ${aims.rotating} at a rotate() call, ` +
        `${aims.checkpointing} at a checkpoint() call, ${aims.early} during startup; ${counts.ready} after open, ${counts.early} before; ` +
        `${counts.checkpointMode} checkpoint-gated, ${counts.countMode} count-based retention); ` +
        `highest acknowledged LSN ${ackedFloor}, checkpoint ${checkpointFloor}; ` +
        `retention advanced the first LSN in ${counts.retained} iterations; ${counts.repaired} opens dropped a torn tail; ` +
        `left behind by the kill: a new segment not yet renamed into place (mid-rotation) ${leftovers.segmentDraft}x, wal-next.tmp prepared ${leftovers.nextSegment}x, ` +
        `CHECKPOINT.tmp (mid-checkpoint) ${leftovers.checkpointDraft}x, a segment over maxSegments (before retention) ${leftovers.extraSegment}x\n  ` +
        log.join('\n  '),
    );
    expect(counts.retained).toBeGreaterThan(0);
    expect(checkpointFloor).toBeGreaterThan(0);
  }, 120_000);
});
