/**
 * CommonJS applications load ringwal with `require()` (Node 20.19+, 22.12+, 24 can require an
 * ES module without top-level await). An application directory with ringwal installed as a
 * package (a link to this checkout, as `npm install <path>` makes) requires it and its
 * subpath exports by name under the Node running the tests, opens a log, appends, reads back
 * and scrapes.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { FIXTURES } from '../helpers/child.js';
import { tempDirs } from '../helpers/tmp.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const temp = tempDirs();
afterAll(() => temp.removeAll());

/** Every subpath the package exports that code can load (not package.json). */
function exportedSubpaths(): string[] {
  const { exports } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    exports: Record<string, unknown>;
  };
  return Object.keys(exports)
    .filter((key) => key !== './package.json')
    .map((key) => (key === '.' ? 'ringwal' : `ringwal/${key.slice(2)}`));
}

function run(app: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(app, 'consumer.cjs'), ...args], {
      cwd: app,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('CommonJS consumers', () => {
  it(`require('ringwal') and every subpath export work on ${process.version}`, async () => {
    const app = temp.dir('ringwal-cjs-');
    fs.mkdirSync(path.join(app, 'node_modules'));
    fs.symlinkSync(ROOT, path.join(app, 'node_modules', 'ringwal'));
    fs.symlinkSync(
      path.join(ROOT, 'node_modules', 'prom-client'),
      path.join(app, 'node_modules', 'prom-client'),
    );
    fs.copyFileSync(path.join(FIXTURES, 'cjs-consumer.cjs'), path.join(app, 'consumer.cjs'));
    const subpaths = exportedSubpaths();
    expect(subpaths).toContain('ringwal/prometheus');

    const { code, stdout, stderr } = await run(app, [path.join(app, 'log'), ...subpaths]);
    expect(stderr).toBe(''); // no stack, and no experimental-feature warning either
    expect(code).toBe(0);
    const seen = JSON.parse(stdout);
    expect(seen.exports).toEqual(
      expect.arrayContaining(['openWal', 'readWal', 'recoverState', 'WalError', 'ErrorCode']),
    );
    for (const name of subpaths) expect(seen.modules[name].length, name).toBeGreaterThan(0);
    expect(seen.modules['ringwal/prometheus']).toContain('registerWalMetrics');
    expect(seen.promLoadedByRingwal).toBe(false); // requiring ringwal alone never loads prom-client
    expect(seen.modules['ringwal/pino']).toContain('ringwalDestination');
    expect(seen.pinoLoaded).toBe(false); // nor does any subpath load pino
    expect(seen.modules['ringwal/jetstream']).toContain('shipToJetStream');
    expect(seen.natsLoadedByRingwal).toBe(false); // requiring ringwal alone never loads @nats-io
    expect(seen.lsns).toEqual([1, 100]);
    expect(seen.read).toBe(100);
    expect(seen.firstRead).toEqual([1, 'k0']);
    expect(seen.keys).toBe(100);
    expect(seen.appendsTotal).toBe('100');
    expect(seen.codeOfClosed).toBe('WAL_CLOSED');
  });
});
