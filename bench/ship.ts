/**
 * `npm run bench:ship`: shipping a log to NATS JetStream (`ringwal/jetstream`) beside the log's
 * own durable append rate, on a real nats-server (Debian's, JetStream on, file storage, R1) on
 * loopback, started and stopped by this script.
 *
 * Four configurations, each in a process of its own, a fresh log and a fresh stream, in
 * interleaved rounds (the machine is shared and noisy: compare the ratios within a round):
 *   alone    — durable appends, `inFlight` outstanding (each ack issues the next), no shipper.
 *   shipped  — the same with a shipper attached in the same process (the `Wal` as its source).
 *              Also: entries the stream acknowledged during the load, and the rate from the
 *              first append until the stream held the last.
 *   via dir  — the same with the shipper in a process of its own, following the directory.
 *   steady   — an open loop at half of what the in-process shipper sustained (half of the
 *              append rate would only build a backlog), shipper attached: the lag from an
 *              entry's durable acknowledgement to the stream's acknowledgement of it (every
 *              16th entry, read each millisecond), and the lag in entries.
 *
 *   npm run bench:ship -- [--rounds 3] [--seconds 3] [--in-flight 1024]
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
import { shipToJetStream } from '../src/jetstream.js';
import { arg, fmt, medianOf, runChild } from './child-run.js';
import { standardEntry } from './entry.js';
import { closedLoop, percentile } from './measure.js';

const ROUNDS = Number(arg('rounds') ?? 3);
const SECONDS = Number(arg('seconds') ?? 3);
const IN_FLIGHT = Number(arg('in-flight') ?? 1024);
const CHILD = arg('child');
const SCRIPT = fileURLToPath(import.meta.url);

interface AloneResult {
  appendPerSec: number;
}
interface ShippedResult {
  appendPerSec: number;
  /** Entries the stream acknowledged per second while the appends ran. */
  shippedPerSecUnderLoad: number;
  /** All entries over the time from the first append until the stream held the last. */
  shippedPerSecOverall: number;
  drainMs: number;
  entries: number;
}
interface SteadyResult {
  ratePerSec: number;
  achievedPerSec: number;
  lagMsP50: number;
  lagMsP99: number;
  lagMsMax: number;
  lagEntriesP99: number;
  lagEntriesMax: number;
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

function logDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ringwal-bench-ship-'));
}

async function alone(): Promise<AloneResult> {
  const dir = logDir();
  const wal = await openWal(dir);
  await closedLoop(() => wal.append(standardEntry(0)), IN_FLIGHT, 0.3); // warm-up
  const r = await closedLoop((i) => wal.append(standardEntry(i)), IN_FLIGHT, SECONDS);
  await wal.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return { appendPerSec: r.entriesPerSec };
}

/** What a shipper reports: in this process, or in a process of its own following the directory. */
interface ShipperHandle {
  shippedLsn(): number;
  stop(): Promise<void>;
}

async function inProcessShipper(wal: Wal, server: string, stream: string): Promise<ShipperHandle> {
  const shipper = await shipToJetStream(wal, {
    servers: server,
    stream,
    subject: `${stream}.wal`,
    createStream: true,
  });
  return { shippedLsn: () => shipper.shippedLsn, stop: () => shipper.stop() };
}

/** A shipper process following `dir` (`--child ship-dir`), reporting its shipped LSN on stdout. */
async function directoryShipper(dir: string, server: string, stream: string): Promise<ShipperHandle> {
  const args = [SCRIPT, '--child', 'ship-dir', '--dir', dir, '--server', server, '--stream', stream];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
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
    shippedLsn: () => shipped,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/** `--child ship-dir`: ships a directory until SIGTERM, printing its shipped LSN every millisecond. */
async function shipDirectory(dir: string, server: string, stream: string): Promise<never> {
  const shipper = await shipToJetStream(dir, {
    servers: server,
    stream,
    subject: `${stream}.wal`,
    createStream: true,
  });
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
  const t0 = performance.now();
  const r = await closedLoop((i) => wal.append(standardEntry(i)), IN_FLIGHT, SECONDS);
  const loadEnd = performance.now();
  const shippedDuringLoad = shipper.shippedLsn() - shippedBefore;
  const last = wal.lastLsn;
  while (shipper.shippedLsn() < last) await new Promise((resolve) => setTimeout(resolve, 1));
  const drained = performance.now();
  await shipper.stop();
  await wal.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return {
    appendPerSec: r.entriesPerSec,
    shippedPerSecUnderLoad: shippedDuringLoad / ((loadEnd - t0) / 1000),
    shippedPerSecOverall: (last - firstLsn) / ((drained - t0) / 1000),
    drainMs: drained - loadEnd,
    entries: last - firstLsn,
  };
}

async function steady(server: string, stream: string, ratePerSec: number): Promise<SteadyResult> {
  const dir = logDir();
  const wal = await openWal(dir);
  const shipper = await shipToJetStream(wal, {
    servers: server,
    stream,
    subject: `${stream}.wal`,
    createStream: true,
  });
  // Every 16th entry: the time its durable acknowledgement arrived, until the stream has it.
  const acked = new Map<number, number>();
  const lagMs: number[] = [];
  const lagEntries: number[] = [];
  let appended = 0;
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const now = performance.now();
      const due = Math.min(ratePerSec * ((Math.min(now, end) - t0) / 1000), ratePerSec * SECONDS);
      while (appended < due) {
        appended++;
        const promise = wal.append(standardEntry(appended));
        if ((appended & 15) === 0) promise.then((lsn) => acked.set(lsn, performance.now()));
      }
      const shippedLsn = shipper.shippedLsn;
      for (const [lsn, at] of acked) {
        if (lsn > shippedLsn) continue;
        lagMs.push(now - at);
        acked.delete(lsn);
      }
      lagEntries.push(Math.max(0, wal.durableLsn - shippedLsn));
      if (now >= end && acked.size === 0 && shippedLsn >= wal.lastLsn) {
        clearInterval(tick);
        resolve();
      }
    }, 1);
  });
  const elapsed = (end - t0) / 1000;
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

