/**
 * The example HTTP server (examples/http-server/, issue #21), run as a real child process on
 * the compiled build: "201 means durable" across SIGKILL, bad input that never reaches the log,
 * graceful shutdown on SIGTERM, WAL_BACKPRESSURE as 503, and a sticky failure (a full disk)
 * turning /healthz red.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openWal, type WalEntry } from '../../src/index.js';
import { exited } from '../helpers/child.js';
import { type Reply, request, SERVER, startServer, terminate } from '../helpers/http-server.js';
import { readAll } from '../helpers/read.js';
import { tempDirs } from '../helpers/tmp.js';

const temp = tempDirs();
afterAll(() => temp.removeAll());

/** Deterministic pseudo-random choices, so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function json(reply: Reply): unknown {
  return JSON.parse(reply.body);
}

/** The log entry a write should have become (wal.set / wal.delete also store a `ts`). */
function entryOf(write: { op: 'set' | 'delete'; key: string; value?: unknown }): unknown {
  return write.op === 'set'
    ? { op: 'set', key: write.key, value: write.value, ts: expect.any(Number) }
    : { op: 'delete', key: write.key, ts: expect.any(Number) };
}

interface Write {
  op: 'set' | 'delete';
  key: string;
  value?: unknown;
  /** The answer, once one came: 201 (set) or 200 (delete) with the LSN. */
  status?: number;
  lsn?: number;
}

/** What GET /kv/:key answers if `write` is the key's last: the value, or 404 after a delete. */
type Outcome = { status: 200; value: unknown } | { status: 404 };
function outcomeOf(write: Write): Outcome {
  return write.op === 'set' ? { status: 200, value: write.value } : { status: 404 };
}
async function observe(port: number, key: string): Promise<Outcome> {
  const reply = await request(port, 'GET', `/kv/${encodeURIComponent(key)}`);
  if (reply.status === 404) return { status: 404 };
  expect(reply.status).toBe(200);
  return { status: 200, value: json(reply) };
}

