/**
 * fsync failures through the page-cache file system (test/fixtures/page-cache-fs.mjs):
 * after a failed fdatasync/fsync the log acknowledges nothing more, even though every later
 * sync would succeed; every pending and later append rejects with one code; and after a
 * power cut (the model of test/helpers/crash-model.ts, in which the failed sync's dirty
 * pages are dropped for good, as Linux does) as after a process crash, reopening recovers
 * every entry acknowledged before the failure.
 *
 * In-process, the writer class meets EIO at each of its sync calls in turn (segment
 * commits, preallocation, segment headers, directory fsyncs, the checkpoint file); through
 * the public API, the writer thread runs on the same file system, journaling to a file the
 * test then replays.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ioError } from '../../src/errors.js';
import { nodeFs } from '../../src/fs.js';
import { ErrorCode, openWal, type WalError } from '../../src/index.js';
import { openWalWith } from '../../src/open.js';
import { LogWriter } from '../../src/writer/log-writer.js';
import { type JournalEntry, pageCacheFs, readJournal } from '../fixtures/page-cache-fs.mjs';
import { type DataOutcome, materialize, modelAt, type NameOutcome } from '../helpers/crash-model.js';
import {
  InProcessLog,
  type Promised,
  recoverInProcess,
  recoverPublic,
  valueFor,
  violations,
  writerConfig,
} from '../helpers/crash-workload.js';
import { gapless, readAll } from '../helpers/read.js';
import { tempDirs } from '../helpers/tmp.js';

const PAGE_CACHE_FS = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'fixtures',
  'page-cache-fs.mjs',
);

const { dir, removeAll } = tempDirs();
afterAll(removeAll);

/** Power-cut outcomes tried after each failure (see crash-model.ts). */
const AFTER_FAILURE: [DataOutcome, NameOutcome][] = [
  ['lost', 'none'],
  ['lost', 'all'],
  ['kept', 'all'],
  ['torn-4096', 'all'],
  ['garbage', 'all'],
];

interface EioRun {
  dir: string;
  journal: JournalEntry[];
  appended: Map<number, unknown>;
  /** The journal index of the failed call, or -1. */
  failedAt: number;
  /** Durable LSN when the error was published (or when open failed). */
  ackedAtFailure: number;
  checkpointAtFailure: number;
  requested: number;
  error: { code: string; errno?: string } | null;
  /** Problems seen while the workload ran: acknowledgements after the failure, syncs after it. */
  problems: string[];
}

/**
 * A small workload (appends, preallocation, rotation, checkpoints with requireCheckpoint
 * retention) whose `failAt`-th sync call (fdatasync or fsync, files and directory alike)
 * fails with EIO once; every later sync would succeed. After the failure it keeps appending
 * and stepping, and watches that nothing more is acknowledged.
 */
