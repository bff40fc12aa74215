/**
 * `npm run bench:pino`: pino logging through the ringwal destination against pino's own
 * destinations (issue #21), each variant in a process of its own, interleaved over rounds.
 * Per variant: lines per second from the first `logger.info` to the moment every line is where
 * that variant puts it (durable for ringwal, after `flushed()`; written for the others, after
 * their flush), the p50/p99/max of one `logger.info` call, and the main thread's CPU per line.
 *
 * - ringwal: `pino(await ringwalDestination(dir))`, lines stored as pino wrote them.
 * - ringwal, parsed: the same, each line `JSON.parse`d and stored as an object (the choice
 *   src/pino.ts did not make; measured here).
 * - file: `pino.destination({ dest, sync: false })` (sonic-boom, asynchronous): not durable.
 * - file, sync + fsync: `pino.destination({ dest, sync: true, fsync: true })`: an fsync per
 *   line, in the call: durable once the call returns.
 * - transport: `pino.transport({ target: 'pino/file' })`, a worker thread writing the file:
 *   not durable.
 *
 *   npm run bench:pino -- [--rounds N] [--lines N] [--only NAME]
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RingwalDestination, ringwalDestination } from '../src/pino.js';
import { arg, fmt, medianOf, runChild } from './child-run.js';
import { mainThreadCpuUs, percentile } from './measure.js';

const ROUNDS = Number(arg('rounds') ?? 3);
const LINES = Number(arg('lines') ?? 100_000);
const CHILD = arg('child');
const ONLY = arg('only');
const SCRIPT = fileURLToPath(import.meta.url);

interface Logger {
  info(obj: object, msg: string): void;
  flush(cb: (error?: Error | null) => void): void;
}
interface Pino {
  (options: object, stream?: unknown): Logger;
  destination(options: object): unknown;
  transport(options: object): unknown;
}
const pino = createRequire(import.meta.url)('pino') as Pino;

interface PinoResult {
  linesPerSec: number;
  callP50Us: number;
  callP99Us: number;
  callMaxUs: number;
  cpuUsPerLine: number;
}

/** A destination that stores each line parsed into an object: what `ringwal/pino` chose not to do. */
class ParsedLines {
  readonly writable = true;
  constructor(readonly dest: RingwalDestination) {}
  write(line: string): boolean {
    this.dest.wal.appendNoWait(JSON.parse(line));
    return true;
  }
  flush(cb: (error?: Error | null) => void): void {
    this.dest.flush(cb);
  }
}

interface Variant {
  /** Whether a line is on disk (survives power loss) once the variant's flush answers. */
  durable: string;
  open(dir: string): Promise<{ logger: Logger; done: () => Promise<void> }>;
}

const flushed = (logger: Logger) =>
  new Promise<void>((resolve, reject) => logger.flush((error) => (error ? reject(error) : resolve())));

const VARIANTS: Record<string, Variant> = {
  ringwal: {
    durable: 'yes, after flushed() (and on exit)',
    async open(dir) {
      const dest = await ringwalDestination(path.join(dir, 'wal'));
      return { logger: pino({}, dest), done: () => dest.wal.close() };
    },
  },
  'ringwal-parsed': {
    durable: 'yes, after flush',
    async open(dir) {
      const dest = await ringwalDestination(path.join(dir, 'wal'));
      return { logger: pino({}, new ParsedLines(dest)), done: () => dest.wal.close() };
    },
  },
  file: {
    durable: 'no (written, never fsynced)',
    async open(dir) {
      const stream = pino.destination({ dest: path.join(dir, 'app.log'), sync: false, mkdir: true });
      return { logger: pino({}, stream), done: async () => {} };
    },
  },
  'file-fsync': {
    durable: 'yes, when the call returns',
    async open(dir) {
      const stream = pino.destination({ dest: path.join(dir, 'app.log'), sync: true, fsync: true });
      return { logger: pino({}, stream), done: async () => {} };
    },
  },
  transport: {
    durable: 'no (written by a worker, never fsynced)',
    async open(dir) {
      const transport = pino.transport({
        target: 'pino/file',
        options: { destination: path.join(dir, 'app.log') },
      });
      await new Promise((resolve) => (transport as NodeJS.EventEmitter).once('ready', resolve));
      return { logger: pino({}, transport), done: async () => {} };
    },
  },
};

