/**
 * The main thread's side of the ring: writes records (header + payload, the exact bytes that
 * go to disk) and publishes them. It never waits: when the ring is full it says so and the
 * caller keeps the rest for later.
 */
import { RECORD_HEADER_BYTES, RecordType, recordBytes } from '../format/constants.js';
import {
  maxFragmentPayload,
  PAD_MARKER,
  READ_POS,
  type RingViews,
  ringViews,
  WRITE_POS,
  WRITER_SLEEPING,
  WRITER_STATE,
} from './layout.js';

const TWO_POW_32 = 4294967296;

export class RingProducer {
  private readonly ring: RingViews;
  private readonly mask: number;
  readonly maxFragment: number;
  /** Next byte to write (mod 2^32); ahead of WRITE_POS until `publish()`. */
  private writePos: number;
  /** Last READ_POS we loaded; reloaded only when the ring looks full. */
  private readPosSeen: number;

  constructor(sab: SharedArrayBuffer) {
    this.ring = ringViews(sab);
    this.mask = this.ring.capacity - 1;
    this.maxFragment = maxFragmentPayload(this.ring.capacity);
    this.writePos = Atomics.load(this.ring.control, WRITE_POS) >>> 0;
    this.readPosSeen = Atomics.load(this.ring.control, READ_POS) >>> 0;
  }

  /**
   * Writes as much of `payload[from..]` as fits now, as one FULL record or a run of
   * fragments, and returns how far it got (`payload.length` when done). Nothing is visible
   * to the writer until `publish()`.
   */
  write(payload: Uint8Array, from: number, lsn: number, ts: number): number {
    const total = payload.length;
    const max = this.maxFragment;
    while (true) {
      const length = Math.min(total - from, max);
      const last = from + length === total;
      const type =
        from === 0 ? (last ? RecordType.FULL : RecordType.FIRST) : last ? RecordType.LAST : RecordType.MIDDLE;
      const size = recordBytes(length);
      const at = this.reserve(size);
      if (at < 0) return from;
      this.putRecord(at, size, payload, from, length, lsn, ts, type);
      from += length;
      if (last) return from;
    }
  }

  /** Makes everything written so far visible to the writer, waking it only if it sleeps. */
  publish(): void {
    const control = this.ring.control;
    Atomics.store(control, WRITE_POS, this.writePos | 0);
    // A notify that wakes a thread costs ~6 µs; one that finds no waiter ~30 ns. The writer
    // sets WRITER_SLEEPING before it re-checks WRITE_POS and waits, so this cannot miss it.
    if (Atomics.load(control, WRITER_STATE) === WRITER_SLEEPING) Atomics.notify(control, WRITE_POS);
  }

  /** Whether anything written has not been published yet. */
  get unpublished(): boolean {
    return Atomics.load(this.ring.control, WRITE_POS) >>> 0 !== this.writePos;
  }

  /** Bytes the writer has not yet given back. */
  get inFlightBytes(): number {
    this.readPosSeen = Atomics.load(this.ring.control, READ_POS) >>> 0;
    return (this.writePos - this.readPosSeen) >>> 0;
  }

  /** Returns the data-area offset for a record of `size` bytes, or -1 if it does not fit yet. */
  private reserve(size: number): number {
    const capacity = this.ring.capacity;
    const offset = this.writePos & this.mask;
    const tail = capacity - offset;
    const needed = size <= tail ? size : tail + size;
    if (capacity - ((this.writePos - this.readPosSeen) >>> 0) < needed) {
      this.readPosSeen = Atomics.load(this.ring.control, READ_POS) >>> 0;
      if (capacity - ((this.writePos - this.readPosSeen) >>> 0) < needed) return -1;
    }
    if (size <= tail) return offset;
    // The record would straddle the end: mark the rest of the area as padding and wrap.
    this.ring.words[offset >> 2] = PAD_MARKER;
    this.writePos = (this.writePos + tail) >>> 0;
    return 0;
  }

  private putRecord(
    at: number,
    size: number,
    payload: Uint8Array,
    from: number,
    length: number,
    lsn: number,
    ts: number,
    type: number,
  ): void {
    const { words, doubles, bytes } = this.ring;
    const w = at >> 2;
    const lsnLow = lsn >>> 0;
    // Zero the record's last 8 bytes first so the alignment padding is zeros, not stale bytes.
    doubles[(at + size - 8) >> 3] = 0;
    words[w] = 0; // CRC: the writer fills it in, off the main thread.
    words[w + 1] = length;
    words[w + 2] = lsnLow | 0;
    words[w + 3] = ((lsn - lsnLow) / TWO_POW_32) | (type << 16);
    doubles[(at + 16) >> 3] = ts;
    if (from === 0 && length === payload.length) bytes.set(payload, at + RECORD_HEADER_BYTES);
    else bytes.set(payload.subarray(from, from + length), at + RECORD_HEADER_BYTES);
    this.writePos = (this.writePos + size) >>> 0;
  }
}
