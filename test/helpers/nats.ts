/**
 * Real NATS servers for the shipping tests (`.ci/run` installs Debian's `nats-server`): one
 * server with JetStream, or a three-node JetStream cluster, on loopback ports, each with its
 * store in a temporary directory that outlives a restart. Nothing is mocked. Every process is
 * stopped by its PID (`stopAll`), and its directory removed.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { shippedEntries } from '../../src/jetstream.js';
import { tempDir } from './tmp.js';

/** The nats-server binary, or null when it is not installed. */
export function natsServerBinary(): string | null {
  for (const dir of [
    ...(process.env.PATH ?? '').split(path.delimiter),
    '/usr/sbin',
    '/usr/bin',
    '/usr/local/bin',
  ]) {
    const file = path.join(dir, 'nats-server');
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * Why these tests cannot run here, or null when they can. In CI a missing server is a
 * failure, not a skip: `.ci/run` installs it.
 */
export function natsSkipReason(): string | null {
  if (natsServerBinary() !== null) return null;
  if (process.env.CI)
    throw new Error('nats-server is not installed; .ci/run installs it (apt-get install nats-server)');
  return 'nats-server is not installed (apt-get install nats-server): the JetStream shipping tests need a real server';
}

/** The server's version line, e.g. "nats-server: v2.9.10". */
export function natsServerVersion(): string {
  const bin = natsServerBinary();
  return bin ? execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim() : 'none';
}

/** A free TCP port on 127.0.0.1 (the kernel picks it; closed again before the server binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/** One nats-server process, restartable with the same ports and store. */
export class NatsNode {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    readonly name: string,
    readonly port: number,
    readonly dir: string,
    config: string,
  ) {
    fs.writeFileSync(path.join(dir, 'server.conf'), config);
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    if (this.child) return;
    const bin = natsServerBinary();
    if (!bin) throw new Error('nats-server is not installed');
    const child = spawn(bin, ['-c', path.join(this.dir, 'server.conf')], {
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    this.child = child;
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        if (this.child === child) this.child = null;
        resolve();
      });
    });
  }

  /** Stops the server: SIGTERM lets it shut down cleanly, SIGKILL does not. Resolves once it exited. */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }

  /** The last lines of the server's log, for a failing test's message. */
  logTail(lines = 30): string {
    try {
      return fs.readFileSync(path.join(this.dir, 'server.log'), 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }
}

/** A set of servers (one, or a cluster) started together. */
export class NatsServers {
  constructor(
    readonly nodes: NatsNode[],
    private readonly root: string,
  ) {}

  get urls(): string[] {
    return this.nodes.map((n) => n.url);
  }

  startAll(): void {
    for (const node of this.nodes) node.start();
  }

  async stopAll(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop(signal)));
  }

  /** Stops every server and removes their stores. */
  async destroy(): Promise<void> {
    await this.stopAll('SIGKILL');
    fs.rmSync(this.root, { recursive: true, force: true });
  }

  /** Waits until JetStream answers (in a cluster: a meta leader is elected) through `urls`. */
  async ready(timeoutMs = 30_000): Promise<void> {
    await waitForJetStream(this.urls, timeoutMs);
  }
}

/** One server with JetStream on a loopback port. */
export async function startNatsServer(extraConfig: string[] = []): Promise<NatsServers> {
  const root = tempDir('ringwal-nats-');
  const port = await freePort();
  const dir = path.join(root, 'n1');
  fs.mkdirSync(dir);
  const node = new NatsNode(
    'n1',
    port,
    dir,
    [
      'server_name: n1',
      `listen: "127.0.0.1:${port}"`,
      `log_file: "${path.join(dir, 'server.log')}"`,
      `jetstream { store_dir: "${path.join(dir, 'js')}" }`,
      ...extraConfig,
      '',
    ].join('\n'),
  );
  const servers = new NatsServers([node], root);
  servers.startAll();
  await servers.ready();
  return servers;
}

