/**
 * `npm run bench:peers` (issue #22): ringwal beside the durable logs and stores a Node program
 * would otherwise use, and beside pino's destinations, on the standard entry. First install
 * the peers, which are not ringwal's dependencies: `npm ci --prefix bench/peers`. A peer that
 * is missing or fails to load is a row that says so; the run goes on.
 *
 * Cases: a closed loop with 1, 64 and 1024 writes in flight; all at once (200,000 appends
 * issued in one synchronous loop, fewer for the slow rows, then all awaited); batches of 1000
 * (the row's own batch API where it has one). Each case of each row runs in a process of its
 * own, in a fresh directory removed afterwards, after a 0.3 s warm-up, and is bounded in time
 * (`--seconds`, and a timeout that turns a hung case into a row that says so). Rows and their
 * meaning of "acknowledged": bench/peer-rows.ts; the measurements: bench/peer-measure.ts.
 *
 * Writes docs/charts/peers.json (every result), docs/charts/peers.md (the tables) and the
 * charts, docs/charts/*.svg (bench/charts.ts).
 *
 *   npm run bench:peers -- [--seconds S] [--rounds N] [--only SUBSTRING] [--cases c1,c64,c1024,all,batch] [--out DIR]
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeCharts } from './charts.js';
import { arg, fmt, medianOf, REPO_ROOT } from './child-run.js';
import { allAtOnce, batches, type CaseResult, closedLoop } from './peer-measure.js';
import { type CaseId, type Opened, SYSTEMS, type System } from './peer-rows.js';

const SECONDS = Number(arg('seconds') ?? 1.5);
const ROUNDS = Number(arg('rounds') ?? 3);
const WARMUP_SECONDS = 0.3;
const ALL_AT_ONCE = 200_000;
const BATCH = 1000;
/** Per case: the measured seconds, the warm-up, a start-up and a close, with room to spare. */
const TIMEOUT_MS = (SECONDS + 30) * 1000;
const SCRIPT = fileURLToPath(import.meta.url);
const OUT = path.resolve(arg('out') ?? path.join(REPO_ROOT, 'docs', 'charts'));

export const CASES: { id: CaseId; label: string; inFlight?: number }[] = [
  { id: 'c1', label: '1 in flight', inFlight: 1 },
  { id: 'c64', label: '64 in flight', inFlight: 64 },
  { id: 'c1024', label: '1024 in flight', inFlight: 1024 },
  { id: 'all', label: 'all at once' },
  { id: 'batch', label: 'batches of 1000' },
];

/** What a child prints: a result, or why there is none. */
export type Outcome = CaseResult | { missing: string } | { failed: string };

/** A closed loop of bursts for the fast path: two bursts of N/2 in flight (one of 1 at N = 1). */
async function burstLoop(opened: Opened, inFlight: number, seconds: number): Promise<CaseResult> {
  const burst = inFlight === 1 ? 1 : inFlight / 2;
  const r = await closedLoop(
    (k) => opened.batch(k * burst, burst),
    Math.min(2, inFlight),
    seconds,
    opened.finish,
  );
  return {
    ...r,
    entries: r.entries * burst,
    entriesPerSec: r.entriesPerSec * burst,
    cpuUsPerEntry: r.cpuUsPerEntry / burst,
  };
}

async function runCase(system: System, opened: Opened, id: CaseId): Promise<CaseResult> {
  const c = CASES.find((x) => x.id === id)!;
  // Warm-up and measured run use different entry numbers, so keyed stores insert, not update.
  const base = 1e9;
  const measured: Opened = {
    ...opened,
    append: (i) => opened.append(base + i),
    batch: (from, n) => opened.batch(base + from, n),
  };
  if (c.inFlight) {
    if (opened.bursts) {
      await burstLoop(opened, c.inFlight, WARMUP_SECONDS);
      return burstLoop(measured, c.inFlight, SECONDS);
    }
    await closedLoop(opened.append, c.inFlight, WARMUP_SECONDS, opened.finish);
    return closedLoop(measured.append, c.inFlight, SECONDS, opened.finish);
  }
  if (id === 'all') {
    const entries = system.allAtOnce ?? ALL_AT_ONCE;
    await closedLoop(opened.append, 64, WARMUP_SECONDS, opened.finish);
    if (opened.bursts) return batches(measured.batch, entries, 0, opened.finish); // one burst of them all
    return allAtOnce(measured.append, entries, opened.finish);
  }
  await batches(opened.batch, BATCH, WARMUP_SECONDS, opened.finish);
  return batches(measured.batch, BATCH, SECONDS, opened.finish);
}