function eioRun(failAt: number | null): EioRun {
  const d = dir('ringwal-eio-');
  const appended = new Map<number, unknown>();
  let log: InProcessLog | null = null;
  let acked = 0;
  let checkpoint = 0;
  let requested = 0;
  const observe = () => {
    if (log) {
      acked = Math.max(acked, log.durable);
      checkpoint = Math.max(checkpoint, log.checkpointLsn);
    }
    return { acked, checkpoint, appended: appended.size, requested };
  };
  const fsys = pageCacheFs(nodeFs, {
    dir: d,
    realSync: false,
    observe,
    faults: failAt === null ? [] : [{ op: 'sync', after: failAt - 1, errno: 'EIO', times: 1 }],
  });
  let clock = Date.UTC(2026, 10, 25, 9, 0, 0);
  const run: EioRun = {
    dir: d,
    journal: fsys.journal,
    appended,
    failedAt: -1,
    ackedAtFailure: 0,
    checkpointAtFailure: 0,
    requested: 0,
    error: null,
    problems: [],
  };
  const finish = () => {
    run.failedAt = fsys.journal.findIndex((e) => e.failed === 'EIO');
    run.requested = requested;
    return run;
  };
  log = new InProcessLog(
    fsys,
    writerConfig(d, {
      preallocate: true,
      retention: { ...writerConfig(d).retention, requireCheckpoint: true },
    }),
    appended,
    () => (clock += 1000),
  );
  try {
    log.open();
  } catch (e) {
    observe();
    // As the writer thread's shell does with a failure while opening.
    const error = ioError(e, 'open');
    run.error = { code: error.code, errno: error.errno };
    run.ackedAtFailure = acked;
    run.checkpointAtFailure = checkpoint;
    return finish();
  }
  let afterFailure = 0;
  for (let round = 0; round < 16 && afterFailure < 3; round++) {
    const n = 1 + (round % 4);
    log.append(
      ...Array.from({ length: n }, (_, i) =>
        valueFor(1, log!.lastLsn + 1 + i, 30 + ((round * 53 + i * 17) % 200)),
      ),
    );
    log.step();
    if (round % 4 === 3) {
      log.step();
      log.step();
    }
    if (round % 5 === 4 && log.durable > 1) {
      requested = Math.max(requested, log.durable - 1);
      log.checkpoint(log.durable - 1);
    }
    if (round % 6 === 5) log.rotate();
    observe();
    if (log.error && run.error === null) {
      run.error = log.error;
      run.ackedAtFailure = log.durable;
      run.checkpointAtFailure = log.checkpointLsn;
    }
    if (run.error !== null) {
      afterFailure++;
      if (log.durable !== run.ackedAtFailure) {
        run.problems.push(`durable LSN moved from ${run.ackedAtFailure} to ${log.durable} after the failure`);
      }
      if (log.checkpointLsn !== run.checkpointAtFailure)
        run.problems.push('checkpoint moved after the failure');
    }
  }
  const calls = fsys.journal.length;
  log.close();
  observe();
  if (run.error === null && failAt !== null && fsys.journal.some((e) => e.failed === 'EIO')) {
    // The failing call was made by close (its final sync).
    run.error = log.error;
    run.ackedAtFailure = acked;
    run.checkpointAtFailure = checkpoint;
  }
  const failed = fsys.journal.findIndex((e) => e.failed === 'EIO');
  if (failed >= 0) {
    // No sync reached the file system after the failure (close only closes descriptors).
    const later = retriedSyncs(fsys.journal.slice(failed + 1));
    if (later.length > 0)
      run.problems.push(
        `${later.length} syncs after the failed one (first: #${later[0].i} ${later[0].op} ${later[0].file})`,
      );
    if (log.durable !== run.ackedAtFailure) run.problems.push(`close acknowledged up to ${log.durable}`);
  }
  void calls;
  return finish();
}

/** Recovers the power-cut images of a run's end state and the page cache itself; returns the problems. */
async function recoverAfter(run: EioRun): Promise<{ problems: string[]; recoveries: number }> {
  const problems: string[] = [];
  const model = modelAt(run.journal, run.journal.length);
  const promised: Promised = {
    acked: run.ackedAtFailure,
    checkpoint: run.checkpointAtFailure,
    appended: run.appended.size,
    requested: run.requested,
    liveFloor: model.liveSegmentFirstLsns()[0] ?? Number.POSITIVE_INFINITY,
    checkpointFloor: 1,
  };
  let recoveries = 0;
  for (const [data, names] of AFTER_FAILURE) {
    const image = model.crashImage(data, names, 17);
    const d = dir('ringwal-eio-image-');
    materialize(image, d);
    const found = violations(await recoverInProcess(d, run.appended), promised);
    recoveries++;
    for (const p of found) problems.push(`power cut (${data}/${names}): ${p}`);
  }
  // A process crash keeps the page cache: the directory as it is.
  const found = violations(await recoverInProcess(run.dir, run.appended), promised);
  recoveries++;
  for (const p of found) problems.push(`process crash: ${p}`);
  return { problems, recoveries };
}

function syncCalls(journal: JournalEntry[]): JournalEntry[] {
  return journal.filter((e) => e.op === 'fdatasync' || e.op === 'fsync');
}

/**
 * Syncs after a failure other than the writer's SYNC_FAILED note (the note's own fsync and the
 * directory fsync that follows it), which are no retry: nothing it had written is synced again.
 */
function retriedSyncs(entries: JournalEntry[]): JournalEntry[] {
  let afterNote = false;
  return syncCalls(entries).filter((e) => {
    if (e.file === 'SYNC_FAILED') {
      afterNote = true;
      return false;
    }
    if (afterNote && e.dir) {
      afterNote = false;
      return false;
    }
    return true;
  });
}

