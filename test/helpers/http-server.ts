/**
 * The example HTTP server (examples/http-server/server.js) as a real child process, and a
 * small HTTP client for it. The server imports 'ringwal', which resolves to dist/ (the vitest
 * globalSetup compiles it first).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as http from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { exited, lines, stderrOf } from './child.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SERVER = path.join(ROOT, 'examples', 'http-server', 'server.js');

export interface RunningServer {
  child: ChildProcess;
  port: number;
  /** Every stdout line so far, the `listening on` line first. */
  stdout: string[];
  stderr: () => string;
  /** Resolves once a stdout line satisfies `match`. */
  line: (match: (line: string) => boolean) => Promise<string>;
}

/** Starts the server on `--port 0` with `args`, once it has printed its `listening on` line. */
export async function startServer(args: readonly string[]): Promise<RunningServer> {
  const child = spawn(process.execPath, [SERVER, '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr = stderrOf(child);
  const stdout: string[] = [];
  const waiters: { match: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  lines(child, (text) => {
    stdout.push(text);
    for (const waiter of waiters.filter((w) => w.match(text))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(text);
    }
  });
  const line = (match: (line: string) => boolean): Promise<string> => {
    const seen = stdout.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      waiters.push({ match, resolve });
      exited(child).then(({ code, signal }) =>
        reject(new Error(`the server exited (${signal ?? code}) first; stderr: ${stderr()}`)),
      );
    });
  };
  const first = await line(() => true);
  const found = /^listening on http:\/\/127\.0\.0\.1:(\d+)$/.exec(first);
  if (!found) throw new Error(`unexpected first line: ${first}`);
  return { child, port: Number(found[1]), stdout, stderr, line };
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface RequestOptions {
  body?: string | Buffer;
  agent?: http.Agent;
  headers?: http.OutgoingHttpHeaders;
}

/** One request to 127.0.0.1:`port`; rejects on a connection error or after 30 s. */
export function request(
  port: number,
  method: string,
  target: string,
  options: RequestOptions = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path: target, agent: options.agent, headers: options.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${target}: no answer in 30 s`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Sends SIGTERM and resolves with how the server exited. */
export async function terminate(
  server: RunningServer,
): Promise<{ code: number | null; signal: string | null }> {
  server.child.kill('SIGTERM');
  return exited(server.child);
}
