/**
 * `npm run bench:ship`: shipping a log to NATS JetStream (`ringwal/jetstream`) beside the log's
 * own durable append rate, on a real nats-server (Debian's, JetStream on, file storage, R1) on
 * loopback, started and stopped by this script.
 *
 * In interleaved rounds (the machine is shared and noisy: compare the ratios within a round),
 * each run in a process of its own with a fresh log and a fresh stream:
 *   alone    — durable appends, `inFlight` outstanding (each ack issues the next), no shipper.
 *   shipped  — the same with a shipper attached: in the log's thread (the `Wal` as its source,
 *              `thread: false`), in a worker thread of the same process (`thread: true`, at
 *              nice 0 and at `threadNice` 19), or in a process of its own following the
 *              directory; one entry per message or
 *              packed (`entriesPerMessage`, `--packed`, default 1024). Also: entries the
 *              stream acknowledged during the load, and the rate from the first append until
 *              the stream held the last.
 *   steady   — an open loop with the shipper in process (after a second's warm-up): packed at
 *              half the durable append rate (the issue's load), in the log's thread and in a
 *              worker thread, and one entry per message (log's thread) at half of what that shipper
 *              sustained (half of the append rate would only build a backlog). Measures the lag
 *              from an entry's durable acknowledgement to the stream's acknowledgement of it
 *              (every 16th entry, read each millisecond), and the lag in entries.
 *
 *   npm run bench:ship -- [--rounds 3] [--seconds 3] [--in-flight 1024] [--packed 1024] [--nice 0]
 *
 * `--nice N` runs the directory shipper process at niceness N (the appends' threads then win
 * the cores they share with it).
 *
 * Needs `nats-server` on the PATH (`apt-get install nats-server`) and the dev dependencies
 * `@nats-io/jetstream` and `@nats-io/transport-node` (`npm ci`).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openWal, type Wal } from '../src/index.js';
import { type ShipOptions, shipToJetStream } from '../src/jetstream.js';
import { arg, fmt, medianOf, runChild } from './child-run.js';
import { standardEntry } from './entry.js';
import { closedLoop, percentile } from './measure.js';

const ROUNDS = Number(arg('rounds') ?? 3);
const SECONDS = Number(arg('seconds') ?? 3);
const IN_FLIGHT = Number(arg('in-flight') ?? 1024);
const CHILD = arg('child');
/** Niceness of a directory shipper process (`--nice`). */
const NICE = Number(arg('nice') ?? 0);
/** Where a child's in-process shipper runs (`--thread 1`: a worker thread) and at which niceness. */
const THREAD = arg('thread') === '1';
const THREAD_NICE = Number(arg('thread-nice') ?? 0);
/** Entries per message of a child's shipper (`--pack`). */
const PACK = Number(arg('pack') ?? 1);
/** The packed configurations' `entriesPerMessage`: a follower's batch. */
const PACK_DEFAULT = Number(arg('packed') ?? 1024);
const STEADY_WARMUP_MS = 1000;
const SCRIPT = fileURLToPath(import.meta.url);

