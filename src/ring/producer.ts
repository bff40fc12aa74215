/**
 * The main thread's side of the ring: writes records (header + payload, the exact bytes that
 * go to disk) and publishes them. It never waits: when the ring is full it says so and the
 * caller keeps the rest for later.
 */
import { RECORD_HEADER_BYTES, RecordType, recordBytes } from '../format/constants.js';
import { wakeWriterIfSleeping } from './control-client.js';
import {
  CONTROL_BYTES,
  maxFragmentPayload,
  PAD_MARKER,
  READ_POS,
  type RingViews,
  ringViews,
  WRITE_POS,
} from './layout.js';

const TWO_POW_32 = 4294967296;

/**
 * Free bytes in a row an entry needs before it is encoded in place. msgpackr leaves a target
 * with less than 2 KiB to go for a buffer of its own (PITFALLS), so smaller runs cannot take
 * an entry anyway; near the end of the data area the rest is padded and encoding goes on at 0.
 */
const IN_PLACE_MIN_RUN = 4096;

export class RingProducer {
  private readonly ring: RingViews;
  // The views used per entry, as fields of their own: one load each on the hot path.
  private readonly capacity: number;
  private readonly words: Int32Array;
  private readonly doubles: Float64Array;
  private readonly bytes: Uint8Array;
  private readonly mask: number;
  readonly maxFragment: number;
  /** Next byte to write (mod 2^32); ahead of WRITE_POS until `publish()`. */
  private writePos: number;
  /** Last READ_POS we loaded; reloaded only when the ring looks full. */
  private readPosSeen: number;

  /**
   * A Buffer over the data area from offset 0 to the end of the free run `inPlaceOffset()`
   * found: an encoder given it cannot write outside the run (typed arrays drop stores past
   * their end), so it cannot touch bytes the writer has not taken yet.
   */
  window: Buffer;
  /** Ring position (mod 2^32) where that free run ends. */
  private runEnd: number;
  private readonly sab: SharedArrayBuffer;

  constructor(sab: SharedArrayBuffer) {
    this.sab = sab;
    this.ring = ringViews(sab);
    this.capacity = this.ring.capacity;
    this.words = this.ring.words;
    this.doubles = this.ring.doubles;
    this.bytes = this.ring.bytes;
    this.mask = this.capacity - 1;
    this.maxFragment = maxFragmentPayload(this.ring.capacity);
    this.writePos = Atomics.load(this.ring.control, WRITE_POS);
    this.readPosSeen = Atomics.load(this.ring.control, READ_POS);
    this.window = Buffer.from(sab, CONTROL_BYTES, 0);
    this.runEnd = this.writePos;
  }

  /**
   * The data-area offset at which the next entry may be encoded in place (a FULL record's
   * header there, its payload from `+ RECORD_HEADER_BYTES` in `window`), or -1 while fewer
   * than IN_PLACE_MIN_RUN bytes are free in a row. Commit it with `commitInPlace`.
   */
  inPlaceOffset(): number {
    if (((this.runEnd - this.writePos) | 0) >= IN_PLACE_MIN_RUN) return this.writePos & this.mask;
    return this.findRun();
  }

  private findRun(): number {
    const capacity = this.capacity;
    this.readPosSeen = Atomics.load(this.ring.control, READ_POS);
    let free = capacity - ((this.writePos - this.readPosSeen) >>> 0);
    let offset = this.writePos & this.mask;
    const tail = capacity - offset;
    if (tail < IN_PLACE_MIN_RUN) {
      if (free - tail < IN_PLACE_MIN_RUN) return -1;
      this.words[offset >> 2] = PAD_MARKER;
      this.writePos = (this.writePos + tail) | 0;
      free -= tail;
      offset = 0;
    }
    const run = Math.min(free, capacity - offset);
    if (run < IN_PLACE_MIN_RUN) return -1;
    this.runEnd = (this.writePos + run) | 0;
    const end = offset + run;
    if (this.window.length !== end) this.window = Buffer.from(this.sab, CONTROL_BYTES, end);
    return offset;
  }

  /**
   * Makes the `length` bytes encoded at `at + RECORD_HEADER_BYTES` in `window` one FULL
   * record of `lsn`. `at` is what `inPlaceOffset()` returned, and the encoding ended inside
   * the window. The record's padding does too: the window ends on an 8-byte boundary (offsets,
   * positions and so free space are multiples of 8), so the record, padding included, lies
   * within the free run.
   */
  commitInPlace(at: number, length: number, lsn: number): void {
    const size = recordBytes(length);
    const words = this.words;
    const w = at >> 2;
    const lsnLow = lsn >>> 0;
    words[w] = 0; // CRC: the writer fills it in, off the main thread.
    words[w + 1] = length;
    words[w + 2] = lsnLow | 0;
    words[w + 3] = ((lsn - lsnLow) / TWO_POW_32) | (RecordType.FULL << 16);
    const bytes = this.bytes;
    for (let i = at + RECORD_HEADER_BYTES + length, stop = at + size; i < stop; i++) bytes[i] = 0;
    this.writePos = (this.writePos + size) | 0;
  }

