/**
 * CRC32C (src/format/crc32c.ts) against a bit-at-a-time reference: the check value, every
 * alignment of start and end, continuation over pieces, a SharedArrayBuffer (the writer
 * checksums records in the ring); and the readers' word-at-a-time version, which takes a
 * start at a 4-byte boundary of the underlying buffer, whatever the view's offset.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { alignedWords, crc32c, crc32cWords } from '../../src/format/crc32c.js';

function reference(bytes: Uint8Array, start: number, end: number): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) {
    c ^= bytes[i];
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

describe('crc32c', () => {
  it('gives the check value for "123456789" (RFC 3720 B.4)', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
  });

  it('equals the bitwise reference for every alignment and length, views at any offset', () => {
    const backing = new Uint8Array(1024 + 16);
    for (let i = 0; i < backing.length; i++) backing[i] = (i * 2654435761) >>> 24;
    for (let viewOffset = 0; viewOffset < 4; viewOffset++) {
      const bytes = backing.subarray(viewOffset, viewOffset + 1024);
      for (let start = 0; start < 9; start++) {
        for (const length of [0, 1, 7, 8, 15, 16, 17, 63, 64, 65, 100, 161, 500, 1000 - start]) {
          expect(crc32c(bytes, start, start + length)).toBe(reference(bytes, start, start + length));
        }
      }
    }
  });

  it('continues over pieces, and reads a SharedArrayBuffer as any other', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 600 }), fc.nat(), fc.nat(), (data, a, b) => {
        const sab = new Uint8Array(new SharedArrayBuffer(data.length + 8), 3, data.length);
        sab.set(data);
        const start = data.length === 0 ? 0 : a % data.length;
        const split = start + (data.length === 0 ? 0 : b % (data.length - start + 1));
        const whole = reference(data, start, data.length);
        expect(crc32c(data, start, data.length)).toBe(whole);
        expect(crc32c(sab, start, data.length)).toBe(whole);
        expect(crc32c(data, split, data.length, crc32c(sab, start, split))).toBe(whole);
      }),
      { numRuns: 300, seed: 19 },
    );
  });

  it('word by word: the same CRC wherever alignedWords accepts the start, and no answer where it does not', () => {
    const backing = new Uint8Array(2048 + 16);
    for (let i = 0; i < backing.length; i++) backing[i] = (i * 2246822519) >>> 23;
    for (let viewOffset = 0; viewOffset < 8; viewOffset++) {
      const bytes = backing.subarray(viewOffset, viewOffset + 2048);
      for (let start = 0; start < 12; start++) {
        const words = alignedWords(bytes, start);
        expect(words === null, `view at ${viewOffset}, start ${start}`).toBe((viewOffset + start) % 4 !== 0);
        if (words === null) continue;
        for (const length of [0, 1, 3, 4, 7, 8, 9, 15, 16, 20, 156, 161, 1000, 2000 - start]) {
          expect(crc32cWords(bytes, words, start, start + length)).toBe(
            reference(bytes, start, start + length),
          );
        }
      }
    }
  });
});
