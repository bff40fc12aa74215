/**
 * src/encoding.ts: msgpackr's shared buffer must not stay as large as the largest entry ever
 * encoded (it grows to fit and, left alone, is kept for the life of the process).
 */
import { describe, expect, it } from 'vitest';
import { decode, doneWith, encode } from '../../src/encoding.js';
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
