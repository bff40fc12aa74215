/**
 * An fdatasync fails (EIO), the process reopens the log without a reboot and goes on
 * appending, and then the power fails. After the failed fdatasync Linux may keep the pages
 * but mark them clean: they are in the page cache (so the reopened writer sees the entries)
 * but will never be written again by a plain fdatasync. If open only fdatasync'd the tail,
 * the new entries (acknowledged, and marked as written after a sync) would sit behind a hole
 * after the power cut, and the default recovery mode would refuse the log. Open writes the
 * bytes after the tail's last sync mark back before its fdatasync (LogWriter.makeTailDurable):
 * every acknowledged entry survives, under every unsynced-data outcome of the page-cache model.
 */
import { expect, it } from 'vitest';
import { nodeFs } from '../../src/fs.js';
import { readWal } from '../../src/index.js';
import { pageCacheFs } from '../fixtures/page-cache-fs.mjs';
import { DATA_OUTCOMES, materialize, modelAt, NAME_OUTCOMES } from '../helpers/crash-model.js';
import { InProcessLog, valueFor, writerConfig } from '../helpers/crash-workload.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

it('keeps every entry acknowledged after a reopen that followed a failed fdatasync, through a power cut', async () => {
  const d = tempDir('ringwal-eio-reopen-');
  const appended = new Map<number, unknown>();
  let log: InProcessLog | null = null;
  const fsys = pageCacheFs(nodeFs, {
    dir: d,
    realSync: false,
    observe: () => ({ acked: log?.durable ?? 0, checkpoint: 0 }),
  });
  const config = writerConfig(d, { segmentBytes: 1024 * 1024 });
  const append = (...lsns: number[]) => {
    for (const lsn of lsns) {
      const value = valueFor(1, lsn, 100);
      appended.set(lsn, value);
      log!.append(value);
    }
    log!.step();
  };
  log = new InProcessLog(fsys, config);
  log.open();
  for (let lsn = 1; lsn <= 5; lsn++) append(lsn);
  expect(log.durable).toBe(5);
  fsys.inject({ op: 'fdatasync', file: '.log', errno: 'EIO' });
  append(6, 7);
  expect(log.error?.code).toBe('WAL_FSYNC_FAILED');
  expect(log.durable).toBe(5);

  // Reopen on the same machine: the page cache still holds 6 and 7.
  log = new InProcessLog(fsys, config);
  expect(log.open().lastLsn).toBe(7);
  for (let lsn = 8; lsn <= 10; lsn++) append(lsn);
  const acknowledged = log.durable;
  expect(acknowledged).toBe(10);

  let images = 0;
  for (const data of DATA_OUTCOMES) {
    for (const names of NAME_OUTCOMES) {
      const image = modelAt(fsys.journal, fsys.journal.length).crashImage(data, names, images + 1);
      const crashed = tempDir('ringwal-eio-reopen-image-');
      try {
        materialize(image, crashed);
        const recovered = new InProcessLog(nodeFs, writerConfig(crashed));
        const state = recovered.open(); // the default mode: refuses damage that is not a torn tail
        recovered.close();
        expect(state.lastLsn, `${data}/${names}`).toBeGreaterThanOrEqual(acknowledged);
        const entries = [];
        for await (const e of readWal(crashed)) entries.push(e);
        for (let lsn = 1; lsn <= acknowledged; lsn++)
          expect(entries[lsn - 1]?.value).toEqual(appended.get(lsn));
        images++;
      } finally {
        removeDir(crashed);
      }
    }
  }
  console.log(
    `EIO, reopen, ${acknowledged - 7} more acknowledged, power cut: ${images} crash images, all recovered`,
  );
  removeDir(d);
});
