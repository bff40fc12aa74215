/**
 * src/encoding.ts: the encoder's buffer must not stay as large as the largest entry ever
 * encoded (msgpackr grows it to fit and, left alone, keeps it for the life of the process),
 * and encoding into the ring must not disturb the application's own use of msgpackr.
 */
import { Packr, pack, unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { decode, doneWith, encode, encodeAt } from '../../src/encoding.js';
import { ErrorCode, type WalError } from '../../src/errors.js';

/** The size of the buffer msgpackr encodes into now (REUSE_BUFFER_MODE hands back the buffer itself). */
function bufferBytes(): number {
  return encode(0).length;
}

describe('encode', () => {
  it('hands back a buffer grown for a large entry once the entry is copied', () => {
    const big = encode('x'.repeat(8 * 1024 * 1024));
    expect(big.end - big.start).toBeGreaterThan(8 * 1024 * 1024);
    expect(big.length).toBeGreaterThan(8 * 1024 * 1024);
    doneWith(big);
    expect(bufferBytes()).toBeLessThanOrEqual(1024 * 1024);
  });

  it('keeps a buffer of ordinary size across entries', () => {
    const small = encode({ op: 'set', key: 'user:1', value: { id: 1 } });
    const before = small.length;
    doneWith(small);
    expect(encode(1).length).toBe(before);
  });

  it('hands back a buffer a failed encoding grew, and the next encoding is right', () => {
    let error: unknown;
    try {
      encode({ big: 'y'.repeat(8 * 1024 * 1024), bad: Symbol('no') });
    } catch (e) {
      error = e;
    }
    expect((error as WalError).code).toBe(ErrorCode.ENCODE_FAILED);
    expect(bufferBytes()).toBeLessThanOrEqual(1024 * 1024);
    const value = { name: 'after', tags: ['a', 'b'], text: 'z'.repeat(3000) };
    const e = encode(value);
    expect(decode(e.subarray(e.start, e.end))).toEqual(value);
  });
});

describe("encodeAt and the application's msgpackr", () => {
  const ring = Buffer.from(new SharedArrayBuffer(64 * 1024));

  it("never hands the ring to msgpackr's shared encoder: pack() results stay the application's", () => {
    const e = encodeAt({ entry: 1 }, ring, 24);
    expect((e as Uint8Array) === ring).toBe(true);
    const mine = pack({ reply: 'for a client', n: 42 });
    expect(mine.buffer).not.toBe(ring.buffer);
    const copy = Uint8Array.from(mine);
    // More entries at the same spot and after it, as the ring is reused.
    for (let i = 0; i < 100; i++) encodeAt({ entry: i, text: 'x'.repeat(i * 10) }, ring, 24 + (i % 4) * 8);
    expect(Buffer.compare(mine, copy)).toBe(0);
    expect(unpack(mine)).toEqual({ reply: 'for a client', n: 42 });
  });

  it('leaves a buffer the application gave its own Packr in place', () => {
    const theirs = Buffer.alloc(16 * 1024);
    const packr = new Packr();
    packr.useBuffer(theirs);
    encodeAt({ entry: 'between' }, ring, 24);
    encode({ entry: 'and elsewhere' });
    const out = packr.pack({ theirs: true });
    expect(out.buffer).toBe(theirs.buffer);
  });
});

describe('values as README "Values" describes them', () => {
  const roundTrip = (value: unknown): unknown => {
    const e = encode(value);
    return decode(e.subarray(e.start, e.end));
  };
  class Point {
    x = 1;
    y = 2;
  }
  it.each<[string, unknown, unknown]>([
    ['an object', { a: [1, 'two', null, true, 1.5] }, { a: [1, 'two', null, true, 1.5] }],
    ['a Date', new Date(1_700_000_000_123), new Date(1_700_000_000_123)],
    ['a Uint8Array, as a Buffer', new Uint8Array([1, 2]), Buffer.from([1, 2])],
    ['a BigInt within 64 bits', 2n ** 60n, 2n ** 60n],
    ['a Map, as a plain object', new Map([[1, 'a']]), { 1: 'a' }],
    ['a Set, as an array', new Set([1, 2]), [1, 2]],
    ['a typed array, as a Buffer of its bytes', new Uint16Array([1]), Buffer.from([1, 0])],
    ['a class instance, as a plain object', new Point(), { x: 1, y: 2 }],
  ])('%s', (_, value, expected) => {
    expect(roundTrip(value)).toEqual(expected);
  });

  it.each<[string, unknown]>([
    ['a function', { f: () => 1 }],
    ['a symbol', { s: Symbol('s') }],
    ['a BigInt over 64 bits', 2n ** 70n],
  ])('refuses %s with WAL_ENCODE_FAILED', (_, value) => {
    expect(() => encode(value)).toThrow(expect.objectContaining({ code: ErrorCode.ENCODE_FAILED }));
  });
});
