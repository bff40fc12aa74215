/**
 * A replay worker's reduce (src/kv/reduce-segment.ts) and the main thread's merge
 * (src/kv/merged-state.ts), over segments built byte by byte: keys are compared as bytes, so
 * the state must still be what a sequential replay of the decoded entries gives, keys in the
 * same order, for keys that are not ASCII, keys whose bytes are not valid UTF-8 (a forged
 * record: msgpackr decodes them to a string other keys may share), entries the envelope
 * reader declines, values cut into fragments (kept in memory, not read again), and keys
 * deleted and set again.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decode, encode } from '../../src/encoding.js';
import { nodeFs } from '../../src/fs.js';
import { MergedState } from '../../src/kv/merged-state.js';
import { reduceSegment } from '../../src/kv/reduce-segment.js';
import { segmentHeader, writerBatch } from '../helpers/log-bytes.js';
import { tempDirs } from '../helpers/tmp.js';

const dirs = tempDirs();
afterAll(() => dirs.removeAll());

function payloadOf(value: unknown): Buffer {
  const e = encode(value);
  return Buffer.from(e.subarray(e.start, e.end));
}

/** `{ op: 'set', key: <keyBytes>, value }` with the key's bytes as given (valid UTF-8 or not). */
function rawSet(keyBytes: number[], value: number): Buffer {
  const str = (s: string) => [0xa0 | s.length, ...Buffer.from(s)];
  return Buffer.from([
    0x83,
    ...str('op'),
    ...str('set'),
    ...str('key'),
    0xa0 | keyBytes.length,
    ...keyBytes,
    ...str('value'),
    value,
  ]);
}

/** A segment of `payloads` (LSNs from `firstLsn`), written to a file with a segment's name. */
function segmentFile(payloads: Buffer[], firstLsn: number): string {
  const bytes = Buffer.concat([
    segmentHeader({ firstLsn }),
    writerBatch(payloads, { firstLsn, ts: 1795593600000, syncedBefore: true }),
  ]);
  const file = path.join(
    dirs.dir('ringwal-reduce-'),
    `wal-${String(firstLsn).padStart(16, '0')}-20261207-000000-000.log`,
  );
  fs.writeFileSync(file, bytes);
  return file;
}

function replay(segments: Buffer[][]): Map<string, unknown> {
  const state = new Map<string, unknown>();
  for (const payloads of segments) {
    for (const payload of payloads) {
      const entry = decode(payload) as { op?: unknown; key?: unknown; value?: unknown };
      if (entry === null || typeof entry !== 'object' || typeof entry.key !== 'string') continue;
      if (entry.op === 'set') state.set(entry.key, entry.value);
      else if (entry.op === 'delete') state.delete(entry.key);
    }
  }
  return state;
}

function reduceAll(segments: Buffer[][]): Map<string, unknown> {
  const merged = new MergedState();
  let lsn = 1;
  for (const payloads of segments) {
    merged.merge(reduceSegment(nodeFs, segmentFile(payloads, lsn), 2 ** 30));
    lsn += payloads.length;
  }
  return merged.finish();
}

describe('reduceSegment and MergedState', () => {
  it('give a sequential replay’s state and key order, whatever the keys’ bytes', () => {
    const invalid = [0xff];
    const replacement = decode(rawSet(invalid, 1)) as { key: string };
    const segments = [
      [
        payloadOf({ op: 'set', key: 'a', value: 1 }),
        payloadOf({ op: 'set', key: 'é', value: { nested: [1, 2] } }),
        rawSet(invalid, 3),
        payloadOf({ op: 'set', key: replacement.key, value: 4 }), // the same key as the bytes above decode to
        payloadOf({ value: 5, op: 'set', key: 'b', ts: 1 }), // another field order
        payloadOf({ op: 'set', key: 'c' }), // no value
        payloadOf({ not: 'a kv entry' }),
        payloadOf(
          new Map<unknown, unknown>([
            ['op', 'set'],
            ['key', 'm'],
            ['value', 6],
          ]),
        ),
        payloadOf({ op: 'delete', key: 'a' }),
        payloadOf({ op: 'set', key: 'a', value: 7 }), // set again: now after the others
      ],
      [
        payloadOf({ op: 'delete', key: 'é' }),
        rawSet(invalid, 8),
        payloadOf({ op: 'set', key: 'é', value: 9 }),
        payloadOf({ op: 'set', key: 'b', value: 10 }), // stays where it was
        payloadOf({ op: 'delete', key: 'never set' }),
        payloadOf({ op: 'set', key: 'x'.repeat(300), value: 'long key' }),
        payloadOf({ op: 'set', key: 'big', value: 'z'.repeat(40_000) }), // three records
        payloadOf({ op: 'set', key: 'big2', value: 'y'.repeat(40_000) }),
        payloadOf({ op: 'set', key: 'big', value: 'small now' }),
      ],
      [
        payloadOf({ op: 'delete', key: 'c' }),
        payloadOf({ op: 'set', key: 'c', value: null }),
        payloadOf({ op: 'set', key: 'big', value: ['w'.repeat(30_000), 1] }),
        payloadOf({ op: 'delete', key: 'big2' }),
      ],
    ];
    const expected = replay(segments);
    const state = reduceAll(segments);
    expect(state).toEqual(expected);
    expect([...state.keys()]).toEqual([...expected.keys()]);
    expect(state.get(replacement.key)).toBe(8);
  });

  it('keeps only each key’s last value however many sets a segment has (the arena compacts)', () => {
    const payloads: Buffer[] = [];
    for (let i = 0; i < 30_000; i++)
      payloads.push(payloadOf({ op: 'set', key: `k${i % 50}`, value: 'v'.repeat(200 + (i % 7)) + i }));
    const result = reduceSegment(nodeFs, segmentFile(payloads, 1), 2 ** 30);
    expect(result.kinds.length).toBe(50);
    expect(result.values.length).toBeLessThan(50 * 260);
    const state = reduceAll([payloads]);
    expect(state).toEqual(replay([payloads]));
  });
});
