/**
 * Soak (issue #5, item 7): minutes of durable appends at full speed with small segments,
 * rotation and retention on, to show that memory and file descriptors stay flat.
 *
 *   npm run soak -- [--minutes N] [--segment-kib N] [--max-segments N] [--bursts N] [--burst N] [--dir PATH] [--keep]
 *
 * Load: the standard entry (bench/entry.ts) through the fast path: `--bursts` bursts of
 * `--burst` `appendNoWait` calls are kept in flight, each awaited with one `waitFor`, and each
 * acknowledged burst issues the next. Segments are `--segment-kib` KiB (size rotation, plus
 * `rotateIntervalMs` 5 s), retention keeps `--max-segments`, and a checkpoint is taken every
 * second behind the durable LSN (so the checkpoint path runs too).
 *
 * Every 10 s it prints: elapsed time, RSS, JS heap used, open file descriptors (entries of
 * /proc/self/fd), entries/s over the interval, segments on disk and their bytes. At the end it
 * closes the log, reads back what retention kept (gapless, ending at the last acknowledged
 * LSN) and compares RSS and descriptors after warm-up (the first minute, or the first fifth
 * of a shorter run) with the rest of the run.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openWal, readWal } from '../src/index.js';
import { standardEntry } from './entry.js';

function numberArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} needs a positive number`);
  return value;
}

const MINUTES = numberArg('minutes', 10);
const SEGMENT_BYTES = numberArg('segment-kib', 4096) * 1024;
const MAX_SEGMENTS = numberArg('max-segments', 8);
const BURSTS = numberArg('bursts', 4);
const BURST = numberArg('burst', 1024);
const REPORT_MS = 10_000;
const dirAt = process.argv.indexOf('--dir');
const dir =
  dirAt > 0 ? path.resolve(process.argv[dirAt + 1]) : fs.mkdtempSync(path.join(os.tmpdir(), 'ringwal-soak-'));
const keep = process.argv.includes('--keep') || dirAt > 0;

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}
function openFds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}
function segmentsOnDisk(): { count: number; bytes: number } {
  let count = 0;
  let bytes = 0;
  for (const name of fs.readdirSync(dir)) {
    if (!name.endsWith('.log')) continue;
    try {
      bytes += fs.statSync(path.join(dir, name)).size;
      count++;
    } catch {
      // deleted by retention between readdir and stat
    }
  }
  return { count, bytes };
}

interface Sample {
  elapsedS: number;
  rss: number;
  fds: number;
}

async function main(): Promise<void> {
  console.log(
    `ringwal soak: ${MINUTES} min, ${BURSTS} x ${BURST} entries in flight (appendNoWait + waitFor), ` +
      `segments ${SEGMENT_BYTES / 1024} KiB, retention maxSegments ${MAX_SEGMENTS}, rotateIntervalMs 5000, ` +
      `checkpoint every 1 s; Node ${process.version}, ${os.cpus().length} CPUs`,
  );
  console.log(`directory: ${dir}`);
  const wal = await openWal(dir, {
    segmentBytes: SEGMENT_BYTES,
    rotateIntervalMs: 5000,
    retention: { maxSegments: MAX_SEGMENTS },
  });
  const startLsn = wal.lastLsn;
  const t0 = performance.now();
  const endAt = t0 + MINUTES * 60_000;
  let acked = startLsn;
  let lastReportAt = t0;
  let lastReportAcked = acked;
  let failure: unknown = null;
  const samples: Sample[] = [];
  let checkpoints = 0;

  const report = (): void => {
    const now = performance.now();
    const { count, bytes } = segmentsOnDisk();
    const sample = { elapsedS: (now - t0) / 1000, rss: process.memoryUsage.rss(), fds: openFds() };
    samples.push(sample);
    const rate = (acked - lastReportAcked) / ((now - lastReportAt) / 1000);
    lastReportAt = now;
    lastReportAcked = acked;
    console.log(
      `${sample.elapsedS.toFixed(0).padStart(5)} s  rss ${mib(sample.rss).padStart(6)} MiB  ` +
        `heap ${mib(process.memoryUsage().heapUsed).padStart(5)} MiB  fds ${String(sample.fds).padStart(3)}  ` +
        `${fmt(rate).padStart(9)} entries/s  segments ${count} (${mib(bytes)} MiB)  ` +
        `durable LSN ${fmt(wal.durableLsn)}  checkpoint ${fmt(wal.checkpointLsn)}`,
    );
  };
  const reporter = setInterval(report, REPORT_MS);
  const checkpointer = setInterval(() => {
    const target = Math.max(wal.checkpointLsn, wal.durableLsn - 10_000);
    wal.checkpoint(target).then(
      () => checkpoints++,
      (e: unknown) => {
        failure ??= e;
      },
    );
  }, 1000);

  await new Promise<void>((resolve) => {
    let inFlight = 0;
    const burst = (): void => {
      if (failure !== null || performance.now() >= endAt) {
        if (inFlight === 0) resolve();
        return;
      }
      let last = 0;
      try {
        for (let k = 0; k < BURST; k++) last = wal.appendNoWait(standardEntry(wal.lastLsn + 1));
      } catch (e) {
        failure ??= e;
        if (inFlight === 0) resolve();
        return;
      }
      inFlight++;
      wal.waitFor(last).then(
        (lsn) => {
          inFlight--;
          acked = Math.max(acked, lsn);
          burst();
        },
        (e: unknown) => {
          inFlight--;
          failure ??= e;
          if (inFlight === 0) resolve();
        },
      );
    };
    for (let b = 0; b < BURSTS; b++) burst();
  });
  clearInterval(reporter);
  clearInterval(checkpointer);
  const seconds = (performance.now() - t0) / 1000;
  report();
  await wal.close();
  if (failure !== null) throw failure;

  // Read back what retention kept: gapless, ending at the last acknowledged LSN.
  let first = 0;
  let expected = 0;
  let read = 0;
  let bad = 0;
  for await (const entry of readWal(dir)) {
    if (first === 0) expected = first = entry.lsn;
    if (entry.lsn !== expected++) bad++;
    const want = (standardEntry(entry.lsn) as { key: string }).key;
    if ((entry.value as { key: string }).key !== want) bad++;
    read++;
  }
  const lastRead = expected - 1;

  const warmupS = Math.min(60, (MINUTES * 60) / 5);
  const after = samples.filter((s) => s.elapsedS >= warmupS);
  const range = (values: number[]) => [Math.min(...values), Math.max(...values)];
  console.log('\nsummary');
  console.log(
    `  appended   ${fmt(acked - startLsn)} durable entries in ${seconds.toFixed(0)} s = ${fmt((acked - startLsn) / seconds)} entries/s; ${checkpoints} checkpoints`,
  );
  if (after.length > 0) {
    const [rssMin, rssMax] = range(after.map((s) => s.rss));
    const [fdMin, fdMax] = range(after.map((s) => s.fds));
    console.log(
      `  after ${warmupS} s warm-up (${after.length} samples): rss ${mib(rssMin)}-${mib(rssMax)} MiB ` +
        `(spread ${mib(rssMax - rssMin)} MiB), fds ${fdMin}-${fdMax}`,
    );
  }
  const ok = bad === 0 && lastRead === acked;
  console.log(
    `  read back  ${fmt(read)} entries kept by retention, LSN ${fmt(first)}..${fmt(lastRead)}: ${ok ? 'OK (gapless, values match, ends at the last acknowledged LSN)' : `FAILED (${bad} mismatches, last ${lastRead}, acknowledged ${acked})`}`,
  );
  if (!keep) fs.rmSync(dir, { recursive: true, force: true });
  if (!ok) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
