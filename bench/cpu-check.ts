/**
 * Main-thread CPU per entry for ringwal at 1024 in flight versus the create+encode
 * ceiling, interleaved over several rounds: a quick check while tuning the hot path.
 *   node dist/bench/cpu-check.js [rounds]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Packr } from 'msgpackr';
import { openWal } from '../src/index.js';
import { standardEntry } from './entry.js';

function cpuUs(): number {
  return Number(fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1000;
}

const ringBytes = Number(process.env.RING_BYTES ?? 0) || undefined;

async function ringwal(n: number, dir: string): Promise<[number, number]> {
  const wal = await openWal(dir, { ringBytes });
  let issued = 0;
  let acked = 0;
  const c0 = cpuUs();
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const issue = (): void => {
      wal.append(standardEntry(issued++)).then(() => {
        acked++;
        if (issued < n) issue();
        else if (acked === n) resolve();
      });
    };
    for (let k = 0; k < 1024; k++) issue();
  });
  const result: [number, number] = [(cpuUs() - c0) / n, n / ((performance.now() - t0) / 1000)];
  await wal.close();
  return result;
}

function ceiling(n: number): [number, number] {
  const packr = new Packr({ useRecords: false });
  const c0 = cpuUs();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) packr.pack(standardEntry(i));
  return [(cpuUs() - c0) / n, n / ((performance.now() - t0) / 1000)];
}

const rounds = Number(process.argv[2] ?? 5);
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ringwal-cpu-'));
const rows: string[] = [];
const cpuRatios: number[] = [];
const rateRatios: number[] = [];
await ringwal(100_000, path.join(root, 'warmup'));
for (let r = 0; r < rounds; r++) {
  const [cc, cr] = ceiling(300_000);
  const [wc, wr] = await ringwal(300_000, path.join(root, `r${r}`));
  cpuRatios.push(cc / wc);
  rateRatios.push(wr / cr);
  rows.push(
    `ceiling ${cc.toFixed(2)} µs/e ${Math.round(cr)}/s | ringwal ${wc.toFixed(2)} µs/e ${Math.round(wr)}/s | cpu ratio ${(cc / wc).toFixed(2)} rate ratio ${(wr / cr).toFixed(2)}`,
  );
}
console.log(rows.join('\n'));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`median: cpu ratio ${median(cpuRatios).toFixed(2)}, rate ratio ${median(rateRatios).toFixed(2)}`);
fs.rmSync(root, { recursive: true, force: true });
