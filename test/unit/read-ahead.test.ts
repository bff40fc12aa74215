/**
 * The sequential reader's reads (src/reader/read-ahead.ts): whatever the walk asks for, the
 * bytes are the file's, at most what was asked and short only at the end of the file; a
 * request that continues from near the end of the last one is served from the chunk read
 * ahead (the carry copied in front); a buffer never exceeds the file's size.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ReadAhead } from '../../src/reader/read-ahead.js';
import { tempDirs } from '../helpers/tmp.js';

const dirs = tempDirs();
afterAll(() => dirs.removeAll());

function file(size: number): { path: string; bytes: Buffer } {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + (i >> 8)) & 0xff;
  const p = path.join(dirs.dir('ringwal-read-ahead-'), 'f');
  fs.writeFileSync(p, bytes);
  return { path: p, bytes };
}

describe('ReadAhead', () => {
  it('gives the bytes asked for, for walks that go on from near the end of each read or jump', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 300_000 }),
        fc.constantFrom(16 * 1024, 64 * 1024),
        fc.array(
          fc.record({
            back: fc.nat(70_000),
            jump: fc.boolean(),
            length: fc.integer({ min: 1, max: 200_000 }),
          }),
          {
            minLength: 1,
            maxLength: 40,
          },
        ),
        async (size, chunkBytes, steps) => {
          const { path: p, bytes } = file(size);
          const handle = await fs.promises.open(p, 'r');
          const reads = new ReadAhead(handle, size, chunkBytes);
          let position = 0;
          let end = 0;
          try {
            for (const step of steps) {
              // As the walk does: from a little before where the last read ended, or elsewhere.
              position = step.jump ? (step.back * 7) % size : Math.max(0, end - step.back);
              position -= position % 8;
              const length = Math.min(step.length, size - position);
              const got = await reads.read(position, length);
              expect(Buffer.from(got).equals(bytes.subarray(position, position + length))).toBe(true);
              expect(got.buffer.byteLength).toBeLessThanOrEqual(Math.max(size, length));
              end = position + got.length;
            }
          } finally {
            await reads.settle();
            await handle.close();
          }
        },
      ),
      { numRuns: 60, seed: 19 },
    );
  });

  it('serves a walk that goes on from its last incomplete record from the chunk read ahead', async () => {
    const size = 200_000;
    const { path: p, bytes } = file(size);
    const handle = await fs.promises.open(p, 'r');
    const reads = new ReadAhead(handle, size, 16 * 1024);
    const spy = { calls: 0 };
    const realRead = handle.read.bind(handle);
    (handle as unknown as { read: unknown }).read = (...args: Parameters<typeof realRead>) => {
      spy.calls++;
      return realRead(...args);
    };
    try {
      await reads.read(0, 40); // the segment header
      let position = 40;
      for (let k = 0; ; k++) {
        const length = Math.min(16 * 1024, size - position);
        const got = await reads.read(position, length);
        expect(Buffer.from(got).equals(bytes.subarray(position, position + length))).toBe(true);
        if (position + length >= size) break;
        const carry = ((k * 13) % 200) & ~7; // the last record was incomplete: read again from its start
        position += length - carry;
      }
    } finally {
      await reads.settle();
      await handle.close();
    }
    // One read per chunk (and the header's): none repeated for the carried bytes.
    expect(spy.calls).toBeLessThanOrEqual(Math.ceil(size / (16 * 1024)) + 2);
  });
});
