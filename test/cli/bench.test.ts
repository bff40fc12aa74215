/** `ringwal bench` (the main job, `npm start`): its summary, as text and as JSON, and its --dir handling. */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { BenchSummary } from '../../src/cli/bench.js';
import { BIN, firstLine, ringwal, ringwalJson } from '../helpers/cli.js';
import { tempDirs } from '../helpers/tmp.js';

const temp = tempDirs();
afterAll(() => temp.removeAll());

describe('ringwal bench', () => {
  it('--json: only the summary on stdout, and it adds up', async () => {
    const { code, json, stderr } = await ringwalJson<BenchSummary>([
      'bench',
      '--entries',
      '3000',
      '--in-flight',
      '64',
      '--quiet',
    ]);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(json).toMatchObject({ entries: 3000, inFlight: 64, sync: 'always', kept: false });
    expect(json.check).toMatchObject({ ok: true, mismatches: 0 });
    expect(json.recovery).toMatchObject({ lastLsn: 3000, readEntries: 3000 });
    const lat = json.ackLatencyMs;
    expect(lat.p50).toBeGreaterThan(0);
    expect([lat.p50, lat.p90, lat.p99, lat.p999, lat.max]).toEqual(
      [lat.p50, lat.p90, lat.p99, lat.p999, lat.max].sort((a, b) => a - b),
    );
    expect(lat.histogram.reduce((n, b) => n + b.count, 0)).toBe(3000);
    for (let i = 1; i < lat.histogram.length; i++) {
      expect(lat.histogram[i].fromMs).toBe(lat.histogram[i - 1].toMs);
      expect(lat.histogram[i].toMs).toBe(lat.histogram[i].fromMs * 2);
    }
    expect(json.commits.fdatasyncs).toBeGreaterThan(0);
    expect(fs.existsSync(json.dir)).toBe(false); // a temporary directory, removed
  });

  it('text: a summary with percentiles and a histogram; progress lines on stderr when it is not a terminal', async () => {
    const dir = path.join(temp.dir('ringwal-cli-bench-'), 'log');
    const r = await ringwal(['bench', '--entries', '2000', '--sync', 'none', '--dir', dir]);
    expect(r.code).toBe(0);
    expect(firstLine(r.stdout)).toBe(
      `ringwal bench: 2,000 entries, 1,024 in flight, sync 'none', Node ${process.version}`,
    );
    expect(r.stdout).toMatch(
      /ack latency {2}p50 [\d.]+ ms, p90 [\d.]+ ms, p99 [\d.]+ ms, p99\.9 [\d.]+ ms, max [\d.]+ ms\n/,
    );
    expect(r.stdout).toMatch(/\n {4}\s*[\d.]+ - [\d.]+ ms {2}#+ +[\d,]+ +[\d.]+%\n/);
    expect(r.stdout).toContain('check        OK: every acknowledged entry read back, LSNs gapless');
    expect(r.stdout).toContain(`(kept in ${dir})`);
    // Progress, if the run lasted a second, is plain lines (no carriage returns): stderr is a pipe here.
    expect(r.stderr).not.toContain('\r');
    // --dir keeps the log, and a second run appends to it.
    const again = await ringwalJson<BenchSummary>(['bench', '--entries', '500', '--dir', dir, '--quiet']);
    expect(again.json.recovery).toMatchObject({ lastLsn: 2500, readEntries: 2500 });
    expect(again.json.check.ok).toBe(true);
  });

  it('refuses a --dir that is a file or holds other files', async () => {
    const dir = temp.dir('ringwal-cli-bench-other-');
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'x');
    const file = await ringwal(['bench', '--dir', path.join(dir, 'notes.txt')]);
    expect(file.code).toBe(2);
    expect(file.stderr).toBe(`ringwal: bench: --dir ${path.join(dir, 'notes.txt')}: not a directory\n`);
    const other = await ringwal(['bench', '--dir', dir]);
    expect(other.code).toBe(2);
    expect(other.stderr).toBe(
      `ringwal: bench: --dir ${dir}: not a ringwal log: no segment files (wal-*.log) and no LOCK; give a new, empty or log directory\n`,
    );
    expect(fs.readdirSync(dir)).toEqual(['notes.txt']);
  });

  it('removes its temporary log when interrupted (SIGINT), and exits 130', async () => {
    const child = spawn(process.execPath, [BIN, 'bench', '--entries', '50000000', '--in-flight', '64'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const dir = await new Promise<string>((resolve, reject) => {
      // Once the directory is named and entries are being appended, it holds a log worth removing.
      const check = (): void => {
        const m = /^directory: (.*)$/m.exec(stdout);
        if (m && /append\s*: [\d,]+\//.test(stderr)) resolve(m[1]);
      };
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
        check();
      });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
        check();
      });
      child.on('exit', () => reject(new Error(`bench exited early: ${stderr}`)));
    });
    expect(fs.existsSync(dir)).toBe(true);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toContain(`interrupted (SIGINT); removed ${dir}`);
    expect(fs.existsSync(dir)).toBe(false);
  });
});