interface AloneResult {
  appendPerSec: number;
  /** CPU time of the appending process (main thread, writer, everything) per entry. */
  cpuUsPerEntry: number;
}
interface ShippedResult {
  appendPerSec: number;
  /** Entries the stream acknowledged per second while the appends ran. */
  shippedPerSecUnderLoad: number;
  /** All entries over the time from the first append until the stream held the last. */
  shippedPerSecOverall: number;
  drainMs: number;
  entries: number;
  /** CPU per entry from the load's start until the stream held the last: the appending process (with an in-process shipper), a directory shipper's process, nats-server. */
  cpuUsPerEntry: number;
  shipperProcessCpuUsPerEntry: number;
  serverCpuUsPerEntry: number;
}
interface SteadyResult {
  ratePerSec: number;
  achievedPerSec: number;
  lagMsP50: number;
  lagMsP99: number;
  lagMsMax: number;
  lagEntriesP99: number;
  lagEntriesMax: number;
  /** Appends refused with WAL_BACKPRESSURE: the rate was more than the writer could take. */
  rejected: number;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function startServer(): Promise<{ url: string; child: ChildProcess; dir: string }> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringwal-bench-nats-'));
  const child = spawn('nats-server', ['-js', '-sd', dir, '-a', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  const deadline = Date.now() + 10_000;
  while (!log.includes('Server is ready')) {
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`nats-server did not start:\n${log}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url: `nats://127.0.0.1:${port}`, child, dir };
}

/** CPU time (user + system) a process has used, in µs, from /proc (Linux); 0 for none. */
function cpuUsOf(pid: number | null): number {
  if (!pid) return 0;
  // Fields 14 and 15 of /proc/PID/stat, in clock ticks (100 per second on Linux).
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

function logDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ringwal-bench-ship-'));
}

async function alone(): Promise<AloneResult> {
  const dir = logDir();
  const wal = await openWal(dir);
  await closedLoop(() => wal.append(standardEntry(0)), IN_FLIGHT, 0.3); // warm-up
  const before = wal.lastLsn;
  const cpu = process.cpuUsage();
  const r = await closedLoop((i) => wal.append(standardEntry(i)), IN_FLIGHT, SECONDS);
  const used = process.cpuUsage(cpu);
  const entries = wal.lastLsn - before;
  await wal.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return { appendPerSec: r.entriesPerSec, cpuUsPerEntry: (used.user + used.system) / entries };
}

/** What a shipper reports: in this process, or in a process of its own following the directory. */
interface ShipperHandle {
  /** The shipper's own process, or null when it runs in this one. */
  pid: number | null;
  shippedLsn(): number;
  stop(): Promise<void>;
}

/** What every shipper of a run is given (the `Wal` shippers add where they run). */
function shipOptions(server: string, stream: string): ShipOptions {
  return { servers: server, stream, subject: `${stream}.wal`, createStream: true, entriesPerMessage: PACK };
}

async function inProcessShipper(wal: Wal, server: string, stream: string): Promise<ShipperHandle> {
  const shipper = await shipToJetStream(wal, {
    ...shipOptions(server, stream),
    thread: THREAD,
    threadNice: THREAD_NICE,
  });
  return { pid: null, shippedLsn: () => shipper.shippedLsn, stop: () => shipper.stop() };
}

/** A shipper process following `dir` (`--child ship-dir`), reporting its shipped LSN on stdout. */
async function directoryShipper(dir: string, server: string, stream: string): Promise<ShipperHandle> {
  const args = [
    SCRIPT,
    '--child',
    'ship-dir',
    '--dir',
    dir,
    '--server',
    server,
    '--stream',
    stream,
    '--pack',
    String(PACK),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  if (NICE !== 0) os.setPriority(child.pid as number, NICE);
  let shipped = -1;
  let rest = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    rest += chunk;
    const lines = rest.split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) if (line.startsWith('shipped ')) shipped = Number(line.slice(8));
  });
  while (shipped < 0) {
    if (child.exitCode !== null) throw new Error('the shipper process exited');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return {
    pid: child.pid as number,
    shippedLsn: () => shipped,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/** `--child ship-dir`: ships a directory until SIGTERM, printing its shipped LSN every millisecond. */
async function shipDirectory(dir: string, server: string, stream: string): Promise<never> {
  const shipper = await shipToJetStream(dir, shipOptions(server, stream));
  const report = (): boolean => process.stdout.write(`shipped ${shipper.shippedLsn}\n`);
  report();
  const timer = setInterval(report, 1);
  process.once('SIGTERM', () => {
    clearInterval(timer);
    void shipper.stop().then(() => process.exit(0));
  });
  return new Promise<never>(() => {});
}

async function shipped(server: string, stream: string, via: string): Promise<ShippedResult> {
  const dir = logDir();
  const wal = await openWal(dir);
  await wal.append(standardEntry(0)); // a segment for a directory shipper to find
  const shipper =
    via === 'dir' ? await directoryShipper(dir, server, stream) : await inProcessShipper(wal, server, stream);
  await closedLoop(() => wal.append(standardEntry(0)), IN_FLIGHT, 0.3); // warm-up (shipped too)
  while (shipper.shippedLsn() < wal.lastLsn) await new Promise((resolve) => setTimeout(resolve, 5));
  const firstLsn = wal.lastLsn;
  const shippedBefore = shipper.shippedLsn();
  const serverPid = Number(arg('server-pid'));
  const cpu0 = { self: process.cpuUsage(), shipper: cpuUsOf(shipper.pid), server: cpuUsOf(serverPid) };
  const t0 = performance.now();
  const r = await closedLoop((i) => wal.append(standardEntry(i)), IN_FLIGHT, SECONDS);
  const loadEnd = performance.now();
  const shippedDuringLoad = shipper.shippedLsn() - shippedBefore;
  const last = wal.lastLsn;
  while (shipper.shippedLsn() < last) await new Promise((resolve) => setTimeout(resolve, 1));
  const drained = performance.now();
  const self = process.cpuUsage(cpu0.self);
  const shipperCpu = cpuUsOf(shipper.pid) - cpu0.shipper;
  const serverCpu = cpuUsOf(serverPid) - cpu0.server;
  await shipper.stop();
  await wal.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return {
    appendPerSec: r.entriesPerSec,
    shippedPerSecUnderLoad: shippedDuringLoad / ((loadEnd - t0) / 1000),
    shippedPerSecOverall: (last - firstLsn) / ((drained - t0) / 1000),
    drainMs: drained - loadEnd,
    entries: last - firstLsn,
    cpuUsPerEntry: (self.user + self.system) / (last - firstLsn),
    shipperProcessCpuUsPerEntry: shipperCpu / (last - firstLsn),
    serverCpuUsPerEntry: serverCpu / (last - firstLsn),
  };
}

async function steady(server: string, stream: string, ratePerSec: number): Promise<SteadyResult> {
  const dir = logDir();
  const wal = await openWal(dir);
  const shipper = await shipToJetStream(wal, {
    ...shipOptions(server, stream),
    thread: THREAD,
    threadNice: THREAD_NICE,
  });
  // Every 16th entry: the time its durable acknowledgement arrived, until the stream has it.
  const acked = new Map<number, number>();
  const lagMs: number[] = [];
  const lagEntries: number[] = [];
  let appended = 0;
  let rejected = 0;
  const t0 = performance.now();
  // The first second warms up (JIT, the stream's first writes) and is not measured: its lag
  // (up to ~0.4 s in a fresh process) is not what a running shipper shows.
  const measureFrom = t0 + STEADY_WARMUP_MS;
  const end = measureFrom + SECONDS * 1000;
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const now = performance.now();
      const due = ratePerSec * ((Math.min(now, end) - t0) / 1000);
      while (appended + rejected < due) {
        let promise: Promise<number>;
        try {
          promise = wal.append(standardEntry(appended + 1));
        } catch (e) {
          // The writer fell behind the open loop by maxPendingBytes: this rate cannot be held.
          if ((e as { code?: string }).code !== 'WAL_BACKPRESSURE') throw e;
          rejected++;
          continue;
        }
        appended++;
        if ((appended & 15) === 0 && now >= measureFrom)
          promise.then((lsn) => acked.set(lsn, performance.now()));
      }
      const shippedLsn = shipper.shippedLsn;
      for (const [lsn, at] of acked) {
        if (lsn > shippedLsn) continue;
        lagMs.push(now - at);
        acked.delete(lsn);
      }
      if (now >= measureFrom) lagEntries.push(Math.max(0, wal.durableLsn - shippedLsn));
      if (now >= end && acked.size === 0 && shippedLsn >= wal.lastLsn) {
        clearInterval(tick);
        resolve();
      }
    }, 1);
  });
  const elapsed = (end - t0) / 1000; // appends ran at the rate from t0
  await shipper.stop();
  await wal.close();
  fs.rmSync(dir, { recursive: true, force: true });
  const ms = Float64Array.from(lagMs).sort();
  const entries = Float64Array.from(lagEntries).sort();
  return {
    ratePerSec,
    achievedPerSec: appended / elapsed,
    lagMsP50: percentile(ms, 0.5),
    lagMsP99: percentile(ms, 0.99),
    lagMsMax: ms[ms.length - 1] ?? 0,
    lagEntriesP99: percentile(entries, 0.99),
    lagEntriesMax: entries[entries.length - 1] ?? 0,
    rejected,
  };
}