async function child(spec: string, dir: string): Promise<void> {
  const [index, id] = spec.split(':');
  const system = SYSTEMS[Number(index)];
  let outcome: Outcome;
  try {
    const opened = await system.open(dir);
    if (!opened)
      outcome = { missing: `${system.peer} is not installed or does not load (npm ci --prefix bench/peers)` };
    else {
      outcome = await runCase(system, opened, id as CaseId);
      await opened.close();
    }
  } catch (error) {
    outcome = { failed: String((error as Error)?.message ?? error).split('\n')[0] };
  }
  console.log(JSON.stringify(outcome));
  // A peer may leave a thread or handle behind; the result is out.
  process.exit(0);
}

function runInChild(index: number, id: CaseId): Outcome {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringwal-peers-'));
  try {
    const out = execFileSync(
      process.execPath,
      [SCRIPT, '--child', `${index}:${id}`, '--dir', dir, '--seconds', String(SECONDS)],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: TIMEOUT_MS, killSignal: 'SIGKILL' },
    );
    return JSON.parse(out.trim().split('\n').at(-1)!) as Outcome;
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { signal?: string };
    if (e.signal === 'SIGKILL') return { failed: `timed out after ${TIMEOUT_MS / 1000} s` };
    return { failed: `the child failed: ${String(e.message).split('\n')[0]}` };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true }); // data wiped between cases
  }
}

export interface Row {
  system: string;
  durable: string;
  batchIs: string;
  caseId: CaseId;
  caseLabel: string;
  outcome: Outcome;
}

const isResult = (o: Outcome): o is CaseResult => 'entriesPerSec' in o;

/** The median of each column over rounds (one round: that round); a failed round is left out. */
function medianOutcome(outcomes: Outcome[]): Outcome {
  const results = outcomes.filter(isResult);
  if (results.length === 0) return outcomes[0];
  const keys = Object.keys(results[0]) as (keyof CaseResult)[];
  return Object.fromEntries(
    keys.map((k) => [k, medianOf(results.map((r) => r[k]))]),
  ) as unknown as CaseResult;
}

function markdownTable(rows: Row[]): string {
  const lines = [
    '| case | system | durable? | entries/s | ack p50 µs | ack p99 µs | ack max µs | main-thread CPU µs/entry | ELD p99 ms | ELD max ms | peak RSS MiB |',
    '|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const r of rows) {
    const o = r.outcome;
    const head = `| ${r.caseLabel} | ${r.system} | ${r.durable} |`;
    if (!isResult(o)) {
      lines.push(`${head} ${'missing' in o ? o.missing : `failed: ${o.failed}`} | | | | | | | |`);
      continue;
    }
    lines.push(
      `${head} ${fmt(o.entriesPerSec)} | ${fmt(o.ackP50Us)} | ${fmt(o.ackP99Us)} | ${fmt(o.ackMaxUs)} | ${fmt(o.cpuUsPerEntry, 2)} | ${fmt(o.eldP99Ms, 2)} | ${fmt(o.eldMaxMs, 2)} | ${fmt(o.peakRssMiB)} |`,
    );
  }
  return lines.join('\n');
}

/** The issue's must-show comparisons, as ratios of rows of this run. */
function mustShow(rows: Row[]): string[] {
  const get = (system: string, id: CaseId): CaseResult | null => {
    const o = rows.find((r) => r.system === system && r.caseId === id)?.outcome;
    return o && isResult(o) ? o : null;
  };
  const lines: string[] = [];
  const ringwals = ['ringwal append, sync always', 'ringwal appendNoWait + waitFor'];
  const durablePeers = SYSTEMS.filter((s) => s.durable.startsWith('yes') && !s.name.startsWith('ringwal'));
  for (const id of ['c64', 'c1024'] as const) {
    for (const name of ringwals) {
      const me = get(name, id);
      if (!me) continue;
      for (const peer of [...durablePeers.map((s) => s.name), 'pino worker transport']) {
        const other = get(peer, id);
        if (!other) continue;
        const speed = me.entriesPerSec / other.entriesPerSec;
        const cpu = other.cpuUsPerEntry / me.cpuUsPerEntry;
        lines.push(
          `${id.slice(1)} in flight: ${name} / ${peer}: ${speed.toFixed(2)}x entries/s, ${cpu.toFixed(2)}x less main-thread CPU per entry${speed < 1 ? '  <- behind' : ''}`,
        );
      }
    }
  }
  const durableAt1024 = SYSTEMS.filter((s) => s.durable.startsWith('yes'))
    .map((s) => [s.name, get(s.name, 'c1024')] as const)
    .filter((x): x is readonly [string, CaseResult] => x[1] !== null)
    .sort((a, b) => a[1].eldP99Ms - b[1].eldP99Ms);
  lines.push(
    `ELD p99 at 1024 in flight, durable rows, lowest first: ${durableAt1024.map(([n, r]) => `${n} ${fmt(r.eldP99Ms, 2)} ms`).join('; ')}`,
  );
  return lines;
}

