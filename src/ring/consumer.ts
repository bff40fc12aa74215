/**
 * The writer thread's side of the ring: finds the records published since the last batch,
 * fills in their CRCs, and hands out views of them for one `writev`. It copies nothing.
 */
import {
  REC_OFF_FLAGS,
  REC_OFF_LENGTH,
  REC_OFF_LSN_HI,
  REC_OFF_TS,
  RECORD_HEADER_BYTES,
  RecordFlag,
  RecordType,
  recordBytes,
} from '../format/constants.js';
import { crc32c } from '../format/crc32c.js';
import { PAD_MARKER, READ_POS, type RingViews, ringViews, WRITE_POS } from './layout.js';

const TWO_POW_32 = 4294967296;

/** One group-commit batch: contiguous views of the ring, in order. */
export interface Batch {
  /** At most two views: a batch is smaller than the ring, so it wraps at most once. */
  readonly views: Uint8Array[];
  readonly bytes: number;
  /** Ring position just past the batch; pass to `release()` once it is written. */
  readonly end: number;
  /** LSN of the last entry whose final record is in the batch; 0 if none. */
  readonly lastLsn: number;
  /** Whether the batch ends on an entry boundary (not between an entry's fragments). */
  readonly endsOnEntry: boolean;
}

export class RingConsumer {
  private readonly ring: RingViews;
  private readonly mask: number;
  /** Next byte to look at (mod 2^32). */
  private readPos: number;
  private inEntry = false;
  /** The timestamp of the entry being collected in fragments: its first fragment's. */
  private entryTs = 0;

  constructor(sab: SharedArrayBuffer) {
    this.ring = ringViews(sab);
    this.mask = this.ring.capacity - 1;
    this.readPos = Atomics.load(this.ring.control, READ_POS);
  }

  /** The producer's published position (mod 2^32). */
  published(): number {
    return Atomics.load(this.ring.control, WRITE_POS);
  }

  /** How far this consumer has collected (mod 2^32), as the Int32 the control word holds. */
  get position(): number {
    return this.readPos;
  }

  hasData(): boolean {
    return this.published() !== this.readPos;
  }

  /**
   * Collects the records published so far, up to about `maxBytes` (a record is never
   * split; at least one is taken), and writes each record's timestamp and CRC into the ring.
   * Entries that begin in this batch are stamped `ts`; the rest of an entry's fragments keep
   * the stamp of its first. With `syncedBefore`, the first record is marked
   * RecordFlag.SYNCED_BEFORE (everything the segment held before it is durable).
   *
   * The writer stamps entries, not `append()`: a clock read costs ~50-80 ns here, 3-5% of the
   * main thread's whole budget per entry, and here it is one read per batch.
   */
  collect(maxBytes: number, ts: number, syncedBefore = false): Batch {
    const { bytes, words, doubles } = this.ring;
    const capacity = this.ring.capacity;
    const limit = this.published();
    const views: Uint8Array[] = [];
    let pos = this.readPos;
    let spanStart = pos & this.mask;
    let spanBytes = 0;
    let total = 0;
    let lastLsn = 0;
    while (pos !== limit && (total === 0 || total < maxBytes)) {
      const at = pos & this.mask;
      if (at === 0 && spanBytes > 0) {
        // The previous record ended exactly at the end of the data area.
        views.push(new Uint8Array(bytes.buffer, bytes.byteOffset + spanStart, spanBytes));
        spanStart = 0;
        spanBytes = 0;
      }
      if (words[at >> 2] === PAD_MARKER) {
        if (spanBytes > 0) views.push(new Uint8Array(bytes.buffer, bytes.byteOffset + spanStart, spanBytes));
        pos = (pos + capacity - at) | 0;
        spanStart = 0;
        spanBytes = 0;
        continue;
      }
      const w = at >> 2;
      const length = words[w + (REC_OFF_LENGTH >> 2)];
      const hiAndType = words[w + (REC_OFF_LSN_HI >> 2)];
      const type = (hiAndType >>> 16) & 0xff;
      const size = recordBytes(length);
      if (syncedBefore && total === 0) bytes[at + REC_OFF_FLAGS] = RecordFlag.SYNCED_BEFORE;
      if (type === RecordType.FULL || type === RecordType.FIRST) this.entryTs = ts;
      doubles[(at + REC_OFF_TS) >> 3] = this.entryTs;
      words[w] = crc32c(bytes, at + 4, at + RECORD_HEADER_BYTES + length) | 0;
      if (type === RecordType.FULL || type === RecordType.LAST) {
        lastLsn = (words[w + 2] >>> 0) + (hiAndType & 0xffff) * TWO_POW_32;
        this.inEntry = false;
      } else {
        this.inEntry = true;
      }
      spanBytes += size;
      total += size;
      pos = (pos + size) | 0;
    }
    if (spanBytes > 0) views.push(new Uint8Array(bytes.buffer, bytes.byteOffset + spanStart, spanBytes));
    this.readPos = pos;
    return { views, bytes: total, end: pos, lastLsn, endsOnEntry: !this.inEntry };
  }

  /** Whether every record published before ring position `target` has been collected. */
  collectedUpTo(target: number): boolean {
    return ((this.readPos - target) | 0) >= 0;
  }

  /** Gives the ring space up to `end` back to the producer (the bytes are written out). */
  release(end: number): void {
    Atomics.store(this.ring.control, READ_POS, end);
  }
}
