/**
 * `wal.metrics()`: the counters agree with what was done (appends and their encoded bytes,
 * group commits, fdatasyncs and their histogram, rotations, retention, backpressure), count
 * from open, and survive close.
 */

import { Packr } from 'msgpackr';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, openWal, type Wal, type WalError, type WalMetrics } from '../../src/index.js';
import { readAll } from '../helpers/read.js';
import { tempDirs } from '../helpers/tmp.js';

const dirs = tempDirs();
const open: Wal[] = [];
afterEach(async () => {
  for (const wal of open.splice(0)) await wal.close().catch(() => {});
  dirs.removeAll();
});

async function openTracked(dir: string, options: Parameters<typeof openWal>[1] = {}): Promise<Wal> {
  const wal = await openWal(dir, options);
  open.push(wal);
  return wal;
}

const packr = new Packr({ useRecords: false });
const encodedBytes = (values: unknown[]) => values.reduce<number>((n, v) => n + packr.pack(v).length, 0);
const histogramTotal = (m: WalMetrics) => m.syncLatency.reduce((n, b) => n + b.count, 0);

describe('wal.metrics()', () => {
  it('counts appends, their bytes, group commits and fdatasyncs, with a histogram that adds up', async () => {
    const dir = dirs.dir('ringwal-metrics-');
    const wal = await openTracked(dir);
    const values = Array.from({ length: 500 }, (_, i) => ({
      op: 'set',
      key: `k${i}`,
      value: 'v'.repeat(i % 50),
    }));
    await Promise.all(values.slice(0, 250).map((v) => wal.append(v)));
    for (const v of values.slice(250, 260)) await wal.append(v); // one commit each
    await Promise.all(values.slice(260).map((v) => wal.append(v)));
    const m = wal.metrics();
    expect(m.appends).toBe(500);
    expect(m.appendedBytes).toBe(encodedBytes(values));
    expect(m).toMatchObject({ lastLsn: 500, writtenLsn: 500, durableLsn: 500, pendingAcks: 0 });
    expect(m.ringBytesInUse).toBe(0);
    expect(m.ringCapacity).toBe(4 * 1024 * 1024);
    expect(m.overflowEntries).toBe(0);
    expect(m.backpressureRejections).toBe(0);
    // Each record is the entry plus a 24-byte header, padded to 8 bytes.
    expect(m.bytesWritten).toBeGreaterThanOrEqual(m.appendedBytes + 24 * 500);
    expect(m.bytesWritten).toBeLessThan(m.appendedBytes + 32 * 500);
    // The ten awaited one by one were ten commits at least; the bursts were grouped.
    expect(m.writes).toBeGreaterThanOrEqual(12);
    expect(m.writes).toBeLessThan(500);
    expect(m.syncs).toBeGreaterThanOrEqual(12);
    expect(histogramTotal(m)).toBe(m.syncs);
    expect(m.syncMsTotal).toBeGreaterThan(0);
    expect(m.syncMsMax).toBeGreaterThan(0);
    expect(m.syncMsMax).toBeLessThanOrEqual(m.syncMsTotal);
    expect(m.syncLatency.at(-1)?.underUs).toBe(Number.POSITIVE_INFINITY);
    expect(m.syncLatency.map((b) => b.underUs)).toEqual(
      [...m.syncLatency.map((b) => b.underUs)].sort((a, b) => a - b),
    );
  });

  it('times every acknowledged entry from append to ack, and sizes every group commit', async () => {
    const dir = dirs.dir('ringwal-metrics-');
    const wal = await openTracked(dir);
    const burst = (n: number, from: number) =>
      Promise.all(Array.from({ length: n }, (_, i) => wal.append({ i: from + i, pad: 'p'.repeat(40) })));
    await burst(300, 0);
    for (let i = 0; i < 10; i++) await wal.append({ alone: i }); // one group commit each
    const last = wal.appendNoWait({ noWait: true }); // acknowledged without a promise of its own
    await wal.waitFor(last);
    await burst(1500, 1000);
    const m = wal.metrics();
    const commitTotal = m.commitLatency.reduce((n, b) => n + b.count, 0);
    expect(m.acknowledged).toBe(1811);
    expect(commitTotal).toBe(1811);
    expect(m.commitLatency.at(-1)?.underUs).toBe(Number.POSITIVE_INFINITY);
    // Each entry waited at least for the fdatasync that made it durable.
    expect(m.commitLatencyMsMax).toBeGreaterThanOrEqual(m.syncMsMax);
    expect(m.commitLatencyMsTotal).toBeGreaterThanOrEqual(m.syncMsTotal);
    expect(m.commitLatencyMsMax).toBeLessThanOrEqual(m.commitLatencyMsTotal);

    // Every group commit is in both size histograms; together they completed every entry.
    expect(m.batchEntries.reduce((n, b) => n + b.count, 0)).toBe(m.writes);
    expect(m.batchBytes.reduce((n, b) => n + b.count, 0)).toBe(m.writes);
    expect(m.entriesWritten).toBe(1811);
    expect(m.batchEntries.at(-1)?.atMost).toBe(Number.POSITIVE_INFINITY);
    expect(m.batchBytes.at(-1)?.atMost).toBe(Number.POSITIVE_INFINITY);
    // The ten appends awaited one by one were commits of one entry each; the bursts were grouped.
    expect(m.batchEntries[0]).toEqual({ atMost: 1, count: expect.any(Number) });
    expect(m.batchEntries[0].count).toBeGreaterThanOrEqual(10);
    expect(m.batchEntries.slice(1).some((b) => b.count > 0)).toBe(true);
  });

  it('keeps the commit histogram after close, counting each acknowledged entry once', async () => {
    const dir = dirs.dir('ringwal-metrics-');
    const wal = await openTracked(dir);
    await Promise.all(Array.from({ length: 20 }, (_, i) => wal.append({ i })));
    await wal.close();
    const m = wal.metrics();
    expect(m.acknowledged).toBe(20);
    expect(m.commitLatency.reduce((n, b) => n + b.count, 0)).toBe(20);
  });

  it('counts rotations and segments removed by retention', async () => {
    const dir = dirs.dir('ringwal-metrics-');
    const wal = await openTracked(dir, { segmentBytes: 64 * 1024, retention: { maxSegments: 3 } });
    for (let burst = 0; burst < 40; burst++) {
      await Promise.all(
        Array.from({ length: 100 }, (_, i) => wal.append({ burst, i, pad: 'x'.repeat(100) })),
      );
    }
    // The writer acknowledges a batch before it rotates and applies retention (and counts what
    // it removed just after removing it), so the last ack can come a moment before the
    // directory and the counters settle.
    await vi.waitFor(
      async () => {
        const m = wal.metrics();
        const segments = (await wal.segments()).length;
        expect(m.rotations).toBeGreaterThan(5);
        expect(segments).toBeLessThanOrEqual(3);
        // Every segment ever started is either still there or was removed.
        expect(m.segmentsRemoved).toBe(m.rotations + 1 - segments);
      },
      { timeout: 10_000 },
    );
  });

  it('counts entries waiting outside the ring and every append refused with WAL_BACKPRESSURE', async () => {
    const dir = dirs.dir('ringwal-metrics-');
    const wal = await openTracked(dir, {
      ringBytes: 64 * 1024,
      maxEntryBytes: 1024,
      maxPendingBytes: 128 * 1024,
    });
    let refused = 0;
    let waitingAtRefusal = 0;
    let last = 0;
    for (let i = 0; i < 20_000 && refused < 3; i++) {
      try {
        last = wal.appendNoWait({ i, pad: 'p'.repeat(200) });
      } catch (e) {
        expect((e as WalError).code).toBe(ErrorCode.BACKPRESSURE);
        refused++;
        waitingAtRefusal = wal.metrics().overflowEntries;
      }
    }
    expect(refused).toBe(3);
    expect(waitingAtRefusal).toBeGreaterThan(0);
    const during = wal.metrics();
    expect(during.backpressureRejections).toBe(3);
    expect(during.overflowBytes).toBeGreaterThan(0);
    expect(during.overflowBytes).toBeLessThanOrEqual(128 * 1024);
    expect(during.appends).toBe(last);
    await wal.waitFor(last);
    const after = wal.metrics();
    expect(after).toMatchObject({
      overflowEntries: 0,
      overflowBytes: 0,
      durableLsn: last,
      backpressureRejections: 3,
    });
  });

  it('counts from open, not from the first entry of the log, and still answers after close', async () => {
    const dir = dirs.dir('ringwal-metrics-');
    const first = await openTracked(dir);
    await Promise.all([1, 2, 3].map((v) => first.append(v)));
    await first.close();
    const second = await openTracked(dir);
    expect(second.metrics()).toMatchObject({
      appends: 0,
      appendedBytes: 0,
      lastLsn: 3,
      durableLsn: 3,
      writes: 0,
    });
    await second.append('four');
    await second.close();
    const closed = second.metrics();
    expect(closed).toMatchObject({ appends: 1, lastLsn: 4, durableLsn: 4, writes: 1, pendingAcks: 0 });
    expect((await readAll(dir)).map((e) => e.value)).toEqual([1, 2, 3, 'four']);
  });

  it("with sync: 'none' counts no fdatasync until one is asked for", async () => {
    const dir = dirs.dir('ringwal-metrics-');
    const wal = await openTracked(dir, { sync: 'none' });
    await Promise.all(Array.from({ length: 100 }, (_, i) => wal.append(i)));
    expect(wal.metrics()).toMatchObject({ appends: 100, writtenLsn: 100, syncs: 0 });
    await wal.sync();
    const m = wal.metrics();
    expect(m.syncs).toBe(1);
    expect(histogramTotal(m)).toBe(1);
    expect(m.durableLsn).toBe(100);
  });
});
