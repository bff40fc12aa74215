/**
 * The main job: a durable workload, then its recovery, with progress and a summary.
 *
 *   npm start -- [--entries N] [--in-flight N] [--dir PATH] [--keep]
 *
 * Appends N standard entries with `sync: 'always'` (each acknowledged only once fdatasync'd),
 * closes, reopens the directory as a crash would (recovery scan), reads every entry back and
 * checks it, and prints throughput and latency.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openWal, readWal } from '../src/index.js';
import { standardEntry } from './entry.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const entries = arg('entries', 200_000);
const inFlight = arg('in-flight', 1024);
const dirArg = process.argv.indexOf('--dir');
const dir =
  dirArg > 0
    ? path.resolve(process.argv[dirArg + 1])
    : fs.mkdtempSync(path.join(os.tmpdir(), 'ringwal-workload-'));
const keep = process.argv.includes('--keep') || dirArg > 0;

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

async function main(): Promise<void> {
  console.log(
    `ringwal workload: ${fmt(entries)} entries, ${inFlight} in flight, sync 'always', Node ${process.version}`,
  );
  console.log(`directory: ${dir}`);
  const wal = await openWal(dir);
  const startLsn = wal.lastLsn;
  const latencies = new Float64Array(entries);
  let issued = 0;
  let acked = 0;
  const t0 = performance.now();
  let lastReport = t0;
  await new Promise<void>((resolve, reject) => {
    const issue = (): void => {
      const i = issued++;
      const started = performance.now();
      wal.append(standardEntry(i)).then(() => {
        latencies[i] = performance.now() - started;
        acked++;
        const now = performance.now();
        if (now - lastReport >= 1000) {
          lastReport = now;
          const rate = acked / ((now - t0) / 1000);
          console.log(
            `  ${fmt(acked)} / ${fmt(entries)} durable  (${fmt(rate)} entries/s, durable LSN ${wal.durableLsn})`,
          );
        }
        if (issued < entries) issue();
        else if (acked === entries) resolve();
      }, reject);
    };
    for (let k = 0; k < Math.min(inFlight, entries); k++) issue();
  });
  const writeSeconds = (performance.now() - t0) / 1000;
  const metrics = wal.metrics();
  await wal.close();
  const sorted = Array.from(latencies).sort((a, b) => a - b);
  const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

  console.log('recovery: reopening and reading every entry back');
  const r0 = performance.now();
  const reopened = await openWal(dir);
  const reopenMs = performance.now() - r0;
  const lastLsn = reopened.lastLsn;
  await reopened.close();
  let read = 0;
  let mismatches = 0;
  let expectedLsn = 1;
  for await (const entry of readWal(dir)) {
    if (entry.lsn !== expectedLsn++) mismatches++;
    if (entry.lsn > startLsn) {
      const want = standardEntry(entry.lsn - startLsn - 1) as { key: string };
      if ((entry.value as { key: string }).key !== want.key) mismatches++;
    }
    read++;
    if (read % 100_000 === 0) console.log(`  read ${fmt(read)}`);
  }
  const readSeconds = (performance.now() - r0) / 1000;
  const bytes = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .reduce((sum, f) => sum + fs.statSync(path.join(dir, f)).size, 0);

  console.log('\nsummary');
  console.log(
    `  appended     ${fmt(entries)} entries in ${writeSeconds.toFixed(2)} s = ${fmt(entries / writeSeconds)} durable entries/s`,
  );
  console.log(
    `  ack latency  p50 ${pct(50).toFixed(3)} ms, p99 ${pct(99).toFixed(3)} ms, max ${pct(100).toFixed(3)} ms`,
  );
  // The fdatasync latency bucket holding the median and the 99th percentile sync.
  const syncUnder = (q: number) => {
    let seen = 0;
    for (const b of metrics.syncLatency) {
      seen += b.count;
      if (seen >= q * metrics.syncs)
        return b.underUs === Number.POSITIVE_INFINITY ? 'over 65 ms' : `< ${b.underUs} µs`;
    }
    return '-';
  };
  console.log(
    `  commits      ${fmt(metrics.writes)} group commits (${fmt(entries / Math.max(1, metrics.writes))} entries each), ${fmt(metrics.syncs)} fdatasyncs: mean ${(metrics.syncMsTotal / Math.max(1, metrics.syncs)).toFixed(3)} ms, p50 ${syncUnder(0.5)}, p99 ${syncUnder(0.99)}, max ${metrics.syncMsMax.toFixed(1)} ms`,
  );
  console.log(
    `  on disk      ${(bytes / 1024 / 1024).toFixed(1)} MiB in ${fs.readdirSync(dir).filter((f) => f.endsWith('.log')).length} segment(s)`,
  );
  console.log(
    `  recovery     reopen ${reopenMs.toFixed(1)} ms (last LSN ${lastLsn}); read ${fmt(read)} entries in ${readSeconds.toFixed(2)} s`,
  );
  const ok = mismatches === 0 && read === lastLsn && lastLsn === startLsn + entries;
  console.log(
    `  check        ${ok ? 'OK: every acknowledged entry read back, LSNs gapless' : `FAILED (${mismatches} mismatches)`}`,
  );
  if (!keep) fs.rmSync(dir, { recursive: true, force: true });
  if (!ok) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