async function child(name: string): Promise<void> {
  const server = arg('server') as string;
  const stream = arg('stream') as string;
  let result: unknown;
  if (name === 'ship-dir') await shipDirectory(arg('dir') as string, server, stream);
  if (name === 'alone') result = await alone();
  else if (name === 'shipped') result = await shipped(server, stream, arg('via') ?? 'wal');
  else result = await steady(server, stream, Number(arg('rate')));
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

/** The shipping configurations of a round: where the shipper runs, and entries per message. */
const SHIPPERS = [
  { key: 'wal1', title: "log's thread, 1 entry/message", via: 'wal', pack: 1, thread: 0, nice: 0 },
  {
    key: 'walP',
    title: `log's thread, packed (${PACK_DEFAULT})`,
    via: 'wal',
    pack: PACK_DEFAULT,
    thread: 0,
    nice: 0,
  },
  { key: 'thrP', title: 'worker thread, packed', via: 'wal', pack: PACK_DEFAULT, thread: 1, nice: 0 },
  {
    key: 'thrPn',
    title: 'worker thread at nice 19, packed',
    via: 'wal',
    pack: PACK_DEFAULT,
    thread: 1,
    nice: 19,
  },
  { key: 'dir1', title: 'directory process, 1 entry/message', via: 'dir', pack: 1, thread: 0, nice: 0 },
  {
    key: 'dirP',
    title: `directory process, packed (${PACK_DEFAULT})`,
    via: 'dir',
    pack: PACK_DEFAULT,
    thread: 0,
    nice: 0,
  },
] as const;
type ShipperKey = (typeof SHIPPERS)[number]['key'];

interface Round {
  alone: AloneResult;
  shipped: Record<ShipperKey, ShippedResult>;
  /** Packed, in the log's thread, at half the durable append rate. */
  steadyPacked: SteadyResult;
  /** Packed, in a worker thread (nice 0), at half the durable append rate. */
  steadyThread: SteadyResult;
  /** One entry per message, in process, at half of what that shipper sustained. */
  steadySingle: SteadyResult;
}

async function main(): Promise<void> {
  const version = execFileSync('nats-server', ['--version'], { encoding: 'utf8' }).trim();
  const { url, child: server, dir } = await startServer();
  console.log(
    `bench:ship — ${version}, JetStream file storage R1 on loopback; ${IN_FLIGHT} appends in flight, ${SECONDS} s per run, ${ROUNDS} rounds; packed = entriesPerMessage ${PACK_DEFAULT}; Node ${process.version}; ${os.cpus().length} cores; ${new Date().toISOString()}`,
  );
  const rows: Round[] = [];
  let streams = 0;
  // What every child must measure alike (a child reads only its own arguments).
  const common = ['--seconds', String(SECONDS), '--in-flight', String(IN_FLIGHT), '--nice', String(NICE)];
  const stream = (): string[] => [
    '--server',
    url,
    '--server-pid',
    String(server.pid),
    '--stream',
    `S${++streams}`,
    ...common,
  ];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const alone = runChild<AloneResult>(SCRIPT, 'alone', common);
      const shipped = {} as Record<ShipperKey, ShippedResult>;
      for (const c of SHIPPERS) {
        shipped[c.key] = runChild<ShippedResult>(SCRIPT, 'shipped', [
          ...stream(),
          '--via',
          c.via,
          '--pack',
          String(c.pack),
          '--thread',
          String(c.thread),
          '--thread-nice',
          String(c.nice),
        ]);
      }
      // The issue's load: half of the durable append rate alone.
      const packedRate = Math.round(alone.appendPerSec / 2);
      const steadyPacked = runChild<SteadyResult>(SCRIPT, 'steady', [
        ...stream(),
        '--rate',
        String(packedRate),
        '--pack',
        String(PACK_DEFAULT),
        '--thread',
        '0',
      ]);
      const steadyThread = runChild<SteadyResult>(SCRIPT, 'steady', [
        ...stream(),
        '--rate',
        String(packedRate),
        '--pack',
        String(PACK_DEFAULT),
        '--thread',
        '1',
      ]);
      const singleRate = Math.round(Math.min(alone.appendPerSec, shipped.wal1.shippedPerSecOverall) / 2);
      const steadySingle = runChild<SteadyResult>(SCRIPT, 'steady', [
        ...stream(),
        '--rate',
        String(singleRate),
        '--pack',
        '1',
        '--thread',
        '0',
      ]);
      rows.push({ alone, shipped, steadyPacked, steadyThread, steadySingle });
      const parts = SHIPPERS.map((c) => {
        const r = shipped[c.key];
        return `${c.title}: append ${fmt(r.appendPerSec)}/s (${fmt(r.appendPerSec / alone.appendPerSec, 3)}x), shipped ${fmt(r.shippedPerSecUnderLoad)}/s under load, ${fmt(r.shippedPerSecOverall)}/s overall (drain ${fmt(r.drainMs)} ms)`;
      });
      const steadyLine = (name: string, st: SteadyResult): string =>
        `steady ${name} ${fmt(st.achievedPerSec)}/s: lag p50 ${fmt(st.lagMsP50, 2)} ms, p99 ${fmt(st.lagMsP99, 2)} ms, max ${fmt(st.lagMsMax, 2)} ms, ${fmt(st.lagEntriesP99)} entries p99${st.rejected > 0 ? `, ${fmt(st.rejected)} appends refused (WAL_BACKPRESSURE)` : ''}`;
      console.log(
        `round ${round + 1}: append alone ${fmt(alone.appendPerSec)}/s; ${parts.join('; ')}; ${steadyLine('packed', steadyPacked)}; ${steadyLine('packed in a worker thread', steadyThread)}; ${steadyLine('1/message', steadySingle)}`,
      );
    }
  } finally {
    server.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const m = (f: (r: Round) => number, digits = 0): string => fmt(medianOf(rows.map(f)), digits);
  console.log('\nmedians over rounds (ratios: the median of the rounds’ own ratios)\n');
  console.log(
    `| | ${SHIPPERS.map((c) => c.title).join(' | ')} |\n|---|${SHIPPERS.map(() => '--:').join('|')}|`,
  );
  const row = (name: string, f: (r: Round, k: ShipperKey) => string): void =>
    console.log(`| ${name} | ${SHIPPERS.map((c) => f(rows[0], c.key)).join(' | ')} |`);
  const blanks = SHIPPERS.slice(1)
    .map(() => ' |')
    .join('');
  console.log(`| durable append, no shipper | ${m((r) => r.alone.appendPerSec)}/s |${blanks}`);
  console.log(`| CPU µs per entry, no shipper | ${m((r) => r.alone.cpuUsPerEntry, 2)} |${blanks}`);
  row('durable append, shipper attached', (_, k) => `${m((r) => r.shipped[k].appendPerSec)}/s`);
  row(
    'with / without shipper',
    (_, k) => `**${m((r) => r.shipped[k].appendPerSec / r.alone.appendPerSec, 3)}x**`,
  );
  row('shipped while the appends ran', (_, k) => `${m((r) => r.shipped[k].shippedPerSecUnderLoad)}/s`);
  row(
    'shipped, first append → stream holds the last',
    (_, k) => `${m((r) => r.shipped[k].shippedPerSecOverall)}/s`,
  );
  row(
    'CPU µs per entry: appending process (+ shipper process) + nats-server',
    (_, k) =>
      `${m((r) => r.shipped[k].cpuUsPerEntry, 2)} (+ ${m((r) => r.shipped[k].shipperProcessCpuUsPerEntry, 2)}) + ${m((r) => r.shipped[k].serverCpuUsPerEntry, 2)}`,
  );
  row(
    'shipped / durable append rate alone',
    (_, k) => `**${m((r) => r.shipped[k].shippedPerSecOverall / r.alone.appendPerSec, 3)}x**`,
  );
  const steadyRow = (name: string, f: (r: Round) => SteadyResult): void =>
    console.log(
      `| ${name} | ${m((r) => f(r).achievedPerSec)}/s | ${m((r) => f(r).achievedPerSec / r.alone.appendPerSec, 3)}x | ${m((r) => f(r).lagMsP50, 2)} ms | **${m((r) => f(r).lagMsP99, 2)} ms** | ${m((r) => f(r).lagMsMax, 2)} ms | ${m((r) => f(r).lagEntriesP99)} |`,
    );
  console.log(
    '\nsteady load, shipper in the appending process: lag from the durable acknowledgement to the stream’s\n\n| | rate | of append alone | p50 | p99 | max | lag p99, entries |\n|---|--:|--:|--:|--:|--:|--:|',
  );
  steadyRow("packed, log's thread", (r) => r.steadyPacked);
  steadyRow('packed, worker thread', (r) => r.steadyThread);
  steadyRow('1 entry/message (at half its shipping rate)', (r) => r.steadySingle);
}

if (CHILD) await child(CHILD);
else await main();
