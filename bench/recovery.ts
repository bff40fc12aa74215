/**
 * `npm run bench:recovery`: recovery on a large log. Builds (once; kept under --dir) a log
 * of at least 1 GiB of the standard entry as set operations over 100k distinct keys, then
 * reports, for threads = 1 and 2: recoverState time and entries/s, readWal replay
 * (sequential, and on a pool of 1 and 2 threads; entries/s, MB/s), a verify-only scan (CRC
 * and sequence checks, no decoding; MB/s), and each phase's peak RSS (each runs in a fresh
 * process, so one phase's heap does not count against the next).
 *
 * Beside each phase it prints the machine's ceilings, measured in a fresh process just
 * before that phase (the host's speed drifts 2-4x between minutes, so a phase is compared
 * only with a ceiling taken next to it): msgpackr `unpack` of every record of the log from
 * memory (entries/s; the decoding any reader must do) and a plain sequential read of the
 * segment files (MB/s; the I/O any reader must do). See docs/BENCHMARKS.md "Session 8".
 *
 *   npm run bench:recovery -- [--dir PATH] [--entries N] [--phases a,b,...]
 */

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeFs } from '../src/fs.js';
import { openWal, readWal, readWalBatches, recoverState } from '../src/index.js';
import { MAX_ENTRY_BYTES } from '../src/options.js';
import { listSegments } from '../src/segment/naming.js';
import { scanSegmentFile } from '../src/segment/scan-file.js';
import { measureCeilings } from './ceilings.js';

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

/** One measured phase, run in a process of its own so its peak RSS is its own. */
async function phase(name: string): Promise<Record<string, number>> {
  const bytes = logBytes();
  const t0 = performance.now();
  let entries = 0;
  let keys = 0;
  if (name.startsWith('recoverState:')) {
    const threads = Number(name.split(':')[1]);
    keys = (await recoverState(dir, { threads })).size;
    entries = ENTRIES;
  } else if (name === 'readWalBatches') {
    for await (const batch of readWalBatches(dir)) entries += batch.length;
  } else if (name.startsWith('readWal:')) {
    const threads = Number(name.split(':')[1]);
    for await (const _ of readWal(dir, threads > 0 ? { threads } : {})) entries++;
  } else if (name === 'verify') {
    for (const s of listSegments(nodeFs, dir))
      entries += scanSegmentFile(nodeFs, s.path, { maxEntryBytes: MAX_ENTRY_BYTES }).entries;
  } else if (name === 'ceiling') {
    return { ...measureCeilings(dir), rssMb: rssMb() };
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    seconds,
    entries,
    keys,
    mbPerS: mb(bytes) / seconds,
    entriesPerS: entries / seconds,
    rssMb: rssMb(),
  };
}

function runPhase(name: string): Record<string, number> {
  const out = execFileSync(
    process.execPath,
    [fileURLToPath(import.meta.url), '--phase', name, '--dir', dir, '--entries', String(ENTRIES)],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  return JSON.parse(out.trim().split('\n').at(-1)!);
}

/** Each phase: its key (`--phase`), its label, and which ceiling it is held against. */
const PHASES: { name: string; label: string; against: 'unpack' | 'read' }[] = [
  { name: 'recoverState:1', label: 'recoverState, 1 thread', against: 'unpack' },
  { name: 'recoverState:2', label: 'recoverState, 2 threads', against: 'unpack' },
  { name: 'readWal:0', label: 'readWal replay, sequential (no pool)', against: 'unpack' },
  {
    name: 'readWalBatches',
    label: 'readWalBatches replay, sequential (arrays of entries)',
    against: 'unpack',
  },
  { name: 'readWal:1', label: 'readWal replay, threads 1', against: 'unpack' },
  { name: 'readWal:2', label: 'readWal replay, threads 2', against: 'unpack' },
  { name: 'verify', label: 'verify-only scan (CRC + sequence, no decode), one thread', against: 'read' },
];

/** The issue's goals (#19), each a ratio against the ceiling measured next to the phase. */
const GOALS: Record<string, string> = {
  'readWal:0': '>= 0.7x unpack',
  'recoverState:2': '>= 1.6x unpack',
  verify: '>= 0.8x plain read, or >= 1 GB/s with the files cached',
};

async function main(): Promise<void> {
  const only = arg('phase');
  if (only) {
    console.log(JSON.stringify(await phase(only)));
    return;
  }
  await build();
  const bytes = logBytes();
  const segments = listSegments(nodeFs, dir).length;
  console.log(
    `log: ${fmt(ENTRIES)} entries, ${mb(bytes).toFixed(0)} MiB in ${segments} segments; Node ${process.version}, ${os.availableParallelism()} cores`,
  );
  console.log(
    "each phase runs in a fresh process, right after one that measures the ceilings; peak RSS is that process's (main thread and workers); MB = MiB",
  );
  const chosen = arg('phases')?.split(',');
  const phases = PHASES.filter((p) => !chosen || chosen.includes(p.name));
  const results: string[] = [];
  const r: Record<string, Record<string, number>> = {};
  for (const { name, label, against } of phases) {
    const c = runPhase('ceiling');
    const m = runPhase(name);
    r[name] = m;
    const ratio =
      against === 'unpack'
        ? `${(m.entriesPerS / c.unpackEntriesPerS).toFixed(2)}x unpack`
        : `${(m.mbPerS / c.readMbPerS).toFixed(2)}x plain read, ${((m.mbPerS * 1024 * 1024) / 1e9).toFixed(2)} GB/s`;
    results.push(
      `${label}: ${m.seconds.toFixed(2)} s, ${fmt(m.entriesPerS)} entries/s, ${fmt(m.mbPerS)} MB/s` +
        `${m.keys ? `, ${fmt(m.keys)} keys` : ''}; peak RSS ${m.rssMb.toFixed(0)} MiB\n` +
        `    ceilings next to it: unpack ${fmt(c.unpackEntriesPerS)} entries/s, plain read ${fmt(c.readMbPerS)} MB/s` +
        ` -> ${ratio}${GOALS[name] ? ` (goal ${GOALS[name]})` : ''}`,
    );
    console.log(results.at(-1));
  }
  console.log('\nsummary');
  for (const line of results) console.log(`  ${line}`);
  if (r['recoverState:1'] && r['recoverState:2'])
    console.log(
      `  recoverState 2 threads / 1 thread speed-up: ${(r['recoverState:1'].seconds / r['recoverState:2'].seconds).toFixed(2)}x`,
    );
  if (r['readWal:0'] && r['readWal:2'])
    console.log(
      `  readWal threads 2 / sequential speed-up: ${(r['readWal:0'].seconds / r['readWal:2'].seconds).toFixed(2)}x`,
    );
  const peak = Math.max(...Object.values(r).map((m) => m.rssMb));
  console.log(
    `  peak RSS of any phase: ${peak.toFixed(0)} MiB = ${((peak * 1024 * 1024) / 1e6).toFixed(0)} MB (goal <= 300 MiB)`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