async function main(): Promise<void> {
  const version = execFileSync('nats-server', ['--version'], { encoding: 'utf8' }).trim();
  const { url, child: server, dir } = await startServer();
  console.log(
    `bench:ship — ${version}, JetStream file storage R1 on loopback; ${IN_FLIGHT} appends in flight, ${SECONDS} s per run, ${ROUNDS} rounds; Node ${process.version}; ${os.cpus().length} cores; ${new Date().toISOString()}`,
  );
  const rows: { alone: AloneResult; shipped: ShippedResult; viaDir: ShippedResult; steady: SteadyResult }[] =
    [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const a = runChild<AloneResult>(SCRIPT, 'alone', []);
      const s = runChild<ShippedResult>(SCRIPT, 'shipped', ['--server', url, '--stream', `SHIP${round}`]);
      const d = runChild<ShippedResult>(SCRIPT, 'shipped', [
        '--server',
        url,
        '--stream',
        `DIR${round}`,
        '--via',
        'dir',
      ]);
      // Half of what the shipper sustains: half of the append rate would only build a backlog.
      const rate = Math.round(Math.min(a.appendPerSec, s.shippedPerSecOverall) / 2);
      const st = runChild<SteadyResult>(SCRIPT, 'steady', [
        '--server',
        url,
        '--stream',
        `STEADY${round}`,
        '--rate',
        String(rate),
      ]);
      rows.push({ alone: a, shipped: s, viaDir: d, steady: st });
      const line = (name: string, r: ShippedResult): string =>
        `${name}: append ${fmt(r.appendPerSec)}/s (${fmt(r.appendPerSec / a.appendPerSec, 3)}x alone), shipped ${fmt(
          r.shippedPerSecUnderLoad,
        )}/s under load, ${fmt(r.shippedPerSecOverall)}/s overall (drain ${fmt(r.drainMs)} ms)`;
      console.log(
        `round ${round + 1}: append alone ${fmt(a.appendPerSec)}/s; ${line('shipper in process', s)}; ${line(
          'shipper process on the directory',
          d,
        )}; steady ${fmt(st.achievedPerSec)}/s: lag p50 ${fmt(st.lagMsP50, 2)} ms, p99 ${fmt(st.lagMsP99, 2)} ms, max ${fmt(
          st.lagMsMax,
          2,
        )} ms, ${fmt(st.lagEntriesP99)} entries p99`,
      );
    }
  } finally {
    server.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const m = (f: (r: (typeof rows)[number]) => number): number => medianOf(rows.map(f));
  console.log('\nmedians over rounds (ratios: the median of the rounds’ own ratios)');
  console.log('| | shipper in process (`Wal`) | shipper process (directory) |\n|---|--:|--:|');
  console.log(`| durable append, no shipper | ${fmt(m((r) => r.alone.appendPerSec))}/s | |`);
  console.log(
    `| durable append, shipper attached | ${fmt(m((r) => r.shipped.appendPerSec))}/s | ${fmt(m((r) => r.viaDir.appendPerSec))}/s |`,
  );
  console.log(
    `| with / without shipper | ${fmt(
      m((r) => r.shipped.appendPerSec / r.alone.appendPerSec),
      3,
    )}x | ${fmt(
      m((r) => r.viaDir.appendPerSec / r.alone.appendPerSec),
      3,
    )}x |`,
  );
  console.log(
    `| shipped, entries/s (from first append to the stream holding the last) | ${fmt(
      m((r) => r.shipped.shippedPerSecOverall),
    )}/s | ${fmt(m((r) => r.viaDir.shippedPerSecOverall))}/s |`,
  );
  console.log(
    `| shipped / durable append rate alone | ${fmt(
      m((r) => r.shipped.shippedPerSecOverall / r.alone.appendPerSec),
      4,
    )}x | ${fmt(
      m((r) => r.viaDir.shippedPerSecOverall / r.alone.appendPerSec),
      4,
    )}x |`,
  );
  console.log(
    `\nsteady load with the shipper in process, at half the shipping rate: ${fmt(m((r) => r.steady.achievedPerSec))}/s`,
  );
  console.log(
    `lag from durable ack to stream ack: p50 ${fmt(
      m((r) => r.steady.lagMsP50),
      2,
    )} ms, p99 ${fmt(
      m((r) => r.steady.lagMsP99),
      2,
    )} ms, max ${fmt(
      m((r) => r.steady.lagMsMax),
      2,
    )} ms; lag in entries p99 ${fmt(m((r) => r.steady.lagEntriesP99))}`,
  );
}

if (CHILD) await child(CHILD);
else await main();