  /**
   * Writes as much of the entry `source[start, end)` as fits now, from `from` on, as one FULL
   * record or a run of fragments, and returns how far it got (`end` when done). Nothing is
   * visible to the writer until `publish()`. The writer stamps each entry's timestamp as it
   * collects it (RingConsumer.collect).
   */
  write(source: Uint8Array, start: number, end: number, from: number, lsn: number): number {
    const max = this.maxFragment;
    if (from === start && end - start <= max) {
      // The common case, kept short: a whole entry as one FULL record.
      const size = recordBytes(end - start);
      const at = this.reserve(size);
      if (at < 0) return from;
      this.putRecord(at, size, source, from, end - start, lsn, RecordType.FULL);
      return end;
    }
    while (true) {
      const length = Math.min(end - from, max);
      const last = from + length === end;
      const type =
        from === start
          ? last
            ? RecordType.FULL
            : RecordType.FIRST
          : last
            ? RecordType.LAST
            : RecordType.MIDDLE;
      const size = recordBytes(length);
      const at = this.reserve(size);
      if (at < 0) return from;
      this.putRecord(at, size, source, from, length, lsn, type);
      from += length;
      if (last) return from;
    }
  }

  /** Makes everything written so far visible to the writer, waking it only if it sleeps. */
  publish(): void {
    const control = this.ring.control;
    Atomics.store(control, WRITE_POS, this.writePos);
    wakeWriterIfSleeping(control);
  }

  /** Bytes the writer has not yet given back. */
  get inFlightBytes(): number {
    this.readPosSeen = Atomics.load(this.ring.control, READ_POS);
    return (this.writePos - this.readPosSeen) >>> 0;
  }

  /** Returns the data-area offset for a record of `size` bytes, or -1 if it does not fit yet. */
  private reserve(size: number): number {
    const capacity = this.capacity;
    const offset = this.writePos & this.mask;
    const tail = capacity - offset;
    const needed = size <= tail ? size : tail + size;
    if (capacity - ((this.writePos - this.readPosSeen) >>> 0) < needed) {
      this.readPosSeen = Atomics.load(this.ring.control, READ_POS);
      if (capacity - ((this.writePos - this.readPosSeen) >>> 0) < needed) return -1;
    }
    if (size <= tail) return offset;
    // The record would straddle the end: mark the rest of the area as padding and wrap.
    this.words[offset >> 2] = PAD_MARKER;
    this.writePos = (this.writePos + tail) | 0;
    return 0;
  }

  private putRecord(
    at: number,
    size: number,
    source: Uint8Array,
    from: number,
    length: number,
    lsn: number,
    type: number,
  ): void {
    const words = this.words;
    const doubles = this.doubles;
    const w = at >> 2;
    const lsnLow = lsn >>> 0;
    // Zero the record's last 8 bytes first so the alignment padding is zeros, not stale bytes.
    doubles[(at + size - 8) >> 3] = 0;
    words[w] = 0; // CRC: the writer fills it in, off the main thread.
    words[w + 1] = length;
    words[w + 2] = lsnLow | 0;
    words[w + 3] = ((lsn - lsnLow) / TWO_POW_32) | (type << 16);
    this.copy(source, from, length, at + RECORD_HEADER_BYTES);
    this.writePos = (this.writePos + size) | 0;
  }

  // The last source seen, where it starts in its buffer (-1: not copied word by word), and
  // an Int32 view of that buffer. A typed array's buffer and offset never change, so they are
  // looked up once per source object: msgpackr hands back the same one for every entry.
  private lastSource: Uint8Array | null = null;
  private sourceBase = -1;
  private sourceBuffer: ArrayBufferLike | null = null;
  private sourceWords: Int32Array = new Int32Array(0);

  /**
   * Copies `source[from, from + length)` to the data area at `to` (8-aligned). Small
   * payloads from the encoder's pooled buffer (large, and 4-aligned) are copied a word at a
   * time: `set()` needs a view object per call, which costs more than the copy for a
   * 100-byte entry. (Word copy and per-source lookups: ~90 ns per 135-byte entry here,
   * against ~150 ns when the buffer and offset were read per call.)
   */
  private copy(source: Uint8Array, from: number, length: number, to: number): void {
    if (source !== this.lastSource) this.noteSource(source);
    const absolute = this.sourceBase + from;
    if (length > 512 || this.sourceBase < 0 || (absolute & 3) !== 0) {
      this.bytes.set(
        from === 0 && length === source.length ? source : source.subarray(from, from + length),
        to,
      );
      return;
    }
    const src = this.sourceWords;
    const dst = this.words;
    const words = length >> 2;
    let s = absolute >> 2;
    let d = to >> 2;
    for (const stop = s + words; s < stop; ) dst[d++] = src[s++];
    const bytes = this.bytes;
    for (let i = words << 2; i < length; i++) bytes[to + i] = source[from + i];
  }

  private noteSource(source: Uint8Array): void {
    this.lastSource = source;
    const buffer = source.buffer;
    if (buffer.byteLength < 4096) {
      this.sourceBase = -1; // a small one-off copy (an overflow remainder): set() it
      return;
    }
    if (buffer !== this.sourceBuffer) {
      this.sourceBuffer = buffer;
      this.sourceWords = new Int32Array(buffer, 0, buffer.byteLength >> 2);
    }
    this.sourceBase = source.byteOffset;
  }
}
