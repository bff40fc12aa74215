/**
 * A quick, precise check while tuning the append path: ringwal (1024 in flight by default) taking 0.2 s
 * turns in one process with the create+encode ceiling, or with another build of ringwal.
 * Turns share the machine's regime, so the ratio holds to a few percent where separate runs
 * drift 2x (docs/BENCHMARKS.md, "Session 5").
 *
 *   node dist/bench/turns.js [--runs N] [--seconds S]                   this build / the ceiling
 *   node dist/bench/turns.js --against OTHER/dist [--runs N] [--seconds S]  this build / OTHER
 *   --in-flight N   appends in flight (default 1024; 1 times the latency path, one commit per entry)
 *
 * To compare a change, copy `dist/` somewhere inside this checkout before building the change
 * (so `node_modules` resolves), then pass that copy as `--against`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openWal } from '../src/index.js';
import { appendTurn, ceiling, type Measure, takeTurns } from './measure.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}
const RUNS = Number(arg('runs') ?? 5);
const SECONDS = Number(arg('seconds') ?? 2);
const AGAINST = arg('against');
const IN_FLIGHT = Number(arg('in-flight') ?? 1024);

const other = AGAINST
  ? ((await import(path.resolve(AGAINST, 'src/index.js'))) as { openWal: typeof openWal })
  : null;
const label = AGAINST
  ? `this build / ${AGAINST} at ${IN_FLIGHT} in flight`
  : `ringwal at ${IN_FLIGHT} in flight / the ceiling`;

/**
 * Runs `body` with fresh logs, removed afterwards. Each run starts from empty logs: on this VM
 * a log that keeps growing slows every write after ~1 GiB (the page cache grows into memory
 * the host has not backed yet; docs/BENCHMARKS.md, "Session 6"), so later runs on one log
 * would measure the machine, not the build.
 */
async function withFreshLogs<T>(body: (mine: Measure, theirs: Measure) => Promise<T>): Promise<T> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ringwal-turns-'));
  const wal = await openWal(path.join(root, 'this'));
  const otherWal = other ? await other.openWal(path.join(root, 'other')) : null;
  try {
    return await body(appendTurn(wal, IN_FLIGHT), otherWal ? appendTurn(otherWal, IN_FLIGHT) : ceiling);
  } finally {
    await wal.close();
    await otherWal?.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

await withFreshLogs((mine, theirs) => takeTurns(mine, theirs, 0.6)); // warm-up
const ratios: number[] = [];
for (let run = 1; run <= RUNS; run++) {
  const r = await withFreshLogs((mine, theirs) => takeTurns(mine, theirs, SECONDS));
  const ratio = r.entriesPerSec / r.otherPerSec!;
  ratios.push(ratio);
  console.log(
    `run ${run}: ${Math.round(r.entriesPerSec)}/s against ${Math.round(r.otherPerSec!)}/s = ${ratio.toFixed(3)}x (this build: CPU ${r.cpuUsPerEntry.toFixed(2)} µs/entry, idle ${r.idleUsPerEntry.toFixed(2)})`,
  );
}
ratios.sort((a, b) => a - b);
console.log(
  `${label}: median ${ratios[ratios.length >> 1].toFixed(3)}x (${ratios[0].toFixed(3)}-${ratios.at(-1)!.toFixed(3)}x)`,
);
