/**
 * The ring between two threads (issue #22 item 3): the main thread writes records with
 * `RingProducer` (src/ring/producer.ts) and publishes them; a worker thread collects them
 * with `RingConsumer` (src/ring/consumer.ts), which fills in each record's CRC32C and
 * timestamp as the writer does, and gives the space back at once (no I/O: what the ring
 * itself costs, not the disk). The worker sleeps as the writer does (says so in
 * WRITER_STATE, then `Atomics.wait`), so the producer's `publish()` pays a wake-up only when
 * the consumer had nothing to do.
 *
 * Per variant, one sample is a batch of 1024 entries written and published every
 * `publishEvery` entries, then waited for until the consumer has taken them all: ns/entry is
 * the median sample divided by 1024, the producer-to-consumer hand-over included. Payloads
 * are the standard entry's MessagePack bytes (141 B) and 1 KiB.
 *
 * Run: npm run bench:ring-threads
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Packr } from 'msgpackr';
import { Bench, type FnReturnedObject } from 'tinybench';
import { RingConsumer } from '../src/ring/consumer.js';
import {
  COMMAND,
  COMMAND_CLOSE,
  createRing,
  READ_POS,
  ringViews,
  WRITE_POS,
  WRITER_RUNNING,
  WRITER_SLEEPING,
  WRITER_STATE,
} from '../src/ring/layout.js';
import { RingProducer } from '../src/ring/producer.js';
import { standardEntry } from './entry.js';

const BATCH = 1024;
/** Polls before the consumer goes to sleep, as a writer with nothing to do would. */
const SPINS_BEFORE_SLEEP = 2000;

/** The worker: collect, checksum, release, until told to stop. Counts collected bytes. */
function consume(sab: SharedArrayBuffer): void {
  const { control } = ringViews(sab);
  const consumer = new RingConsumer(sab);
  let idle = 0;
  while (Atomics.load(control, COMMAND) !== COMMAND_CLOSE) {
    if (consumer.hasData()) {
      const batch = consumer.collect(1024 * 1024, Date.now());
      consumer.release(batch.end);
      idle = 0;
      continue;
    }
    if (++idle < SPINS_BEFORE_SLEEP) continue;
    Atomics.store(control, WRITER_STATE, WRITER_SLEEPING);
    const seen = consumer.published();
    if (seen === consumer.position) Atomics.wait(control, WRITE_POS, seen, 50);
    Atomics.store(control, WRITER_STATE, WRITER_RUNNING);
    idle = 0;
  }
  parentPort?.postMessage('stopped');
}

async function main(): Promise<void> {
  const sab = createRing(4 * 1024 * 1024); // the default ringBytes
  const { control } = ringViews(sab);
  const worker = new Worker(new URL(import.meta.url), { workerData: sab });
  const producer = new RingProducer(sab);
  const packr = new Packr({ useRecords: false });
  const payloads: Record<string, Uint8Array> = {
    '141 B (standard entry)': Uint8Array.from(packr.pack(standardEntry(7))),
    '1 KiB': new Uint8Array(1024).fill(7),
  };
  let lsn = 0;

  /** Until the consumer has released everything written: the hand-over, timed. */
  const drained = (): void => {
    producer.publish();
    while (producer.inFlightBytes > 0) {
      // spin: the consumer is another thread on another core
    }
  };

  function task(bench: Bench, payload: Uint8Array, publishEvery: number): () => FnReturnedObject {
    return () => {
      const start = bench.now();
      for (let i = 1; i <= BATCH; i++) {
        const id = ++lsn;
        while (producer.write(payload, 0, payload.length, 0, id) !== payload.length) {
          producer.publish(); // the ring is full: let the consumer see what is there, and wait
        }
        if (i % publishEvery === 0) producer.publish();
      }
      drained();
      const elapsedMs = bench.now() - start;
      return { overriddenDuration: elapsedMs / BATCH, overriddenIterationCost: elapsedMs };
    };
  }

  const variants: [string, Uint8Array, number][] = [];
  for (const [size, payload] of Object.entries(payloads)) {
    for (const every of [1, 64, 1024]) variants.push([`${size}, publish every ${every}`, payload, every]);
  }
  const bench = new Bench({ time: 600, timestampProvider: 'hrtimeNow' });
  for (const [name, payload, every] of variants)
    bench.add(name, task(bench, payload, every), { async: false });
  await bench.run();

  Atomics.store(control, COMMAND, COMMAND_CLOSE);
  Atomics.notify(control, WRITE_POS);
  await new Promise((resolve) => worker.once('message', resolve));
  await worker.terminate();
  if (Atomics.load(control, READ_POS) !== Atomics.load(control, WRITE_POS))
    throw new Error('entries left behind');

  console.log(
    `Ring publish/consume between two threads, Node ${process.version}; ${BATCH} entries per sample`,
  );
  console.table(
    variants.map(([name]) => {
      const result = bench.getTask(name)?.result;
      if (result?.state !== 'completed') throw new Error(`${name}: ${result?.state}`);
      return {
        variant: name,
        'ns/entry (median)': Math.round(result.latency.p50 * 1e6),
        'p99 ns/entry': Math.round(result.latency.p99 * 1e6),
        'entries/s (median)': Math.round(1e9 / (result.latency.p50 * 1e6)),
      };
    }),
  );
}

if (isMainThread) await main();
else consume(workerData as SharedArrayBuffer);