describe('the example HTTP server', () => {
  it('SIGKILL mid-load: every write answered 201/200 is served after a restart, each key at its last acknowledged write', async () => {
    const KEYS = 40;
    const CONNECTIONS = 32;
    const ROUNDS = 3;
    const random = rng(Number(process.env.RINGWAL_SEED ?? 0x4177));
    const dir = path.join(temp.dir('ringwal-http-kill-'), 'log');
    const keys = Array.from({ length: KEYS }, (_, i) => (i % 5 === 0 ? `user/${i} ü` : `k${i}`));
    // What GET answers for each key, as observed after the last restart (nothing at first).
    const current = new Map<string, Outcome>(keys.map((k) => [k, { status: 404 }]));
    const acked: Write[] = [];
    const summary: string[] = [];
    let lastAckedLsn = 0;

    for (let round = 1; round <= ROUNDS; round++) {
      const server = await startServer(['--dir', dir]);
      // The state a restart serves is what the previous round left, as judged below.
      for (const key of keys) expect(await observe(server.port, key)).toEqual(current.get(key));

      const writes: Write[] = [];
      const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
      let stop = false;
      let ackedThisRound = 0;
      const killAfter = 200 + Math.floor(random() * 600);
      let reachedTarget = (): void => {};
      const target = new Promise<void>((resolve) => {
        reachedTarget = resolve;
      });
      const client = async (c: number): Promise<void> => {
        for (let seq = 0; !stop; seq++) {
          const key = keys[Math.floor(random() * KEYS)];
          const write: Write =
            random() < 0.2
              ? { op: 'delete', key }
              : { op: 'set', key, value: { round, c, seq, pad: 'x'.repeat(Math.floor(random() * 200)) } };
          writes.push(write);
          let reply: Reply;
          try {
            reply =
              write.op === 'set'
                ? await request(server.port, 'POST', `/kv/${encodeURIComponent(key)}`, {
                    agent,
                    body: JSON.stringify(write.value),
                  })
                : await request(server.port, 'DELETE', `/kv/${encodeURIComponent(key)}`, { agent });
          } catch {
            return; // the server is gone: this write stays unanswered (in flight at the kill)
          }
          expect(reply.status).toBe(write.op === 'set' ? 201 : 200);
          write.status = reply.status;
          write.lsn = (json(reply) as { lsn: number }).lsn;
          if (++ackedThisRound >= killAfter) reachedTarget();
        }
      };
      const clients = Array.from({ length: CONNECTIONS }, (_, c) => client(c));
      // Bounded: kill at the target, or after 20 s whatever was acknowledged by then.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([target, new Promise((resolve) => (timer = setTimeout(resolve, 20_000)))]);
      clearTimeout(timer);
      server.child.kill('SIGKILL');
      stop = true;
      const { signal } = await exited(server.child);
      expect(signal).toBe('SIGKILL');
      await Promise.all(clients);
      agent.destroy();
      expect(server.stderr()).toBe('');

      const answered = writes.filter((w) => w.status !== undefined);
      const inFlight = writes.filter((w) => w.status === undefined);
      expect(answered.length).toBeGreaterThan(0);
      // LSNs are unique and continue the previous rounds'.
      const lsns = answered.map((w) => w.lsn!);
      expect(new Set(lsns).size).toBe(lsns.length);
      expect(Math.min(...lsns)).toBeGreaterThan(lastAckedLsn);
      lastAckedLsn = Math.max(...lsns);
      acked.push(...answered);

      // After a restart each key answers its highest-LSN acknowledged write (or, if none this
      // round, what it answered before), unless a write still in flight at the kill got into
      // the log: only those can have a later LSN (acknowledgements come in LSN order).
      const restarted = await startServer(['--dir', dir]);
      let overridden = 0;
      for (const key of keys) {
        const last = answered.filter((w) => w.key === key).sort((a, b) => b.lsn! - a.lsn!)[0];
        const expected = last ? outcomeOf(last) : current.get(key)!;
        const allowed = [expected, ...inFlight.filter((w) => w.key === key).map(outcomeOf)];
        const got = await observe(restarted.port, key);
        expect(allowed, `key ${key}`).toContainEqual(got);
        if (JSON.stringify(got) !== JSON.stringify(expected)) overridden++;
        current.set(key, got);
      }
      expect(await terminate(restarted)).toEqual({ code: 0, signal: null });
      summary.push(
        `round ${round}: ${answered.length} acknowledged (LSN up to ${lastAckedLsn}), ${inFlight.length} in flight at the kill, ${overridden} keys moved on by an in-flight write`,
      );
    }

    // Every acknowledged write is in the log at its LSN, exactly.
    const entries = new Map<number, WalEntry>((await readAll(dir)).map((e) => [e.lsn, e]));
    for (const write of acked)
      expect(entries.get(write.lsn!)?.value, `LSN ${write.lsn}`).toEqual(entryOf(write));
    console.log(
      `http-server SIGKILL: ${acked.length} acknowledged writes checked\n  ${summary.join('\n  ')}`,
    );
  }, 120_000);

  it('answers bad input with a 4xx JSON error and never appends it; good writes read back', async () => {
    const dir = path.join(temp.dir('ringwal-http-input-'), 'log');
    const server = await startServer(['--dir', dir, '--max-body-bytes', '1024']);
    const { port } = server;
    const expectError = (reply: Reply, status: number, error: string): void => {
      expect(reply.status).toBe(status);
      expect(reply.headers['content-type']).toBe('application/json');
      expect(json(reply)).toMatchObject({ error, message: expect.any(String) });
    };

    // 413: a declared Content-Length over the limit, and a chunked body that grows past it.
    expectError(
      await request(port, 'POST', '/kv/big', { body: JSON.stringify('x'.repeat(2000)) }),
      413,
      'BODY_TOO_LARGE',
    );
    const chunked = await new Promise<Reply>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/kv/big' }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }),
        );
      });
      req.on('error', reject);
      expect(req.getHeader('content-length')).toBeUndefined();
      req.write(`"${'y'.repeat(600)}`);
      req.end(`${'y'.repeat(600)}"`);
    });
    expect(chunked.headers['transfer-encoding']).toBeUndefined();
    expectError(chunked, 413, 'BODY_TOO_LARGE');
    // A body of exactly the limit is accepted.
    const atLimit = JSON.stringify('z'.repeat(1022));
    expect(Buffer.byteLength(atLimit)).toBe(1024);
    expect((await request(port, 'POST', '/kv/edge', { body: atLimit })).status).toBe(201);

    // 400: not JSON, an empty body, a key that is not valid percent-encoding.
    expectError(await request(port, 'POST', '/kv/a', { body: '{"unterminated": ' }), 400, 'INVALID_JSON');
    expectError(await request(port, 'POST', '/kv/a', { body: 'hello' }), 400, 'INVALID_JSON');
    expectError(await request(port, 'POST', '/kv/a', { body: '' }), 400, 'INVALID_JSON');
    expectError(await request(port, 'GET', '/kv/%E0%A4%A'), 400, 'BAD_KEY');
    expectError(await request(port, 'POST', '/kv/%E0%A4%A', { body: '1' }), 400, 'BAD_KEY');

    // 405 with Allow.
    for (const method of ['PUT', 'PATCH']) {
      const reply = await request(port, method, '/kv/a', { body: '{"n":1}' });
      expectError(reply, 405, 'METHOD_NOT_ALLOWED');
      expect(reply.headers.allow).toBe('GET, HEAD, POST, DELETE');
    }
    const healthPost = await request(port, 'POST', '/healthz', { body: '{}' });
    expectError(healthPost, 405, 'METHOD_NOT_ALLOWED');
    expect(healthPost.headers.allow).toBe('GET, HEAD');

    // 404: unknown routes, an empty key, a key never written.
    expectError(await request(port, 'GET', '/nope'), 404, 'NOT_FOUND');
    expectError(await request(port, 'POST', '/kv/', { body: '1' }), 404, 'NOT_FOUND');
    expectError(await request(port, 'GET', '/kv/never'), 404, 'NOT_FOUND');

    // Healthy, and the good writes: set, read, overwrite, delete (delete of a missing key is a write too).
    const health = await request(port, 'GET', '/healthz');
    expect([health.status, json(health)]).toEqual([200, { status: 'ok' }]);
    const set1 = await request(port, 'POST', '/kv/a', { body: '{"n":1}' });
    expect([set1.status, json(set1)]).toEqual([201, { lsn: 2 }]);
    expect(json(await request(port, 'GET', '/kv/a'))).toEqual({ n: 1 });
    expect(json(await request(port, 'POST', '/kv/a', { body: '[1,"two",null]' }))).toEqual({ lsn: 3 });
    const got = await request(port, 'GET', '/kv/a');
    expect([got.status, json(got)]).toEqual([200, [1, 'two', null]]);
    const deleted = await request(port, 'DELETE', '/kv/a');
    expect([deleted.status, json(deleted)]).toEqual([200, { lsn: 4 }]);
    expect((await request(port, 'GET', '/kv/a')).status).toBe(404);
    expect(json(await request(port, 'DELETE', '/kv/ghost'))).toEqual({ lsn: 5 });

    expect(await terminate(server)).toEqual({ code: 0, signal: null });
    expect(server.stderr()).toBe('');
    // The log holds the five good writes and nothing of the refused ones.
    expect((await readAll(dir)).map((e) => e.value)).toEqual([
      entryOf({ op: 'set', key: 'edge', value: 'z'.repeat(1022) }),
      entryOf({ op: 'set', key: 'a', value: { n: 1 } }),
      entryOf({ op: 'set', key: 'a', value: [1, 'two', null] }),
      entryOf({ op: 'delete', key: 'a' }),
      entryOf({ op: 'delete', key: 'ghost' }),
    ]);
  });

  it('SIGTERM: stops accepting, answers the request in flight, closes the log and exits 0', async () => {
    const dir = path.join(temp.dir('ringwal-http-term-'), 'log');
    const server = await startServer(['--dir', dir]);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const writes = Array.from({ length: 200 }, (_, i) => ({ key: `k${i % 20}`, value: { i } }));
    const replies = await Promise.all(
      writes.map((w) =>
        request(server.port, 'POST', `/kv/${w.key}`, { agent, body: JSON.stringify(w.value) }),
      ),
    );
    expect(replies.map((r) => r.status)).toEqual(writes.map(() => 201));
    const lsns = replies.map((r) => (json(r) as { lsn: number }).lsn);

    // A request whose body is still arriving when SIGTERM comes. `Expect: 100-continue` tells
    // us the server has read its headers (a connection with no request yet counts as idle,
    // and shutdown closes idle connections).
    const last = { key: 'late', value: { note: 'body finished after SIGTERM' } };
    const body = JSON.stringify(last.value);
    let finishBody = (): void => {};
    let onContinue = (): void => {};
    const continued = new Promise<void>((resolve) => {
      onContinue = resolve;
    });
    const lateReply = new Promise<Reply>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: server.port,
          method: 'POST',
          path: '/kv/late',
          headers: { 'content-length': Buffer.byteLength(body), expect: '100-continue' },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode!,
              headers: res.headers,
              body: Buffer.concat(chunks).toString(),
            }),
          );
        },
      );
      req.on('error', reject);
      req.on('continue', () => {
        req.write(body.slice(0, 10));
        onContinue();
      });
      finishBody = () => req.end(body.slice(10));
    });
    await continued;
    server.child.kill('SIGTERM');
    const draining = server.line((l) => l.startsWith('SIGTERM: draining'));
    expect(await draining).toBe('SIGTERM: draining 1 requests in flight');

    // No new connection once draining.
    const refused = await new Promise<string>((resolve) => {
      const socket = net.connect(server.port, '127.0.0.1');
      socket.on('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
    expect(refused).toBe('ECONNREFUSED');

    finishBody();
    const late = await lateReply;
    expect(late.status).toBe(201);
    expect(late.headers.connection).toBe('close');
    const lateLsn = (json(late) as { lsn: number }).lsn;
    expect(lateLsn).toBe(201);
    expect(await exited(server.child)).toEqual({ code: 0, signal: null });
    expect(server.stdout.at(-1)).toBe('closed');
    expect(server.stderr()).toBe('');
    agent.destroy();

    // The log was closed: it reopens (the lock is free) at the last acknowledged LSN, and holds every write.
    const wal = await openWal(dir);
    expect(wal.lastLsn).toBe(201);
    expect(wal.recoveryReport.corruptions).toEqual([]);
    await wal.close();
    const entries = await readAll(dir);
    writes.forEach((w, i) => {
      expect(entries[lsns[i] - 1].value).toEqual(entryOf({ op: 'set', ...w }));
    });
    expect(entries[lateLsn - 1].value).toEqual(entryOf({ op: 'set', ...last }));
  });

  it('answers WAL_BACKPRESSURE with 503 and Retry-After; refused writes are not in the log', async () => {
    const dir = path.join(temp.dir('ringwal-http-backpressure-'), 'log');
    // The smallest ring (64 KiB) holds two of these 30 KiB entries, and maxPendingBytes (never
    // below maxEntryBytes) one more: a burst of concurrent POSTs outruns the group commits.
    const server = await startServer([
      ...['--dir', dir, '--max-body-bytes', String(32 * 1024)],
      ...[
        '--ring-bytes',
        String(64 * 1024),
        '--max-entry-bytes',
        String(32 * 1024),
        '--max-pending-bytes',
        '0',
      ],
    ]);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    const accepted: { lsn: number; value: unknown }[] = [];
    let refusals: Reply[] = [];
    let bursts = 0;
    while (refusals.length === 0 && bursts < 50) {
      bursts++;
      const values = Array.from({ length: 64 }, (_, i) => ({ burst: bursts, i, pad: 'p'.repeat(30_000) }));
      const replies = await Promise.all(
        values.map((value, i) =>
          request(server.port, 'POST', `/kv/k${i}`, { agent, body: JSON.stringify(value) }),
        ),
      );
      replies.forEach((reply, i) => {
        expect([201, 503]).toContain(reply.status);
        if (reply.status === 201)
          accepted.push({ lsn: (json(reply) as { lsn: number }).lsn, value: values[i] });
      });
      refusals = replies.filter((r) => r.status === 503);
    }
    console.log(`http-server backpressure: ${refusals.length} of 64 refused in burst ${bursts}`);
    expect(refusals.length).toBeGreaterThan(0);
    for (const reply of refusals) {
      expect(reply.headers['retry-after']).toBe('1');
      expect(json(reply)).toMatchObject({ error: 'WAL_BACKPRESSURE' });
    }
    // Backpressure is not a failure: the server stays ready.
    expect((await request(server.port, 'GET', '/healthz')).status).toBe(200);
    agent.destroy();
    expect(await terminate(server)).toEqual({ code: 0, signal: null });

    const entries = await readAll(dir);
    expect(entries.map((e) => e.lsn)).toEqual(accepted.map((a) => a.lsn).sort((a, b) => a - b));
    const byLsn = new Map(entries.map((e) => [e.lsn, e.value]));
    for (const { lsn, value } of accepted)
      expect((byLsn.get(lsn) as { value: unknown }).value).toEqual(value);
  });
});

