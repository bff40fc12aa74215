/**
 * What one wake-up per tick does to the event-loop delay at 1 ms resolution, with no log and
 * no work at all (issue #20): a 1 ms interval timer runs alone, and on each tick a worker is
 * asked to wake the main thread (`Atomics.notify` → `Atomics.waitAsync`, as ringwal's writer
 * does) a fixed delay later. The main thread does nothing on the wake-up, yet the delay's p99
 * grows with that delay: libuv keeps loop time in whole milliseconds, so a loop woken between
 * two ticks re-arms its poll for the next timer from a rounded-down clock, and that timer fires
 * up to the wake-up's phase late. An acknowledgement that arrives a fixed time after each tick
 * (a commit's fdatasync) lands at a steady phase, and the timer is late by it each time.
 *
 *   node dist/bench/wake-phase.js [--delays -1,100,300,600,900] [--seconds 3]
 *
 * A delay of -1 wakes nothing (the idle process).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { arg, fmt, runChild } from './child-run.js';

const DELAYS = (arg('delays') ?? '-1,100,300,600,900').split(',').map(Number);
const SECONDS = Number(arg('seconds') ?? 3);
const CHILD = arg('child');

/** Int32 words: the tick count the worker waits on, the wake count the main thread waits on, stop. */
const TICK = 0;
const WAKE = 1;
const STOP = 2;

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const words = new Int32Array(workerData.shared);
for (;;) {
  Atomics.wait(words, ${TICK}, Atomics.load(words, ${TICK}));
  if (Atomics.load(words, ${STOP})) break;
  const until = performance.now() + workerData.delayUs / 1000;
  while (performance.now() < until) {}
  Atomics.add(words, ${WAKE}, 1);
  Atomics.notify(words, ${WAKE});
}
`;

interface PhaseResult {
  eldP50Ms: number;
  eldP99Ms: number;
  eldMaxMs: number;
  eluPct: number;
  wakes: number;
}

async function child(delayUs: number): Promise<void> {
  const words = new Int32Array(new SharedArrayBuffer(12));
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { shared: words.buffer, delayUs } });
  let wakes = 0;
  const arm = (): void => {
    const wait = Atomics.waitAsync(words, WAKE, Atomics.load(words, WAKE));
    const woken = (): void => {
      wakes++;
      arm();
    };
    if (wait.async) void wait.value.then(woken);
    else queueMicrotask(woken);
  };
  if (delayUs >= 0) arm();
  const timer = setInterval(() => {
    if (delayUs < 0) return;
    Atomics.add(words, TICK, 1);
    Atomics.notify(words, TICK);
  }, 1);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const eld = monitorEventLoopDelay({ resolution: 1 });
  const elu0 = performance.eventLoopUtilization();
  wakes = 0;
  eld.enable();
  await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
  eld.disable();
  const elu = performance.eventLoopUtilization(elu0);
  clearInterval(timer);
  const result: PhaseResult = {
    eldP50Ms: eld.percentile(50) / 1e6,
    eldP99Ms: eld.percentile(99) / 1e6,
    eldMaxMs: eld.max / 1e6,
    eluPct: elu.utilization * 100,
    wakes: wakes / SECONDS,
  };
  console.log(JSON.stringify(result));
  Atomics.store(words, STOP, 1);
  Atomics.add(words, TICK, 1);
  Atomics.notify(words, TICK);
  await new Promise((resolve) => worker.once('exit', resolve));
}

function main(): void {
  console.log(
    `ringwal bench wake-phase: a 1 ms timer, one wake-up per tick after a delay, Node ${process.version}`,
  );
  console.log(
    `${'wake after'.padStart(10)} ${'ELD p50'.padStart(8)} ${'ELD p99'.padStart(8)} ${'ELD max'.padStart(8)} ${'ELU %'.padStart(6)} ${'wakes/s'.padStart(8)}`,
  );
  for (const delay of DELAYS) {
    const r = runChild<PhaseResult>(process.argv[1], String(delay), ['--seconds', String(SECONDS)]);
    console.log(
      `${(delay < 0 ? 'none' : `${delay} µs`).padStart(10)} ${fmt(r.eldP50Ms, 2).padStart(8)} ${fmt(r.eldP99Ms, 2).padStart(8)} ${fmt(r.eldMaxMs, 2).padStart(8)} ${fmt(r.eluPct, 1).padStart(6)} ${fmt(r.wakes).padStart(8)}`,
    );
  }
}

if (CHILD !== undefined) await child(Number(CHILD));
else main();
