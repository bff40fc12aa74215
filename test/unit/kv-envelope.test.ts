/** The key-value envelope reader agrees with msgpackr on every entry it accepts. */
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { readEnvelope, skipValue } from '../../src/kv/kv-envelope.js';

const packr = new Packr({ useRecords: false });

describe('readEnvelope', () => {
  it('finds op, key and the exact bytes of any value msgpackr encodes', () => {
    let accepted = 0;
    fc.assert(
      fc.property(
        fc.constantFrom('set', 'delete'),
        fc.string({ maxLength: 30 }),
        fc.anything({ withDate: true, withNullPrototype: false, withMap: false, withSet: false }),
        fc.boolean(),
        (op, key, value, extraField) => {
          const entry: Record<string, unknown> = { op, key, value, ts: 1795593600000 };
          if (extraField) entry.more = [1, 'two', { three: 3 }];
          const bytes = packr.pack(entry);
          const envelope = readEnvelope(bytes);
          expect(envelope).not.toBeNull();
          accepted++;
          expect(envelope!.op).toBe(op);
          expect(envelope!.key).toBe(key);
          const decoded = packr.unpack(bytes.subarray(envelope!.valueStart, envelope!.valueEnd));
          expect(decoded).toEqual(packr.unpack(packr.pack(value)));
        },
      ),
      { numRuns: 500, seed: 7 },
    );
    expect(accepted).toBe(500);
  });

  it('declines what is not a key-value entry', () => {
    for (const value of [
      42,
      'set',
      ['set', 'k'],
      { op: 'put', key: 'k' },
      { op: 'set' },
      { op: 'set', key: 5 },
      null,
    ]) {
      expect(readEnvelope(packr.pack(value))).toBeNull();
    }
    const truncated = packr.pack({ op: 'set', key: 'k', value: 'x'.repeat(100) }).subarray(0, 30);
    expect(readEnvelope(truncated)).toBeNull();
  });

  it('skips every msgpack value to its exact end', () => {
    fc.assert(
      fc.property(fc.anything({ withDate: true, withMap: false, withSet: false }), (value) => {
        const bytes = packr.pack(value);
        expect(skipValue(bytes, 0, bytes.length)).toBe(bytes.length);
        expect(skipValue(bytes, 0, bytes.length - 1)).toBe(-1);
      }),
      { numRuns: 500, seed: 11 },
    );
  });
});
