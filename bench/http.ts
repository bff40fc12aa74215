/**
 * `npm run bench:http`: the example HTTP server (examples/http-server/server.js) under load
 * (issue #21 item 3). The same server runs on each store by its `--store` flag, each run in a
 * fresh process on a fresh directory; autocannon keeps `--connections` connections busy on
 * loopback with `POST /kv/<random key>` and a small JSON body for `--seconds`, after a warm-up.
 * The variants take turns over `--rounds` rounds (the host's speed drifts 2-4x between
 * minutes); ratios are reported of the medians and per round, as bench:latency does.
 *
 * - none: the state in memory only, no durability: the ceiling (all the HTTP work).
 * - ringwal-always: ringwal, `sync: 'always'` (a 201 is fdatasync'd).
 * - ringwal-interval: ringwal, `sync: 'interval'` (a 201 is written to the OS; fdatasync'd
 *   within 100 ms).
 * - naive: one file opened once; per request, append the JSON line, fdatasync, answer.
 * - sqlite: better-sqlite3 in WAL mode with `synchronous=FULL`, one autocommitted INSERT per request.
 *
 *   npm run bench:http -- [--rounds N] [--seconds S] [--connections C] [--only NAME]
 *
 * autocannon and better-sqlite3 are not dependencies of ringwal: `npm ci --prefix bench/peers`
 * installs them. autocannon runs in this process, on the same two cores as the server.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { arg, fmt, medianOf, REPO_ROOT, requirePeer } from './child-run.js';
import { percentile } from './measure.js';

const ROUNDS = Number(arg('rounds') ?? 3);
const SECONDS = Number(arg('seconds') ?? 10);
const CONNECTIONS = Number(arg('connections') ?? 64);
const WARMUP_SECONDS = 2;
const KEYS = 10_000;
const ONLY = arg('only');
/** A small JSON document, as a user profile update might be (~60 bytes). */
const BODY = JSON.stringify({ name: 'Ada Lovelace', visits: 1843, tags: ['math', 'engines'] });

const SERVER = path.join(REPO_ROOT, 'examples', 'http-server', 'server.js');

const VARIANTS: Record<string, string[]> = {
  none: ['--store', 'none'],
  'ringwal-always': ['--store', 'ringwal', '--sync', 'always'],
  'ringwal-interval': ['--store', 'ringwal', '--sync', 'interval'],
  naive: ['--store', 'naive'],
  sqlite: ['--store', 'sqlite'],
};

interface Histogram {
  average: number;
  p50: number;
  p99: number;
  max: number;
  total: number;
}
interface AutocannonResult {
  requests: Histogram;
  latency: Histogram;
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
}
interface AutocannonRequest {
  method: string;
  path: string;
  body: string;
  headers: Record<string, string>;
}
/** A run: a promise of the result, and an emitter of each response. */
interface AutocannonRun extends PromiseLike<AutocannonResult> {
  on(event: 'response', listener: (client: unknown, status: number, bytes: number, ms: number) => void): void;
}
type Autocannon = (options: {
  url: string;
  connections: number;
  duration: number;
  requests: { setupRequest: (request: AutocannonRequest) => AutocannonRequest }[];
}) => AutocannonRun;

interface Sample {
  perSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Answers other than 2xx, and connection errors: 0 in a valid run. */
  non2xx: number;
  errors: number;
}

/** The server of a variant on a free port, once it has said where it listens. */
async function startServer(
  args: string[],
  dir: string,
): Promise<{ child: ChildProcess; port: number } | { error: string }> {
  const child = spawn(process.execPath, [SERVER, '--port', '0', '--dir', dir, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
  });
  return new Promise((resolve) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      const line = /^listening on http:\/\/127\.0\.0\.1:(\d+)\n/.exec(out);
      if (line) resolve({ child, port: Number(line[1]) });
    });
    child.once('exit', (code) => resolve({ error: stderr.trim() || `the server exited with ${code}` }));
  });
}

/** SIGTERM (the server drains and closes its store), SIGKILL if it takes over 30 s. */
async function stopServer(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

/**
 * Runs the load; resolves with autocannon's result and the latency of every 2xx answer in ms.
 * The latencies are taken from the response events: autocannon's own histogram keeps whole
 * milliseconds, too coarse for the fast variants.
 */
async function load(
  autocannon: Autocannon,
  port: number,
  seconds: number,
): Promise<{ result: AutocannonResult; latenciesMs: Float64Array }> {
  const latencies: number[] = [];
  const run = autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        setupRequest: (request) => ({
          ...request,
          method: 'POST',
          path: `/kv/user-${Math.floor(Math.random() * KEYS)}`,
          body: BODY,
          headers: { 'content-type': 'application/json' },
        }),
      },
    ],
  });
  run.on('response', (_client, status, _bytes, ms) => {
    if (status >= 200 && status < 300) latencies.push(ms);
  });
  const result = await run;
  return { result, latenciesMs: Float64Array.from(latencies).sort() };
}

