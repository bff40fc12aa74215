/**
 * The shipped message format (src/jetstream/message.ts): packed runs read back entry by entry,
 * message ids that name the whole run, and malformed messages refused as WAL_CORRUPT. No NATS
 * server needed: these are the bytes a consumer gets.
 */
import { pack, unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { messageId, packEntries, packedBytes, shippedEntries } from '../../src/jetstream/message.js';
import type { RawEntry } from '../../src/reader/types.js';

function headersOf(values: Record<string, string>): { get(name: string): string } {
  return { get: (name) => values[name] ?? '' };
}

const entries: RawEntry[] = Array.from({ length: 5 }, (_, i) => ({
  lsn: 41 + i,
  ts: 1_765_000_000_000 + i * 0.5,
  bytes: pack({ op: 'set', key: `k${i}`, value: 'v'.repeat(i * 7) }),
}));

describe('shipped messages', () => {
  it('reads a packed run back, entry by entry, with LSNs and timestamps', () => {
    const bytes = packedBytes(entries, 1, 5);
    const data = packEntries(entries, 1, 5, bytes);
    expect(data.length).toBe(bytes);
    const read = shippedEntries({
      headers: headersOf({ 'Ringwal-Lsn': '42', 'Ringwal-Entries': '4' }),
      data,
    });
    expect(read.map((e) => e.lsn)).toEqual([42, 43, 44, 45]);
    expect(read.map((e) => e.ts)).toEqual(entries.slice(1).map((e) => e.ts));
    expect(read.map((e) => unpack(e.bytes))).toEqual(entries.slice(1).map((e) => unpack(e.bytes)));
  });

  it('reads a message of one entry as it is', () => {
    const read = shippedEntries({
      headers: headersOf({ 'Ringwal-Lsn': '41', 'Ringwal-Ts': '1765000000000' }),
      data: entries[0].bytes,
    });
    expect(read).toEqual([{ lsn: 41, ts: 1_765_000_000_000, bytes: entries[0].bytes }]);
  });

  it('names a run by its first and last LSN, a single entry by its LSN', () => {
    expect(messageId('log', 7)).toBe('log:7');
    expect(messageId('log', 7, 7)).toBe('log:7');
    expect(messageId('log', 7, 70)).toBe('log:7-70');
  });

  it('refuses messages that are not ringwal messages, or whose data does not match the headers', () => {
    const data = packEntries(entries, 0, 3, packedBytes(entries, 0, 3));
    const bad = [
      { headers: undefined, data },
      { headers: headersOf({ 'Ringwal-Lsn': 'x' }), data },
      { headers: headersOf({ 'Ringwal-Lsn': '0' }), data },
      { headers: headersOf({ 'Ringwal-Lsn': '41', 'Ringwal-Entries': '0' }), data },
      { headers: headersOf({ 'Ringwal-Lsn': '41', 'Ringwal-Entries': '4' }), data }, // 3 inside
      {
        headers: headersOf({ 'Ringwal-Lsn': '41', 'Ringwal-Entries': '3' }),
        data: data.subarray(0, data.length - 1),
      },
      { headers: headersOf({ 'Ringwal-Lsn': '41', 'Ringwal-Entries': '2' }), data }, // bytes left over
    ];
    for (const message of bad) {
      expect(() => shippedEntries(message)).toThrow(expect.objectContaining({ code: 'WAL_CORRUPT' }));
    }
  });
});
