/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), slice-by-8 in plain JavaScript.
 *
 * Chosen over the native @node-rs/crc32 after measuring both on our record sizes
 * (`npm run bench:crc`, figures in docs/FORMAT.md): for records of a few hundred bytes the
 * cost of crossing into native code dominates, and the writer computes one CRC per record.
 * The check value for "123456789" is 0xE3069283 (RFC 3720, appendix B.4).
 *
 * `crc32cWords` is the same CRC reading four bytes with one load of an Int32Array view:
 * the readers' record loop (src/format/entry-run.ts) verifies whole segments with it, ~10-20%
 * faster than byte loads there (docs/BENCHMARKS.md "Session 8"). It is kept small enough for
 * V8 to inline into that loop: a slicing-by-16 version, faster alone, was not inlined (its
 * bytecode exceeds V8's 460-byte limit) and lost more in the call than it gained.
 */

const TABLES = buildTables();

function buildTables(): Uint32Array {
  const t = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n];
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff] ^ (c >>> 8);
      t[k * 256 + n] = c >>> 0;
    }
  }
  return t;
}

/**
 * Continues a CRC32C over `bytes[start, end)`. Pass the previous result as `crc` to checksum
 * discontiguous pieces as one stream; start with 0.
 */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length, crc = 0): number {
  const t = TABLES;
  let c = ~crc;
  let i = start;
  const stop8 = end - 8;
  while (i <= stop8) {
    const lo = c ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
    const hi = bytes[i + 4] | (bytes[i + 5] << 8) | (bytes[i + 6] << 16) | (bytes[i + 7] << 24);
    c =
      t[1792 + (lo & 0xff)] ^
      t[1536 + ((lo >>> 8) & 0xff)] ^
      t[1280 + ((lo >>> 16) & 0xff)] ^
      t[1024 + (lo >>> 24)] ^
      t[768 + (hi & 0xff)] ^
      t[512 + ((hi >>> 8) & 0xff)] ^
      t[256 + ((hi >>> 16) & 0xff)] ^
      t[hi >>> 24];
    i += 8;
  }
  while (i < end) c = t[(c ^ bytes[i++]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** Word loads give the bytes in memory order only on a little-endian machine. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

// One Int32Array over the buffer last asked for: a reader checksums thousands of records of
// one read buffer, and a view per record would cost more than the word loads save.
let wordsBuffer: ArrayBufferLike | null = null;
let words: Int32Array<ArrayBufferLike> = new Int32Array(0);

/**
 * An Int32Array over all of `bytes`' buffer when `bytes[start]` sits at a 4-byte boundary of
 * it on a little-endian machine, else null: what `crc32cWords` takes. Records in one read
 * buffer are 8-byte aligned to each other, so one answer serves them all.
 */
export function alignedWords(bytes: Uint8Array, start: number): Int32Array<ArrayBufferLike> | null {
  if (!LITTLE_ENDIAN || ((bytes.byteOffset + start) & 3) !== 0) return null;
  if (bytes.buffer !== wordsBuffer) {
    wordsBuffer = bytes.buffer;
    words = new Int32Array(wordsBuffer, 0, wordsBuffer.byteLength >>> 2);
  }
  return words;
}

/** `crc32c(bytes, start, end)` for a `start` that `alignedWords(bytes, start)` accepted, `w32` its answer. */
export function crc32cWords(
  bytes: Uint8Array,
  w32: Int32Array<ArrayBufferLike>,
  start: number,
  end: number,
): number {
  const t = TABLES;
  let c = -1;
  let w = (bytes.byteOffset + start) >>> 2;
  const stop = w + ((end - start) >>> 3) * 2;
  while (w < stop) {
    const lo = c ^ w32[w];
    const hi = w32[w + 1];
    c =
      t[1792 + (lo & 0xff)] ^
      t[1536 + ((lo >>> 8) & 0xff)] ^
      t[1280 + ((lo >>> 16) & 0xff)] ^
      t[1024 + (lo >>> 24)] ^
      t[768 + (hi & 0xff)] ^
      t[512 + ((hi >>> 8) & 0xff)] ^
      t[256 + ((hi >>> 16) & 0xff)] ^
      t[hi >>> 24];
    w += 2;
  }
  for (let i = (w << 2) - bytes.byteOffset; i < end; i++) c = t[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
