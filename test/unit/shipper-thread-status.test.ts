/**
 * The words a worker-thread shipper reports through (src/jetstream/thread-status.ts): a notice
 * is posted only when none is pending, the reader always sees the latest shipped LSN, the
 * metrics come back whole, and errors keep their code across the thread.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, WalError } from '../../src/errors.js';
import type { ShipperMetrics } from '../../src/jetstream/metrics.js';
import {
  createStatus,
  errorFromThread,
  errorToThread,
  StatusReader,
  StatusWriter,
} from '../../src/jetstream/thread-status.js';

function metrics(shippedLsn: number, published = shippedLsn): ShipperMetrics {
  return {
    shippedLsn,
    sourceLsn: 0,
    lagEntries: 0,
    lagBytes: 4096,
    published,
    duplicates: 3,
    inFlight: 2,
    inFlightBytes: 512,
    reconnects: 1,
    retries: 4,
    checkpoints: 0,
    checkpointLsn: 0,
    state: 'disconnected',
    publishLatency: Array.from({ length: 17 }, (_, k) => ({
      underUs: k === 16 ? Number.POSITIVE_INFINITY : 128 * 2 ** k,
      count: k,
    })),
    acknowledged: 136,
    publishLatencyMsTotal: 12.5,
    publishLatencyMsMax: 3.25,
  };
}

describe('shipper thread status', () => {
  it('posts one notice until it is taken, and the reader sees the latest LSN', () => {
    const status = createStatus();
    const writer = new StatusWriter(status);
    const reader = new StatusReader(status);
    expect(writer.store(metrics(10))).toBe(true); // a notice goes out
    expect(writer.store(metrics(20))).toBe(false); // one is pending: no second
    expect(writer.store(metrics(20))).toBe(false);
    expect(reader.shippedLsn()).toBe(20);
    expect(reader.takeNotice()).toBe(20);
    expect(writer.store(metrics(20))).toBe(false); // nothing new: no notice
    expect(writer.store(metrics(30))).toBe(true);
    expect(reader.takeNotice()).toBe(30);
  });

  it('gives back the metrics the worker stored', () => {
    const status = createStatus();
    new StatusWriter(status).store(metrics(7, 5));
    const { sourceLsn, lagEntries, checkpoints, checkpointLsn, ...expected } = metrics(7, 5);
    expect(new StatusReader(status).metrics()).toEqual(expected);
  });

  it('keeps a WalError code and its details across the thread, and another error its message and code', () => {
    const deleted = errorFromThread(
      errorToThread(
        new WalError(ErrorCode.SEGMENT_DELETED, 'entries 1 to 9 were deleted', { firstLsn: 1, lastLsn: 9 }),
      ),
    );
    expect(deleted).toBeInstanceOf(WalError);
    expect(deleted).toMatchObject({ code: 'WAL_SEGMENT_DELETED', firstLsn: 1, lastLsn: 9 });
    const other = errorFromThread(errorToThread(Object.assign(new Error('no responders'), { code: 503 })));
    expect(other).not.toBeInstanceOf(WalError);
    expect(other).toMatchObject({ message: 'no responders', code: '503' });
  });
});