async function main(): Promise<void> {
  const only = arg('only');
  const caseIds = (arg('cases')?.split(',') ?? CASES.map((c) => c.id)) as CaseId[];
  const started = new Date();
  const loadAtStart = os.loadavg();
  const header = `ringwal bench:peers: Node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), ${os.platform()} ${os.release()}, ${SECONDS} s per case in a fresh process, ${ROUNDS} round(s), load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}, ${started.toISOString()}`;
  console.log(header);
  const rows: Row[] = [];
  for (const c of CASES.filter((x) => caseIds.includes(x.id))) {
    const systems = [...SYSTEMS.entries()].filter(
      ([, s]) => (!only || s.name.includes(only)) && (!s.cases || s.cases.includes(c.id)),
    );
    // Rounds interleaved: every row of a case once, then again, so that rows compared with
    // each other ran minutes apart at most, under the same load.
    const outcomes = new Map<number, Outcome[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const [index] of systems)
        outcomes.set(index, [...(outcomes.get(index) ?? []), runInChild(index, c.id)]);
    }
    for (const [index, system] of systems) {
      const outcome = medianOutcome(outcomes.get(index)!);
      rows.push({
        system: system.name,
        durable: system.durable,
        batchIs: system.batchIs,
        caseId: c.id,
        caseLabel: c.label,
        outcome,
      });
      const text = isResult(outcome)
        ? `${fmt(outcome.entriesPerSec).padStart(9)}/s  ack p50 ${fmt(outcome.ackP50Us)} p99 ${fmt(outcome.ackP99Us)} µs  CPU ${fmt(outcome.cpuUsPerEntry, 2)} µs/entry  ELD p99 ${fmt(outcome.eldP99Ms, 2)} ms  RSS ${fmt(outcome.peakRssMiB)} MiB`
        : 'missing' in outcome
          ? outcome.missing
          : `failed: ${outcome.failed}`;
      console.log(`  ${c.label.padEnd(15)} ${system.name.padEnd(36)} ${text}`);
    }
  }
  const table = markdownTable(rows);
  const checks = mustShow(rows);
  console.log(`\n${table}\n\n${checks.join('\n')}`);
  fs.mkdirSync(OUT, { recursive: true });
  const meta = {
    node: process.version,
    cores: os.cpus().length,
    cpu: os.cpus()[0]?.model,
    kernel: os.release(),
    date: started.toISOString(),
    seconds: SECONDS,
    rounds: ROUNDS,
    loadAverageAtStart: loadAtStart,
    loadAverageAtEnd: os.loadavg(),
  };
  fs.writeFileSync(path.join(OUT, 'peers.json'), `${JSON.stringify({ meta, rows }, null, 2)}\n`);
  const batchNotes = SYSTEMS.map((s) => `- ${s.name}: ${s.batchIs}`).join('\n');
  fs.writeFileSync(
    path.join(OUT, 'peers.md'),
    `${header}\n\n${table}\n\nBatches of 1000, per row:\n${batchNotes}\n\nMust-show ratios (same run):\n${checks.map((l) => `- ${l}`).join('\n')}\n`,
  );
  const written = await writeCharts(rows, OUT);
  console.log(
    `\nwrote ${path.relative(process.cwd(), path.join(OUT, 'peers.json'))}, peers.md, ${written.join(', ')}`,
  );
}

const CHILD = arg('child');
if (CHILD) await child(CHILD, arg('dir')!);
else await main();