describe('EIO from each sync call of the writer, in turn', () => {
  it('poisons the log: nothing acknowledged after it, every acknowledged entry recovered', async () => {
    const clean = eioRun(null);
    const syncs = syncCalls(clean.journal);
    expect(clean.error).toBeNull();
    const codes = new Map<string, number>();
    const failures: string[] = [];
    let recoveries = 0;
    for (let k = 1; k <= syncs.length; k++) {
      const run = eioRun(k);
      const target = syncs[k - 1];
      const where = `sync #${k} (${target.op} ${target.file})`;
      if (!run.error) {
        failures.push(`${where}: no error published`);
        continue;
      }
      expect(run.error.errno ?? 'EIO').toBe('EIO');
      const code = run.error.code;
      codes.set(
        `${target.op} ${target.dir === true ? 'directory' : 'file'}: ${code}`,
        (codes.get(`${target.op} ${target.dir === true ? 'directory' : 'file'}: ${code}`) ?? 0) + 1,
      );
      // One sticky code: every failed fsync or fdatasync (segment, header, directory,
      // checkpoint) is WAL_FSYNC_FAILED.
      if (code !== ErrorCode.FSYNC_FAILED)
        failures.push(`${where}: a ${target.op} failure reported as ${code}`);
      for (const p of run.problems) failures.push(`${where}: ${p}`);
      const after = await recoverAfter(run);
      recoveries += after.recoveries;
      for (const p of after.problems) failures.push(`${where}: ${p}`);
    }
    console.log(
      [
        `fsync EIO: failed each of the workload's ${syncs.length} sync calls in turn (later syncs would succeed); ${recoveries} recoveries checked (${AFTER_FAILURE.length} power-cut outcomes + the page cache, per failure)`,
        `  codes: ${[...codes].map(([k, n]) => `${k} x${n}`).join(', ')}`,
      ].join('\n'),
    );
    expect(failures).toEqual([]);
  });

  it('catches a writer that retries a failed fdatasync and acknowledges', async () => {
    // The writer's private method, patched on the prototype: on EIO, fdatasync again (which
    // succeeds, having written nothing: the pages were dropped) and acknowledge.
    const proto = LogWriter.prototype as unknown as Record<string, (this: unknown) => void>;
    const original = proto.syncAndPublish;
    proto.syncAndPublish = function (this: unknown) {
      try {
        original.call(this);
      } catch {
        original.call(this);
      }
    };
    let run: EioRun;
    try {
      const clean = eioRun(null);
      // A commit in the last segment (retention deletes older ones, and what they lost with them).
      const syncs = syncCalls(clean.journal);
      const commits = syncs.flatMap((e, i) => (e.op === 'fdatasync' && e.file?.endsWith('.log') ? [i] : []));
      run = eioRun(commits[commits.length - 3] + 1);
    } finally {
      proto.syncAndPublish = original;
    }
    expect(run.error).toBeNull(); // the retry hid it
    const after = await recoverAfter({ ...run, ackedAtFailure: run.appended.size });
    console.log(`retrying writer: ${after.problems[0] ?? 'NOT caught'}`);
    expect(after.problems.length).toBeGreaterThan(0);
  });
});

