/**
 * `ackPollUs`: the main thread checks the writer's durable LSN between turns of the event loop
 * instead of sleeping until the writer wakes it. Acknowledgements must stay exactly what they
 * are without it (each append resolves with its LSN, in order, only once durable); polling
 * must stop once nothing is pending (no turn of the loop left scheduled, so an idle process
 * stays idle and can exit); and when the writer is slower than the window, the wake-up takes
 * over. A failed fdatasync with polling on is in test/faults/fsync-eio.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openWal, type Wal } from '../../src/index.js';
import { gapless, readAll } from '../helpers/read.js';
import { tempDirs } from '../helpers/tmp.js';

const dirs = tempDirs();
const open: Wal[] = [];
afterEach(async () => {
  for (const wal of open.splice(0)) await wal.close().catch(() => {});
  dirs.removeAll();
});

async function openPolling(ackPollUs: number): Promise<Wal> {
  const wal = await openWal(dirs.dir('ringwal-ack-poll-'), { ackPollUs });
  open.push(wal);
  return wal;
}

/** Appends `value`; records a problem if it resolves with another LSN or before it is durable. */
function appendChecked(wal: Wal, value: unknown, problems: string[]): Promise<number> {
  const expected = wal.lastLsn + 1;
  return wal.append(value).then((lsn) => {
    if (lsn !== expected) problems.push(`append resolved with ${lsn}, expected ${expected}`);
    if (wal.durableLsn < lsn) problems.push(`LSN ${lsn} acknowledged at durable LSN ${wal.durableLsn}`);
    return lsn;
  });
}

const immediatesPending = () => process.getActiveResourcesInfo().filter((r) => r === 'Immediate').length;
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('ackPollUs', () => {
  it('acknowledges each append with its LSN, in order, never before it is durable', async () => {
    const wal = await openPolling(1000);
    const problems: string[] = [];
    for (let i = 0; i < 300; i++) await appendChecked(wal, { one: i }, problems);
    for (let round = 0; round < 5; round++) {
      const lsns = await Promise.all(
        Array.from({ length: 100 }, (_, i) => appendChecked(wal, { round, i }, problems)),
      );
      expect(lsns).toEqual(Array.from({ length: 100 }, (_, i) => lsns[0] + i));
    }
    const waited = wal.appendNoWait({ waited: true });
    await expect(wal.waitFor(waited)).resolves.toBe(waited);
    expect(wal.durableLsn).toBeGreaterThanOrEqual(waited);
    expect(problems).toEqual([]);
    await wal.close();
    const entries = await readAll(wal.dir);
    expect(gapless(entries)).toBeNull();
    expect(entries).toHaveLength(801);
  });

  it('stops once nothing is pending: no turn of the event loop is left scheduled', async () => {
    const wal = await openPolling(1_000_000); // a window far longer than the test
    for (let i = 0; i < 50; i++) await wal.append({ i });
    // A turn or two to notice nothing is pending, and the burst-settling immediate to run.
    let turns = 0;
    while (immediatesPending() > 0 && turns < 20) {
      await nextTurn();
      turns++;
    }
    expect(immediatesPending()).toBe(0);
    for (let i = 0; i < 5; i++) await nextTurn();
    expect(immediatesPending()).toBe(0);
    // And it starts again with the next append.
    const lsn = wal.lastLsn + 1;
    await expect(wal.append({ again: true })).resolves.toBe(lsn);
  });

  it('hands over to the wake-up when the writer takes longer than the window', async () => {
    const wal = await openPolling(1); // 1 µs: every fdatasync outlasts it
    const problems: string[] = [];
    for (let i = 0; i < 100; i++) await appendChecked(wal, { i }, problems);
    await Promise.all(Array.from({ length: 100 }, (_, i) => appendChecked(wal, { burst: i }, problems)));
    await wal.sync();
    expect(wal.durableLsn).toBeGreaterThanOrEqual(200);
    expect(problems).toEqual([]);
  });
});