describe("the same server on the load benchmark's other stores", () => {
  /** POSTs and a DELETE, then what a restart on the same directory serves. */
  async function writeThenRestart(
    store: string,
  ): Promise<{ before: Reply[]; after: Reply[] } | { error: string }> {
    const dir = path.join(temp.dir(`ringwal-http-${store}-`), 'data');
    let server: Awaited<ReturnType<typeof startServer>>;
    try {
      server = await startServer(['--dir', dir, '--store', store]);
    } catch (e) {
      return { error: (e as Error).message };
    }
    const before = [
      await request(server.port, 'POST', '/kv/a', { body: '{"v":1}' }),
      await request(server.port, 'POST', '/kv/b', { body: '"two"' }),
      await request(server.port, 'POST', '/kv/a', { body: '{"v":3}' }),
      await request(server.port, 'DELETE', '/kv/b'),
      await request(server.port, 'POST', '/kv/c', { body: 'not json' }),
      await request(server.port, 'GET', '/kv/a'),
    ];
    expect(await terminate(server)).toEqual({ code: 0, signal: null });
    const again = await startServer(['--dir', dir, '--store', store]);
    const after = [await request(again.port, 'GET', '/kv/a'), await request(again.port, 'GET', '/kv/b')];
    expect(await terminate(again)).toEqual({ code: 0, signal: null });
    return { before, after };
  }
  const summary = (replies: Reply[]): [number, unknown][] => replies.map((r) => [r.status, json(r)]);
  const written: [number, unknown][] = [
    [201, { lsn: 1 }],
    [201, { lsn: 2 }],
    [201, { lsn: 3 }],
    [200, { lsn: 4 }],
    [400, expect.objectContaining({ error: 'INVALID_JSON' })],
    [200, { v: 3 }],
  ];

  it('naive (a JSON line + fdatasync per request) answers alike and rebuilds its state on restart', async () => {
    const run = await writeThenRestart('naive');
    if ('error' in run) throw new Error(run.error);
    expect(summary(run.before)).toEqual(written);
    expect(summary(run.after)).toEqual([
      [200, { v: 3 }],
      [404, expect.objectContaining({ error: 'NOT_FOUND' })],
    ]);
  });

  it('none (memory only) answers alike and forgets everything on restart', async () => {
    const run = await writeThenRestart('none');
    if ('error' in run) throw new Error(run.error);
    expect(summary(run.before)).toEqual(written);
    expect(summary(run.after).map(([status]) => status)).toEqual([404, 404]);
  });

  it('sqlite answers alike and rebuilds on restart, or, without bench/peers installed, says how to install it', async () => {
    const run = await writeThenRestart('sqlite');
    if ('error' in run) {
      // CI does not install bench/peers: the server must refuse clearly, not with a stack.
      expect(run.error).toContain('--store sqlite needs better-sqlite3');
      expect(run.error).toContain('npm ci --prefix bench/peers');
      return;
    }
    expect(summary(run.before)).toEqual(written);
    expect(summary(run.after)).toEqual([
      [200, { v: 3 }],
      [404, expect.objectContaining({ error: 'NOT_FOUND' })],
    ]);
  });

  it('refuses bad flags with the usage and exit code 2', () => {
    for (const args of [
      ['--store', 'mongo', '--dir', 'x'],
      ['--port', '70000', '--dir', 'x'],
      ['--port', '0'],
      ['--bogus', '1'],
    ]) {
      const result = spawnSync(process.execPath, [SERVER, ...args], { encoding: 'utf8' });
      expect(result.status, args.join(' ')).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/^http-server: .+\nusage: /);
    }
  });
});

