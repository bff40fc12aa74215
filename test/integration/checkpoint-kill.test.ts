/**
 * A log used as a database's WAL: a child appends, checkpoints and rotates with
 * checkpoint-gated retention, and is SIGKILLed at random moments. After every kill nothing
 * above the last acknowledged checkpoint is missing, every entry present is intact and
 * gapless, and the checkpoint never goes backwards.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { openWal } from '../../src/index.js';
// @ts-expect-error a plain .mjs fixture, shared with the child processes
import { valueFor } from '../fixtures/entry-value.mjs';
import { exited, lines, startFixture, stderrOf } from '../helpers/child.js';
import { readAll } from '../helpers/read.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const KILLS = 30;
const dir = tempDir('ringwal-ckpt-');
afterAll(() => removeDir(dir));

describe('checkpoints under SIGKILL', () => {
  it(`never lose an entry above the acknowledged checkpoint across ${KILLS} SIGKILLs`, async () => {
    let seed = Number(process.env.RINGWAL_SEED ?? 0xc0ffee) >>> 0;
    const random = () => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed / 2 ** 32;
    };
    let checkpointFloor = 0; // highest checkpoint any child reported as durable
    let ackedFloor = 0;
    let deletedSome = false;
    for (let kill = 1; kill <= KILLS; kill++) {
      const child = startFixture('checkpointer.mjs', [dir]);
      const stderr = stderrOf(child);
      let acked = 0;
      let checkpointed = 0;
      let onReady = (): void => {};
      const ready = new Promise<void>((resolve) => {
        onReady = resolve;
      });
      lines(child, (line) => {
        const [what, value] = line.split(' ');
        if (what === 'ack') acked = Math.max(acked, Number(value));
        else if (what === 'checkpoint') checkpointed = Math.max(checkpointed, Number(value));
        else if (what === 'ready') onReady();
      });
      await Promise.race([ready, exited(child)]);
      await new Promise((r) => setTimeout(r, 20 + random() * 300));
      child.kill('SIGKILL');
      await exited(child);
      expect(stderr()).toBe('');
      checkpointFloor = Math.max(checkpointFloor, checkpointed);
      ackedFloor = Math.max(ackedFloor, acked);

      const wal = await openWal(dir, { retention: { requireCheckpoint: true } });
      expect(wal.checkpointLsn).toBeGreaterThanOrEqual(checkpointFloor);
      checkpointFloor = wal.checkpointLsn;
      expect(wal.lastLsn).toBeGreaterThanOrEqual(ackedFloor);
      await wal.close();
      const entries = await readAll(dir);
      // Everything above the checkpoint is there (retention may only have taken what is below).
      expect(entries[0].lsn).toBeLessThanOrEqual(checkpointFloor + 1);
      if (entries[0].lsn > 1) deletedSome = true;
      for (let i = 0; i < entries.length; i++) {
        expect(entries[i].lsn).toBe(entries[0].lsn + i);
        if (entries[i].lsn % 13 === 0 || entries[i].lsn > ackedFloor - 32) {
          expect(entries[i].value).toEqual(valueFor(entries[i].lsn));
        }
      }
      expect(entries.at(-1)!.lsn).toBeGreaterThanOrEqual(ackedFloor);
    }
    console.log(
      `${KILLS} SIGKILLs; acknowledged up to LSN ${ackedFloor}, checkpoint ${checkpointFloor}, retention deleted segments: ${deletedSome}`,
    );
    expect(checkpointFloor).toBeGreaterThan(0);
    expect(deletedSome).toBe(true);
  }, 180_000);
});
