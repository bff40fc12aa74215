/**
 * Promise settlement per entry (issue #22 item 3): what acknowledging an entry costs the main
 * thread once the writer has published its LSN, four ways, each for a burst of 1024 entries
 * whose every acknowledgement is awaited by a reaction (as a caller's `await` would be):
 *
 * - a promise per entry: `new Promise` with its executor, the resolve function kept, resolved
 *   in order (what a simple log, or bench/baseline.ts, does);
 * - PendingAcks (src/wal/ack-groups.ts): the same promise per entry, resolve functions kept in
 *   parallel arrays by LSN, settled by `resolveUpTo` (what `waitFor` uses);
 * - AppendAcks, ringwal's acknowledgement groups: the entries between two publishes share one
 *   promise and each `append()` gets `group.then(next)` (what `append` uses), here with a
 *   publish every 256 entries, as the pipeline runs at 1024 in flight (docs/BENCHMARKS.md);
 * - appendNoWait + waitFor: no promise per entry, one `waitFor` promise per burst.
 *
 * Creation, settlement and the reactions are all timed; ns/entry is the median sample / 1024.
 *
 * Run: npm run bench:settle
 */
import { Bench, type FnReturnedObject } from 'tinybench';
import { AppendAcks, PendingAcks } from '../src/wal/ack-groups.js';

const BATCH = 1024;
const PUBLISH_EVERY = 256;
let reactions = 0;
const react = (): void => {
  reactions++;
};
let lsn = 0;

const ways: Record<string, () => Promise<unknown>> = {
  'a promise per entry': () => {
    const resolves: ((n: number) => void)[] = [];
    let last: Promise<unknown> = Promise.resolve();
    for (let k = 0; k < BATCH; k++)
      last = new Promise<number>((resolve) => resolves.push(resolve)).then(react);
    for (let k = 0; k < BATCH; k++) resolves[k](++lsn);
    return last;
  },
  'PendingAcks (waitFor per entry)': () => {
    const acks = new PendingAcks();
    let last: Promise<unknown> = Promise.resolve();
    for (let k = 0; k < BATCH; k++) {
      const id = ++lsn;
      last = new Promise<number>((resolve) => acks.add(id, resolve)).then(react);
    }
    acks.resolveUpTo(lsn);
    return last;
  },
  'AppendAcks (append: one promise per publish group)': () => {
    const acks = new AppendAcks();
    let last: Promise<unknown> = Promise.resolve();
    for (let k = 1; k <= BATCH; k++) {
      acks.join(++lsn);
      last = acks.promiseOfLast().then(react);
      if (k % PUBLISH_EVERY === 0) acks.close();
    }
    acks.close();
    acks.resolveUpTo(lsn);
    return last;
  },
  'appendNoWait + one waitFor per burst': () => {
    const acks = new PendingAcks();
    lsn += BATCH;
    const last = new Promise<number>((resolve) => acks.add(lsn, resolve)).then(react);
    acks.resolveUpTo(lsn);
    return last;
  },
};

function task(bench: Bench, run: () => Promise<unknown>): () => Promise<FnReturnedObject> {
  return async () => {
    const start = bench.now();
    await run();
    const elapsedMs = bench.now() - start;
    return { overriddenDuration: elapsedMs / BATCH, overriddenIterationCost: elapsedMs };
  };
}

const bench = new Bench({ time: 600, timestampProvider: 'hrtimeNow' });
for (const [name, run] of Object.entries(ways)) bench.add(name, task(bench, run), { async: true });
await bench.run();

console.log(
  `Promise settlement per entry, Node ${process.version}; ${BATCH} entries per sample (reactions ${reactions})`,
);
console.table(
  Object.keys(ways).map((name) => {
    const result = bench.getTask(name)?.result;
    if (result?.state !== 'completed') throw new Error(`${name}: ${result?.state}`);
    return {
      way: name,
      'ns/entry (median)': Number((result.latency.p50 * 1e6).toFixed(1)),
      'p99 ns/entry': Number((result.latency.p99 * 1e6).toFixed(1)),
    };
  }),
);