/** One run of `name`: a fresh server on a fresh directory, a warm-up, the measured load. */
async function runVariant(autocannon: Autocannon, name: string): Promise<Sample | { error: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ringwal-bench-http-${name}-`));
  try {
    const server = await startServer(VARIANTS[name], path.join(dir, 'data'));
    if ('error' in server) return server;
    try {
      await load(autocannon, server.port, WARMUP_SECONDS);
      const { result: r, latenciesMs } = await load(autocannon, server.port, SECONDS);
      return {
        perSec: r.requests.total / r.duration,
        p50Ms: percentile(latenciesMs, 0.5),
        p99Ms: percentile(latenciesMs, 0.99),
        maxMs: latenciesMs.at(-1) ?? 0,
        non2xx: r.non2xx,
        errors: r.errors,
      };
    } finally {
      const code = await stopServer(server.child);
      if (code !== 0) console.log(`  (${name}: the server exited with ${code} on SIGTERM)`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function row(name: string, s: Sample): string {
  const bad = s.non2xx + s.errors > 0 ? `  non-2xx ${s.non2xx}, errors ${s.errors}` : '';
  return `${name.padEnd(17)} ${fmt(s.perSec).padStart(7)}/s  p50 ${fmt(s.p50Ms, 2).padStart(7)} ms  p99 ${fmt(s.p99Ms, 2).padStart(7)} ms  max ${fmt(s.maxMs, 1).padStart(7)} ms${bad}`;
}

async function main(): Promise<void> {
  const autocannon = requirePeer<Autocannon>('autocannon');
  if (!autocannon) {
    console.error('bench:http needs autocannon, which lives in bench/peers: npm ci --prefix bench/peers');
    process.exit(2);
  }
  console.log(
    `ringwal bench:http: ${CONNECTIONS} connections, POST /kv/<one of ${fmt(KEYS)} keys> with a ${BODY.length}-byte JSON body, ` +
      `${SECONDS} s per run after ${WARMUP_SECONDS} s of warm-up, ${ROUNDS} rounds; Node ${process.version}, ` +
      `${os.availableParallelism()} cores, ${new Date().toISOString().slice(0, 10)}`,
  );
  const names = Object.keys(VARIANTS).filter((n) => !ONLY || n === ONLY);
  const runs = new Map<string, Sample[]>(names.map((n) => [n, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const name of names) {
      if (!runs.has(name)) continue;
      const sample = await runVariant(autocannon, name);
      if ('error' in sample) {
        console.log(`  round ${round}: ${name}: skipped: ${sample.error}`);
        runs.delete(name);
        continue;
      }
      runs.get(name)!.push(sample);
      console.log(`  round ${round}: ${row(name, sample)}`);
    }
  }

  const median = (samples: Sample[]): Sample => ({
    perSec: medianOf(samples.map((s) => s.perSec)),
    p50Ms: medianOf(samples.map((s) => s.p50Ms)),
    p99Ms: medianOf(samples.map((s) => s.p99Ms)),
    maxMs: medianOf(samples.map((s) => s.maxMs)),
    non2xx: samples.reduce((n, s) => n + s.non2xx, 0),
    errors: samples.reduce((n, s) => n + s.errors, 0),
  });
  console.log('\nmedian of rounds');
  for (const [name, samples] of runs) console.log(`  ${row(name, median(samples))}`);
  console.log('\n| variant | requests/s | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|');
  for (const [name, samples] of runs) {
    const m = median(samples);
    console.log(
      `| ${name} | ${fmt(m.perSec)} | ${fmt(m.p50Ms, 2)} | ${fmt(m.p99Ms, 2)} | ${fmt(m.maxMs, 1)} |`,
    );
  }

  if (!ONLY) console.log('\nratios of requests/s');
  const ratio = (a: string, b: string, goal: number): void => {
    const as = runs.get(a);
    const bs = runs.get(b);
    if (!as || !bs) {
      if (!ONLY) console.log(`  ${a} / ${b}: skipped (${!as ? a : b} did not run)`);
      return;
    }
    const perRound = as.map((s, k) => s.perSec / bs[k].perSec).sort((x, y) => x - y);
    const ofMedians = medianOf(as.map((s) => s.perSec)) / medianOf(bs.map((s) => s.perSec));
    console.log(
      `  ${a} / ${b} = ${ofMedians.toFixed(2)}x of medians; per round ${medianOf(perRound).toFixed(2)}x (${perRound[0].toFixed(2)}-${perRound.at(-1)!.toFixed(2)}x)  goal >= ${goal}x: ${ofMedians >= goal ? 'met' : 'NOT met'}`,
    );
  };
  ratio('ringwal-always', 'none', 0.5);
  ratio('ringwal-always', 'naive', 5);
  ratio('ringwal-always', 'sqlite', 1);
  ratio('ringwal-interval', 'none', 0.5);
}

await main();
