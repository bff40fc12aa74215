/**
 * CRC32C micro-benchmark: our pure-JS slice-by-8 (src/format/crc32c.ts) against the native
 * `crc32c` of @node-rs/crc32, called the way the writer calls it (src/ring/consumer.ts): on
 * bytes [at + 4, at + 24 + length) of a record inside the SharedArrayBuffer ring. The native
 * call needs a Buffer view per record, and that allocation is part of what is measured.
 *
 * Sizes are payload bytes (141 is the standard entry, bench/entry.ts); each call checksums
 * 20 + payload bytes, and MB/s counts those. One sample is the mean of a batch of calls over
 * consecutive records of a 1 MiB stretch of the ring (the timer cannot resolve one ~50 ns
 * call); ns/op is the median sample. Before timing, both are checked to agree on random input.
 *
 * Run: npm run bench:crc
 */
import { crc32c as nativeCrc32c } from '@node-rs/crc32';
import { Bench, type FnReturnedObject } from 'tinybench';
import { RECORD_HEADER_BYTES, recordBytes } from '../src/format/constants.js';
import { crc32c } from '../src/format/crc32c.js';
import { CONTROL_BYTES, createRing, ringViews } from '../src/ring/layout.js';

const SIZES = [64, 141, 256, 1024, 4096, 65536];
const SPAN_BYTES = 1024 * 1024; // records are spread over this much of the ring
const BATCH_BYTES = 64 * 1024; // bytes checksummed per sample, so a sample lasts ~10-100 µs

const sab = createRing(4 * 1024 * 1024); // the default ringBytes
const { bytes } = ringViews(sab);
for (let i = 0; i < bytes.length; i++) bytes[i] = (Math.random() * 256) | 0;

function check(): void {
  const failures: string[] = [];
  const nine = new TextEncoder().encode('123456789');
  if (crc32c(nine) !== 0xe3069283) failures.push(`JS crc32c("123456789") = ${crc32c(nine).toString(16)}`);
  if (nativeCrc32c(Buffer.from(nine)) !== 0xe3069283) failures.push('native crc32c("123456789") is wrong');
  for (let trial = 0; trial < 2000; trial++) {
    const start = (Math.random() * 4096) | 0;
    const end = start + ((Math.random() * 70_000) | 0);
    const split = start + ((Math.random() * (end - start + 1)) | 0);
    const js = crc32c(bytes, start, end);
    const native = nativeCrc32c(Buffer.from(sab, CONTROL_BYTES + start, end - start));
    // Continuing a CRC over a second piece must equal the CRC of the whole (the `crc` argument).
    const continued = crc32c(bytes, split, end, crc32c(bytes, start, split));
    if (js !== native || js !== continued) {
      failures.push(`bytes [${start}, ${end}): JS ${js}, native ${native}, JS in two pieces ${continued}`);
      if (failures.length > 5) break;
    }
  }
  if (failures.length > 0) {
    console.error(`CRC32C implementations disagree:\n  ${failures.join('\n  ')}`);
    process.exit(1);
  }
}

type Checksum = (at: number, length: number) => number;

const js: Checksum = (at, length) => crc32c(bytes, at + 4, at + RECORD_HEADER_BYTES + length);
const native: Checksum = (at, length) =>
  nativeCrc32c(Buffer.from(sab, CONTROL_BYTES + at + 4, RECORD_HEADER_BYTES - 4 + length));

let sink = 0; // every result is folded in and printed, so no call can be optimized away

function task(bench: Bench, fn: Checksum, length: number): () => FnReturnedObject {
  const size = recordBytes(length);
  const records = Math.max(1, Math.floor(SPAN_BYTES / size));
  const calls = Math.max(1, Math.floor(BATCH_BYTES / size));
  let next = 0;
  return () => {
    const start = bench.now();
    for (let i = 0; i < calls; i++) {
      sink ^= fn(next * size, length);
      if (++next === records) next = 0;
    }
    const elapsedMs = bench.now() - start;
    return { overriddenDuration: elapsedMs / calls, overriddenIterationCost: elapsedMs };
  };
}

check();
const bench = new Bench({ time: 400, timestampProvider: 'hrtimeNow' });
for (const length of SIZES) {
  bench.add(`js ${length}`, task(bench, js, length), { async: false });
  bench.add(`native ${length}`, task(bench, native, length), { async: false });
}
await bench.run();

const medianNs = (name: string): number => {
  const result = bench.getTask(name)?.result;
  if (result?.state !== 'completed') throw new Error(`${name}: ${result?.state}`);
  return result.latency.p50 * 1e6;
};
const mbPerS = (length: number, ns: number): number =>
  Math.round(((RECORD_HEADER_BYTES - 4 + length) / ns) * 1e3);

console.log(
  `CRC32C, Node ${process.version}, ${process.arch}; ns/op is the median batch mean (results xor ${(sink >>> 0).toString(16)})`,
);
console.table(
  SIZES.map((length) => {
    const jsNs = medianNs(`js ${length}`);
    const nativeNs = medianNs(`native ${length}`);
    return {
      'payload B': length,
      'JS ns/op': Math.round(jsNs),
      'JS MB/s': mbPerS(length, jsNs),
      'native ns/op': Math.round(nativeNs),
      'native MB/s': mbPerS(length, nativeNs),
      'native/JS time': Math.round((nativeNs / jsNs) * 100) / 100,
    };
  }),
);