// A sticky failure for real: the log's file system fills up (a 4 MiB tmpfs, as in
// test/faults/enospc-tmpfs.test.ts). Mounting needs root; where it is refused, skipped.
const MOUNT_BYTES = 4 * 1024 * 1024;
const mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), 'ringwal-http-enospc-'));
let skipReason: string | null = null;
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${MOUNT_BYTES}`, 'tmpfs', mountPoint], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
} catch (e) {
  skipReason = `cannot mount a tmpfs: ${(e as { stderr?: Buffer }).stderr?.toString().trim() || (e as Error).message}`;
  console.log(`http-server full disk: skipped: ${skipReason}`);
}
afterAll(() => {
  if (skipReason === null) {
    try {
      execFileSync('umount', [mountPoint], { stdio: 'ignore' });
    } catch {
      execFileSync('umount', ['-l', mountPoint], { stdio: 'ignore' });
    }
  }
  fs.rmSync(mountPoint, { recursive: true, force: true });
});

describe.skipIf(skipReason !== null)('the example HTTP server on a full disk', () => {
  it('turns /healthz red (503 with the sticky code) once the log fails; reads go on; acknowledged writes survive', async () => {
    const filler = path.join(mountPoint, 'filler');
    fs.writeFileSync(filler, new Uint8Array(1024 * 1024).fill(1));
    const dir = path.join(mountPoint, 'log');
    const server = await startServer(['--dir', dir]);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const accepted: { lsn: number; key: string; value: unknown }[] = [];
    let failures: Reply[] = [];
    // Bounded: 4 MiB holds well under 8,000 writes of ~1 KiB.
    for (let n = 0; failures.length === 0 && n < 8000; n += 16) {
      const batch = Array.from({ length: 16 }, (_, i) => ({
        key: `k${(n + i) % 100}`,
        value: { n: n + i, pad: 'f'.repeat(1000) },
      }));
      const replies = await Promise.all(
        batch.map((w) =>
          request(server.port, 'POST', `/kv/${w.key}`, { agent, body: JSON.stringify(w.value) }),
        ),
      );
      replies.forEach((reply, i) => {
        if (reply.status === 201) accepted.push({ lsn: (json(reply) as { lsn: number }).lsn, ...batch[i] });
      });
      failures = replies.filter((r) => r.status !== 201);
    }
    expect(failures.length).toBeGreaterThan(0);
    for (const reply of failures)
      expect([reply.status, json(reply)]).toMatchObject([503, { error: 'WAL_NO_SPACE' }]);

    const health = await request(server.port, 'GET', '/healthz');
    expect([health.status, json(health)]).toMatchObject([503, { status: 'failed', error: 'WAL_NO_SPACE' }]);
    // Sticky: a later write is refused the same way, even a small one.
    const again = await request(server.port, 'POST', '/kv/small', { agent, body: '1' });
    expect([again.status, json(again)]).toMatchObject([503, { error: 'WAL_NO_SPACE' }]);
    // Reads are served from memory still: the last acknowledged write of a key.
    const lastOfK0 = accepted.filter((a) => a.key === 'k0').at(-1)!;
    expect(json(await request(server.port, 'GET', '/kv/k0'))).toEqual(lastOfK0.value);
    agent.destroy();

    // The log cannot be closed cleanly: the server says so and exits 1.
    expect(await terminate(server)).toEqual({ code: 1, signal: null });
    expect(server.stderr()).toContain('WAL_NO_SPACE');

    // Every acknowledged write is on the (still full) disk.
    const byLsn = new Map((await readAll(dir)).map((e) => [e.lsn, e.value]));
    for (const a of accepted) expect(byLsn.get(a.lsn)).toEqual(entryOf({ op: 'set', ...a }));
    console.log(
      `http-server full disk: ${accepted.length} writes acknowledged, then ${failures.length} refused with WAL_NO_SPACE`,
    );
  });
});
