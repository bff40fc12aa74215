/**
 * The main thread's cost of putting one standard entry (bench/entry.ts) into the ring, three
 * ways: msgpackr's plain `pack()` as the ceiling does it (a view allocated per entry, nothing
 * written anywhere), packing into a buffer of our own and copying into the ring (how every
 * entry went before session 6, and how entries that do not land in place still go), and
 * encoding straight into the ring (`RingProducer.inPlaceOffset` + `encodeAt` + `commitInPlace`,
 * what `append()` does now). The entries are built beforehand, so building them is not
 * counted; the ring is given back after every batch, as a writer that keeps up would.
 *
 * One sample is the mean over a batch of 1024 entries; ns/entry is the median sample.
 *
 * Run: npm run bench:encode
 */
import { Packr } from 'msgpackr';
import { Bench, type FnReturnedObject } from 'tinybench';
import { decode, encode, encodeAt, loadEncoder } from '../src/encoding.js';
import { RECORD_HEADER_BYTES } from '../src/format/constants.js';
import { createRing, READ_POS, ringViews, WRITE_POS } from '../src/ring/layout.js';
import { RingProducer } from '../src/ring/producer.js';
import { standardEntry } from './entry.js';

await loadEncoder(); // what openWal does before a log's first append

const BATCH = 1024;
const entries = Array.from({ length: BATCH }, (_, i) => standardEntry(i));

const sab = createRing(4 * 1024 * 1024); // the default ringBytes
const { control } = ringViews(sab);
const producer = new RingProducer(sab);
/** Publishes the batch and gives the ring back at once, as a writer that keeps up would. */
function release(): void {
  producer.publish();
  Atomics.store(control, READ_POS, Atomics.load(control, WRITE_POS));
}

const plain = new Packr({ useRecords: false });
let lsn = 0;
let sink = 0;

const ways: Record<string, () => void> = {
  'pack(), as the ceiling': () => {
    for (let i = 0; i < BATCH; i++) sink += plain.pack(entries[i]).length;
  },
  'pack + copy into the ring': () => {
    for (let i = 0; i < BATCH; i++) {
      const e = encode(entries[i]);
      sink += producer.write(e, e.start, e.end, e.start, ++lsn);
    }
    release();
  },
  'encode in place': () => {
    for (let i = 0; i < BATCH; i++) {
      const at = producer.inPlaceOffset();
      const e = encodeAt(entries[i], producer.window, at + RECORD_HEADER_BYTES);
      if ((e as Uint8Array) !== producer.window) throw new Error('an entry did not land in place');
      producer.commitInPlace(at, e.end - e.start, ++lsn);
      sink += e.end;
    }
    release();
  },
};

function check(): void {
  // Both ring paths must write the same payload bytes for the same entry.
  const at = producer.inPlaceOffset();
  const inPlace = encodeAt(entries[7], producer.window, at + RECORD_HEADER_BYTES);
  const copy = Uint8Array.from(inPlace.subarray(inPlace.start, inPlace.end));
  const other = encode(entries[7]);
  if (Buffer.compare(copy, other.subarray(other.start, other.end)) !== 0) throw new Error('encodings differ');
  if (JSON.stringify(decode(copy)) !== JSON.stringify(entries[7]))
    throw new Error('the entry does not read back');
}

function task(bench: Bench, run: () => void): () => FnReturnedObject {
  return () => {
    const start = bench.now();
    run();
    const elapsedMs = bench.now() - start;
    return { overriddenDuration: elapsedMs / BATCH, overriddenIterationCost: elapsedMs };
  };
}

check();
const bench = new Bench({ time: 1000, timestampProvider: 'hrtimeNow' });
for (const [name, run] of Object.entries(ways)) bench.add(name, task(bench, run), { async: false });
await bench.run();

console.log(`Putting the standard entry into the ring, Node ${process.version} (checksum ${sink % 997})`);
console.table(
  Object.keys(ways).map((name) => {
    const result = bench.getTask(name)?.result;
    if (result?.state !== 'completed') throw new Error(`${name}: ${result?.state}`);
    return {
      way: name,
      'ns/entry (median)': Math.round(result.latency.p50 * 1e6),
      'p99 ns/entry': Math.round(result.latency.p99 * 1e6),
    };
  }),
);