describe('EIO through the public API (the writer thread on the page-cache file system)', () => {
  function openFaulty(d: string, journalPath: string, after: number, ackPollUs = 0) {
    return openWalWith(
      d,
      { flushOnExit: false, preallocate: false, ringBytes: 64 * 1024, maxEntryBytes: 1024 * 1024, ackPollUs },
      {
        faultFs: {
          module: PAGE_CACHE_FS,
          plan: {
            dir: d,
            journalPath,
            // fdatasync number after + 1 of a segment file fails once; every later one would succeed.
            faults: [{ op: 'fdatasync', file: '.log', after, errno: 'EIO', times: 1 }],
          },
        },
      },
    );
  }

  // ackPollUs: the main thread polls the durable LSN between event-loop turns instead of
  // waiting to be woken; it must acknowledge exactly as much.
  for (const ackPollUs of [0, 1000]) {
    it(`rejects the failing batch and all later appends with WAL_FSYNC_FAILED; reopen after a power cut has every acknowledged entry (ackPollUs ${ackPollUs})`, async () => {
      const d = dir('ringwal-eio-api-');
      const journalPath = path.join(dir('ringwal-eio-journal-'), 'journal.jsonl');
      // fdatasync 1 is the first segment's header; commits 1-20 succeed; commit 21 fails.
      const wal = await openFaulty(d, journalPath, 21, ackPollUs);
      const values = new Map<number, unknown>();
      const acked: number[] = [];
      let failure: WalError | null = null;
      for (let i = 1; i <= 40 && !failure; i++) {
        const value = { i, pad: 'p'.repeat(i * 13) };
        values.set(i, value);
        try {
          acked.push(await wal.append(value));
        } catch (e) {
          failure = e as WalError;
        }
      }
      expect(failure).toMatchObject({ code: ErrorCode.FSYNC_FAILED, errno: 'EIO' });
      expect(acked).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      // Later appends, a burst, sync() and close(): all the same code; nothing more acknowledged.
      const later = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => wal.append({ late: i })));
      expect(
        new Set(later.map((r) => (r.status === 'rejected' ? (r.reason as WalError).code : 'acked'))),
      ).toEqual(new Set([ErrorCode.FSYNC_FAILED]));
      await expect(wal.sync()).rejects.toMatchObject({ code: ErrorCode.FSYNC_FAILED });
      expect(wal.durableLsn).toBe(20);
      await expect(wal.close()).rejects.toMatchObject({ code: ErrorCode.FSYNC_FAILED });

      const journal = readJournal(journalPath);
      const failedAt = journal.findIndex((e) => e.failed === 'EIO');
      expect(journal[failedAt]).toMatchObject({ op: 'fdatasync', acked: 20 });
      // The writer thread synced nothing it had written after the failed one (only its SYNC_FAILED note).
      expect(retriedSyncs(journal.slice(failedAt + 1))).toEqual([]);
      expect(Math.max(...journal.map((e) => e.acked))).toBe(20);

      // Power cut: each outcome of the model, reopened with openWal; and the page cache as is.
      const model = modelAt(journal, journal.length);
      const checked: string[] = [];
      for (const [data, names] of AFTER_FAILURE) {
        const image = dir('ringwal-eio-api-image-');
        materialize(model.crashImage(data, names, 5), image);
        await expectAckedRecovered(image, values, 20);
        checked.push(`${data}/${names}`);
      }
      await expectAckedRecovered(d, values, 20);
      console.log(
        `fsync EIO via the writer thread (ackPollUs ${ackPollUs}): 20 acknowledged before the failure, recovered after ${checked.join(', ')} and the page cache`,
      );
    });
  }

  it('rejects every append pending at the failure with the same error, and reopen keeps every acknowledged one', async () => {
    const d = dir('ringwal-eio-api-');
    const journalPath = path.join(dir('ringwal-eio-journal-'), 'journal.jsonl');
    const wal = await openFaulty(d, journalPath, 4);
    const values = new Map<number, unknown>();
    const acked: number[] = [];
    const codes = new Set<string>();
    for (let round = 0; round < 12; round++) {
      const batch = Array.from({ length: 200 }, (_, i) => ({ round, i }));
      const settled = await Promise.allSettled(
        batch.map((v) => {
          const p = wal.append(v);
          values.set(wal.lastLsn, v);
          return p;
        }),
      );
      for (const r of settled) {
        if (r.status === 'fulfilled') acked.push(r.value);
        else codes.add((r.reason as WalError).code);
      }
    }
    expect([...codes]).toEqual([ErrorCode.FSYNC_FAILED]);
    expect(acked).toEqual(Array.from({ length: acked.length }, (_, i) => i + 1));
    await wal.close().catch(() => {});
    const journal = readJournal(journalPath);
    expect(Math.max(...journal.map((e) => e.acked))).toBe(acked.length);
    const image = dir('ringwal-eio-api-image-');
    materialize(modelAt(journal, journal.length).crashImage('lost', 'none', 1), image);
    await expectAckedRecovered(image, values, acked.length);
    console.log(
      `fsync EIO with 200 appends in flight: ${acked.length} acknowledged before the failure, all recovered after a power cut`,
    );
  });
});

/** Opens `d` with openWal, checks entries 1..acked read back exactly and gaplessly, appends one more. */
async function expectAckedRecovered(d: string, values: Map<number, unknown>, acked: number): Promise<void> {
  const r = await recoverPublic(d, values);
  expect(r.opened, r.error).toBe(true);
  expect(r.problems).toEqual([]);
  expect(r.first).toBe(1);
  expect(r.last).toBeGreaterThanOrEqual(acked);
  const entries = await readAll(d);
  expect(gapless(entries)).toBeNull();
  for (let lsn = 1; lsn <= acked; lsn++) {
    if (!isDeepStrictEqual(entries[lsn - 1].value, values.get(lsn))) throw new Error(`LSN ${lsn} differs`);
  }
  expect(await openWal(d, { flushOnExit: false }).then((w) => w.close())).toBeUndefined();
}