/** A JetStream cluster of `size` servers on one machine (streams may have replicas up to `size`). */
export async function startNatsCluster(size = 3): Promise<NatsServers> {
  const root = tempDir('ringwal-natsc-');
  const ports: number[] = [];
  const clusterPorts: number[] = [];
  for (let i = 0; i < size; i++) {
    ports.push(await freePort());
    clusterPorts.push(await freePort());
  }
  const nodes = ports.map((port, i) => {
    const name = `n${i + 1}`;
    const dir = path.join(root, name);
    fs.mkdirSync(dir);
    const routes = clusterPorts.filter((_, j) => j !== i).map((p) => `"nats://127.0.0.1:${p}"`);
    return new NatsNode(
      name,
      port,
      dir,
      [
        `server_name: ${name}`,
        `listen: "127.0.0.1:${port}"`,
        `log_file: "${path.join(dir, 'server.log')}"`,
        `jetstream { store_dir: "${path.join(dir, 'js')}" }`,
        'cluster {',
        '  name: ringwal',
        `  listen: "127.0.0.1:${clusterPorts[i]}"`,
        `  routes: [${routes.join(', ')}]`,
        '}',
        '',
      ].join('\n'),
    );
  });
  const servers = new NatsServers(nodes, root);
  servers.startAll();
  await servers.ready();
  return servers;
}

/** Connects to `urls` (retrying while none answers yet). */
export async function connectTo(urls: string[], timeoutMs = 30_000): Promise<NatsConnection> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    try {
      return await connect({
        servers: urls,
        reconnect: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 200,
      });
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Waits until a JetStream account-info request succeeds through `urls`. */
export async function waitForJetStream(urls: string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const nc = await connectTo(urls, timeoutMs);
  try {
    while (true) {
      try {
        const jsm = await jetstreamManager(nc, { timeout: 2000 });
        await jsm.getAccountInfo();
        return;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  } finally {
    await nc.close();
  }
}

/** An entry of the stream as the tests check it, with the message that holds it. */
export interface StoredEntry {
  seq: number;
  subject: string;
  log: string;
  lsn: number;
  ts: number;
  msgId: string;
  data: Uint8Array;
  /** Entries in the message that holds this one (1 unless packed). */
  entries: number;
}

/** Every entry of `stream` (in stream order, packed messages unpacked), read with an ordered consumer. */
export async function readStream(urls: string[], stream: string): Promise<StoredEntry[]> {
  const nc = await connectTo(urls);
  try {
    const jsm = await jetstreamManager(nc, { timeout: 10_000 });
    const info = await jsm.streams.info(stream);
    const last = info.state.last_seq;
    const out: StoredEntry[] = [];
    if (info.state.messages === 0) return out;
    const js = jsm.jetstream();
    const consumer = await js.consumers.get(stream);
    const messages = await consumer.consume();
    for await (const m of messages) {
      const h = m.headers;
      const entries = shippedEntries(m);
      for (const entry of entries) {
        out.push({
          seq: m.seq,
          subject: m.subject,
          log: h?.get('Ringwal-Log') ?? '',
          lsn: entry.lsn,
          ts: entry.ts,
          msgId: h?.get('Nats-Msg-Id') ?? '',
          data: entry.bytes,
          entries: entries.length,
        });
      }
      if (m.seq >= last) break;
    }
    await messages.close();
    return out;
  } finally {
    await nc.close();
  }
}

/** The LSN of the last entry on `subject` (the last of a packed message), 0 if none. */
export async function lastLsnOn(urls: string[], stream: string, subject: string): Promise<number> {
  const nc = await connectTo(urls);
  try {
    const jsm = await jetstreamManager(nc, { timeout: 10_000 });
    const m = await jsm.streams.getMessage(stream, { last_by_subj: subject });
    return m === null
      ? 0
      : Number(m.header.get('Ringwal-Lsn')) + Number(m.header.get('Ringwal-Entries') || 1) - 1;
  } finally {
    await nc.close();
  }
}
