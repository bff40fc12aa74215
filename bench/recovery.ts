/**
 * `npm run bench:recovery`: recovery on a large log. Builds (once; kept under --dir) a log
 * of at least 1 GiB of the standard entry as set operations over 100k distinct keys, then
 * reports, for threads = 1 and 2: recoverState time and entries/s, a sequential readWal
 * replay (entries/s, MB/s), a verify-only scan (CRC and sequence checks, no decoding; MB/s),
 * and the process's peak RSS.
 *
 *   npm run bench:recovery -- [--dir PATH] [--entries N]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { nodeFs } from '../src/fs.js';
import { openWal, readWal, recoverState } from '../src/index.js';
import { MAX_ENTRY_BYTES } from '../src/options.js';
import { scanSegmentFile } from '../src/reader/scan-file.js';
import { listSegments } from '../src/segment/naming.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

const ENTRIES = Number(arg('entries') ?? 8_500_000);
const KEYS = 100_000;
const dir = path.resolve(arg('dir') ?? path.join(os.tmpdir(), 'ringwal-recovery-bench'));

function entry(i: number): unknown {
  return {
    op: 'set',
    key: `user:${i % KEYS}`,
    value: {
      id: i,
      name: `Ada Lovelace of the benchmark cohort #${i % 1000}`,
      score: i * 1.618,
      tags: ['alpha', 'beta', `t${i % 7}`],
    },
    ts: 1795593600000 + i,
  };
}

function logBytes(): number {
  return listSegments(nodeFs, dir).reduce((n, s) => n + fs.statSync(s.path).size, 0);
}

const mb = (bytes: number) => bytes / 1024 / 1024;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const rssMb = () => mb(process.resourceUsage().maxRSS * 1024);

async function build(): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const wal = await openWal(dir, { sync: 'none' });
  if (wal.lastLsn >= ENTRIES) {
    await wal.close();
    return;
  }
  console.log(`building ${fmt(ENTRIES)} entries in ${dir} ...`);
  const t0 = performance.now();
  while (wal.lastLsn < ENTRIES) {
    let last = 0;
    const burst = Math.min(4096, ENTRIES - wal.lastLsn);
    for (let k = 0; k < burst; k++) last = wal.appendNoWait(entry(wal.lastLsn));
    await wal.waitFor(last);
    if (wal.lastLsn % 1_000_000 < burst) console.log(`  ${fmt(wal.lastLsn)} entries`);
  }
  await wal.close();
  console.log(`built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

async function main(): Promise<void> {
  await build();
  const bytes = logBytes();
  const segments = listSegments(nodeFs, dir).length;
  console.log(
    `log: ${fmt(ENTRIES)} entries, ${mb(bytes).toFixed(0)} MiB in ${segments} segments; Node ${process.version}, ${os.availableParallelism()} cores`,
  );

  const results: string[] = [];
  const recoverSeconds: Record<number, number> = {};
  for (const threads of [1, 2]) {
    const t0 = performance.now();
    const state = await recoverState(dir, { threads });
    const seconds = (performance.now() - t0) / 1000;
    recoverSeconds[threads] = seconds;
    results.push(
      `recoverState, ${threads} thread(s): ${seconds.toFixed(2)} s, ${fmt(ENTRIES / seconds)} entries/s, ${fmt(mb(bytes) / seconds)} MB/s, ${fmt(state.size)} keys; peak RSS so far ${rssMb().toFixed(0)} MiB`,
    );
    console.log(results.at(-1));
  }

  let t0 = performance.now();
  let n = 0;
  for await (const _ of readWal(dir)) n++;
  let seconds = (performance.now() - t0) / 1000;
  results.push(
    `readWal (sequential) replay: ${fmt(n / seconds)} entries/s, ${fmt(mb(bytes) / seconds)} MB/s; peak RSS so far ${rssMb().toFixed(0)} MiB`,
  );
  console.log(results.at(-1));

  t0 = performance.now();
  let scanned = 0;
  for (const s of listSegments(nodeFs, dir))
    scanned += scanSegmentFile(nodeFs, s.path, { maxEntryBytes: MAX_ENTRY_BYTES }).entries;
  seconds = (performance.now() - t0) / 1000;
  results.push(
    `verify-only scan (CRC + sequence, no decode): ${fmt(mb(bytes) / seconds)} MB/s, ${fmt(scanned)} entries`,
  );
  console.log(results.at(-1));

  console.log('\nsummary');
  for (const r of results) console.log(`  ${r}`);
  console.log(
    `  recoverState 2 threads / 1 thread speed-up: ${(recoverSeconds[1] / recoverSeconds[2]).toFixed(2)}x (goal >= 1.5x)`,
  );
  console.log(`  peak RSS: ${rssMb().toFixed(0)} MiB (goal <= 300 MiB)`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
