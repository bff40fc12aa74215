/**
 * The ring across two real threads: this thread produces, a worker
 * (test/fixtures/ring-consumer-worker.mjs, running the compiled consumer from dist/) collects,
 * checks every byte, LSN and CRC, and releases. The producer meets a full ring all the time
 * (64 KiB ring, ~170 MB through it) and waits for space with a bounded Atomics.wait. About
 * half the entries are written in place, as the encoder writes them (`inPlaceOffset`, bytes
 * straight into `window`, `commitInPlace`), the rest copied in with `write`.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { RECORD_HEADER_BYTES, recordBytes } from '../../src/format/constants.js';
import { createRing, maxFragmentPayload, READ_POS, ringViews, WRITE_POS } from '../../src/ring/layout.js';
import { RingProducer } from '../../src/ring/producer.js';
import {
  entryLength,
  fillEntry,
  poolOffset,
  STATUS_CONSUMER_FAILED,
  STATUS_PRODUCER_DONE,
  STATUS_WORDS,
  // @ts-expect-error a plain .mjs fixture, shared with the consumer thread
} from '../fixtures/ring-consumer-worker.mjs';

const CAPACITY = 64 * 1024;
const MAX_FRAGMENT = maxFragmentPayload(CAPACITY);
const ENTRIES = 200_000;
/** The consumer cycles through these batch caps: one record at a time, small, half, whole ring. */
const BATCH_LIMITS = [CAPACITY / 2, 1, 4096, CAPACITY, 300];
/** Longest the producer waits for the consumer in all; a hang fails the test instead of hanging it. */
const DEADLINE_MS = 45_000;

interface ConsumerReport {
  counts: {
    batches: number;
    records: number;
    recordBytes: number;
    entries: number;
    fragmentedEntries: number;
  };
  errors: string[];
  lastLsn: number;
}

/** What the consumer should count, worked out from the entry sizes alone. */
function expectedCounts(entries: number) {
  let records = 0;
  let bytes = 0;
  let fragmentedEntries = 0;
  for (let lsn = 1; lsn <= entries; lsn++) {
    const length = entryLength(lsn, CAPACITY);
    const full = Math.floor(length / MAX_FRAGMENT);
    const rest = length - full * MAX_FRAGMENT;
    const fragments = full + (rest > 0 || full === 0 ? 1 : 0);
    records += fragments;
    bytes += full * recordBytes(MAX_FRAGMENT) + (rest > 0 || full === 0 ? recordBytes(rest) : 0);
    if (fragments > 1) fragmentedEntries++;
  }
  return { records, recordBytes: bytes, entries, fragmentedEntries };
}

function startConsumer(
  sab: SharedArrayBuffer,
  status: Int32Array,
): { worker: Worker; report: Promise<ConsumerReport> } {
  const worker = new Worker(new URL('../fixtures/ring-consumer-worker.mjs', import.meta.url), {
    workerData: {
      kind: 'ring-consumer',
      sab,
      status: status.buffer,
      entries: ENTRIES,
      batchLimits: BATCH_LIMITS,
    },
  });
  const report = new Promise<ConsumerReport>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`consumer exited (${code}) without a report`)));
  });
  return { worker, report };
}

/**
 * Produces entries 1..count, each copied from a slice of a pool buffer (as the encoder hands
 * them over). When the ring is full it publishes and sleeps on READ_POS with a timeout; it
 * gives up (returning why) if the consumer failed or the deadline passes. Returns null when done.
 */
async function produce(
  sab: SharedArrayBuffer,
  status: Int32Array,
  count: number,
  counts: { inPlace: number },
): Promise<string | null> {
  const producer = new RingProducer(sab);
  const control = ringViews(sab).control;
  const pool = new Uint8Array(1024 + 2 * CAPACITY);
  const deadline = Date.now() + DEADLINE_MS;
  for (let lsn = 1; lsn <= count; lsn++) {
    const length = entryLength(lsn, CAPACITY);
    if (placeInRing(producer, lsn, length)) {
      counts.inPlace++;
      if (Math.imul(lsn, 0x9e3779b1) >>> 29 === 0) producer.publish();
      continue;
    }
    const start = poolOffset(lsn);
    const end = start + length;
    fillEntry(lsn, pool, start, end);
    let from = start;
    while (true) {
      // Read READ_POS before trying: a release after this makes the wait below return at once.
      const seen = Atomics.load(control, READ_POS);
      from = producer.write(pool, start, end, from, lsn);
      if (producer.inFlightBytes > CAPACITY)
        return `producer claims ${producer.inFlightBytes} bytes in flight`;
      if (from === end) break;
      if (from < start || from > end) return `write returned ${from} for [${start}, ${end})`;
      producer.publish();
      if (Atomics.load(status, STATUS_CONSUMER_FAILED) === 1) return `consumer failed at LSN ${lsn}`;
      if (Date.now() > deadline) return `no ring space for LSN ${lsn} within ${DEADLINE_MS} ms`;
      Atomics.wait(control, READ_POS, seen, 100);
    }
    // Publish after about one entry in eight, so batches hold runs of entries of all lengths.
    if (Math.imul(lsn, 0x9e3779b1) >>> 29 === 0) producer.publish();
    // Let this thread's event loop run now and then (the worker's messages, vitest's RPC).
    if (lsn % 2000 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  producer.publish();
  Atomics.store(status, STATUS_PRODUCER_DONE, 1);
  Atomics.notify(control, WRITE_POS);
  return null;
}

/**
 * Writes every other entry that fits one record straight into the ring, as the encoder does
 * (ending at least 10 bytes before the window's end, as msgpackr does); false when it did not.
 */
function placeInRing(producer: RingProducer, lsn: number, length: number): boolean {
  if ((lsn & 1) === 0 || length > MAX_FRAGMENT) return false;
  const at = producer.inPlaceOffset();
  const payloadAt = at + RECORD_HEADER_BYTES;
  if (at < 0 || payloadAt + length > producer.window.length - 10) return false;
  fillEntry(lsn, producer.window, payloadAt, payloadAt + length);
  producer.commitInPlace(at, length, lsn);
  return true;
}

describe('ring across two threads', () => {
  it('moves 200k entries of random sizes to a consumer thread intact, in order, through a full ring', async () => {
    const sab = createRing(CAPACITY);
    const status = new Int32Array(new SharedArrayBuffer(STATUS_WORDS * 4));
    const { worker, report } = startConsumer(sab, status);
    try {
      const inPlace = { inPlace: 0 };
      const producerProblem = await produce(sab, status, ENTRIES, inPlace);
      // Also when the producer gave up: the consumer then stops and reports what it got.
      Atomics.store(status, STATUS_PRODUCER_DONE, 1);
      const result = await report;

      expect({ producerProblem, consumerErrors: result.errors }).toEqual({
        producerProblem: null,
        consumerErrors: [],
      });
      expect(result.lastLsn).toBe(ENTRIES);
      const { batches: _, ...counts } = result.counts;
      expect(counts).toEqual(expectedCounts(ENTRIES));
      expect(counts.fragmentedEntries).toBeGreaterThan(0);
      expect(inPlace.inPlace).toBeGreaterThan(ENTRIES / 4);
      // Both sides end at the same place and the ring is empty.
      expect(Atomics.load(ringViews(sab).control, READ_POS)).toBe(
        Atomics.load(ringViews(sab).control, WRITE_POS),
      );
    } finally {
      Atomics.store(status, STATUS_PRODUCER_DONE, 1);
      await worker.terminate();
    }
  });
});