/** Logs `lines` lines, timing every call, then waits for the variant's flush. */
async function measure(logger: Logger, lines: number): Promise<PinoResult> {
  const calls = new Float64Array(lines);
  const payload = { user: 'ada', route: '/kv/:key', status: 201, bytes: 512 };
  const cpu0 = mainThreadCpuUs();
  const t0 = performance.now();
  for (let i = 0; i < lines; i++) {
    const started = performance.now();
    logger.info({ i, ...payload }, 'request served');
    calls[i] = (performance.now() - started) * 1000;
    // Let the event loop run now and then, as a server's would between requests.
    if ((i & 1023) === 1023) await new Promise((resolve) => setImmediate(resolve));
  }
  await flushed(logger);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = mainThreadCpuUs() - cpu0;
  calls.sort();
  return {
    linesPerSec: lines / seconds,
    callP50Us: percentile(calls, 0.5),
    callP99Us: percentile(calls, 0.99),
    callMaxUs: calls[calls.length - 1],
    cpuUsPerLine: cpu / lines,
  };
}

async function child(name: string): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ringwal-pino-${name}-`));
  try {
    const { logger, done } = await VARIANTS[name].open(dir);
    await measure(logger, Math.min(LINES, 20_000)); // warm-up
    const result = await measure(logger, LINES);
    await done();
    console.log(JSON.stringify(result));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function main(): void {
  console.log(
    `ringwal bench:pino: ${fmt(LINES)} lines per run, Node ${process.version}, ${os.cpus().length} cores, ${ROUNDS} rounds, each variant in a fresh process`,
  );
  const names = Object.keys(VARIANTS).filter((n) => !ONLY || n === ONLY);
  const runs = new Map<string, PinoResult[]>(names.map((n) => [n, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const name of names) {
      const r = runChild<PinoResult>(SCRIPT, name, ['--lines', String(LINES)]);
      runs.get(name)!.push(r);
      console.log(
        `  round ${round}: ${name.padEnd(15)} ${fmt(r.linesPerSec).padStart(9)} lines/s  call p50 ${fmt(r.callP50Us, 2)} p99 ${fmt(r.callP99Us, 2)} max ${fmt(r.callMaxUs)} µs  CPU ${fmt(r.cpuUsPerLine, 2)} µs/line`,
      );
    }
  }
  console.log('\nmedian of rounds');
  console.log(
    `  ${'variant'.padEnd(15)} ${'lines/s'.padStart(9)} ${'call p50'.padStart(9)} ${'call p99'.padStart(9)} ${'call max'.padStart(9)} ${'CPU/line'.padStart(9)}  durable`,
  );
  for (const [name, rs] of runs) {
    const m = (f: keyof PinoResult) => medianOf(rs.map((r) => r[f]));
    console.log(
      `  ${name.padEnd(15)} ${fmt(m('linesPerSec')).padStart(9)} ${fmt(m('callP50Us'), 2).padStart(9)} ${fmt(m('callP99Us'), 2).padStart(9)} ${fmt(m('callMaxUs')).padStart(9)} ${fmt(m('cpuUsPerLine'), 2).padStart(9)}  ${VARIANTS[name].durable}`,
    );
  }
  const ringwal = runs.get('ringwal');
  for (const other of ['file', 'file-fsync', 'transport', 'ringwal-parsed']) {
    const o = runs.get(other);
    if (!ringwal || !o) continue;
    const perRound = ringwal.map((r, k) => r.linesPerSec / o[k].linesPerSec).sort((a, b) => a - b);
    console.log(
      `  ringwal lines/s / ${other}: ${medianOf(perRound).toFixed(2)}x per round (${perRound[0].toFixed(2)}-${perRound.at(-1)!.toFixed(2)}x)`,
    );
  }
}

if (CHILD) await child(CHILD);
else main();
