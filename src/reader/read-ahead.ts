/**
 * The sequential reader's file reads (src/reader/read-wal.ts): large reads into two reused
 * buffers, the next chunk read while the current one is parsed and decoded.
 *
 * The segment walk asks for `[position, position + length)` and is done with the bytes it
 * was given once it asks again (src/format/segment-scanner.ts). Reading on, it asks for the
 * chunk that starts at its first incomplete record, a few bytes before the end of the last
 * one: those bytes (the carry) are copied in front of the chunk already read ahead, so a
 * sequential walk waits for no read the disk could have done meanwhile. Any other request
 * (the search past damage, a record larger than a chunk) is read as asked.
 *
 * Memory: two buffers of at most CARRY_BYTES + chunkBytes, plus one for a record larger than
 * that while it is read.
 */
import type * as fs from 'node:fs';

/** The most bytes of a cut record carried over from one chunk to the next (a record is rarely larger). */
const CARRY_BYTES = 64 * 1024;

/** The chunk size for a reader whose two buffers must hold at most about `bufferBytes`. */
export function chunkBytesWithin(bufferBytes: number): number {
  const chunk = Math.max(
    MIN_CHUNK_BYTES,
    Math.min(MAX_CHUNK_BYTES, Math.floor(bufferBytes / 2) - CARRY_BYTES),
  );
  // A multiple of 8 keeps every chunk at an 8-byte aligned place of its buffer, as records are
  // in the file: the fast record loop reads words (src/format/entry-run.ts).
  return chunk - (chunk % 8);
}

/** Larger reads gain nothing measurable here (docs/BENCHMARKS.md "Session 8"). */
const MAX_CHUNK_BYTES = 1024 * 1024;
/** Below this, reads cost more than they bring; a `bufferBytes` that small is exceeded. */
const MIN_CHUNK_BYTES = 16 * 1024;

/** Bytes of the file in a buffer: `buffer[at, at + (end - start))` is `[start, end)` of the file. */
interface Held {
  /** Which of the two buffers; -1 for one allocated for a record larger than they are. */
  index: 0 | 1 | -1;
  buffer: Uint8Array;
  at: number;
  start: number;
  end: number;
}

/** The chunk being read ahead: `[position, position + its length)` into `buffers[index]` at `at`. */
interface Pending {
  index: 0 | 1;
  at: number;
  position: number;
  /** Bytes read; rejects with the read's error. */
  done: Promise<number>;
}

/**
 * One file's reads. Its buffers never exceed the file's size: the room left for the carry
 * in front of a chunk is at most the chunk's offset in the file, so a corrupt length field
 * cannot make a small file's reader allocate more than the file holds (test/fuzz checks it).
 */
export class ReadAhead {
  private readonly buffers: [Uint8Array, Uint8Array] = [new Uint8Array(0), new Uint8Array(0)];
  /** The bytes the walk was handed last, and any read with them. */
  private held: Held | null = null;
  private pending: Pending | null = null;

  /**
   * `ahead` false: read only what is asked for. A follower at the live end of a segment wants
   * that: past the entries lie preallocated zeros, and a chunk read ahead would read them.
   */
  constructor(
    private readonly handle: fs.promises.FileHandle,
    private readonly fileSize: number,
    readonly chunkBytes: number,
    private readonly ahead = true,
  ) {}

  /**
   * `[position, position + length)` of the file, shorter only where the file ends. Valid until
   * the next call.
   */
  async read(position: number, length: number): Promise<Uint8Array> {
    const out = (await this.fromReadAhead(position, length)) ?? (await this.readDirect(position, length));
    this.readOn();
    return out;
  }

  /** Waits for a read still under way, so the file can be closed. */
  async settle(): Promise<void> {
    const pending = this.pending;
    this.pending = null;
    if (pending) await pending.done.catch(() => 0);
  }

  /** The request served by the chunk read ahead, the carry copied in front of it; null if it cannot be. */
  private async fromReadAhead(position: number, length: number): Promise<Uint8Array | null> {
    const { held, pending } = this;
    if (pending === null || held === null || pending.position !== held.end) return null;
    const carry = held.end - position;
    if (carry < 0 || carry > pending.at || position < held.start) return null;
    this.pending = null;
    const end = pending.position + (await pending.done);
    if (end < Math.min(position + length, this.fileSize)) return null; // more than a chunk asked for
    const buffer = this.buffers[pending.index];
    const at = pending.at - carry;
    const from = held.at + (position - held.start);
    buffer.set(held.buffer.subarray(from, from + carry), at);
    this.held = { index: pending.index, buffer, at, start: position, end };
    return buffer.subarray(at, at + Math.min(end, position + length) - position);
  }

  /** Reads exactly as asked, once any read under way is done with its buffer. */
  private async readDirect(position: number, length: number): Promise<Uint8Array> {
    await this.settle();
    const index = this.held?.index === 0 ? 1 : 0;
    const fits = length <= CARRY_BYTES + this.chunkBytes;
    const buffer = fits ? this.buffer(index, length) : new Uint8Array(length);
    const got = await readFully(this.handle, buffer, 0, length, position);
    this.held = { index: fits ? index : -1, buffer, at: 0, start: position, end: position + got };
    return buffer.subarray(0, got);
  }

  /** Starts reading the chunk after what the walk holds, into the other buffer. */
  private readOn(): void {
    const held = this.held;
    if (!this.ahead || held === null || this.pending !== null || held.end >= this.fileSize) return;
    const index = held.index === 0 ? 1 : 0;
    // Room for a carry in front, and the chunk at the same place modulo 8 as in the file, so
    // the records in it stay aligned for the word loads (src/format/entry-run.ts).
    let at = Math.min(CARRY_BYTES, held.end);
    at -= (at - held.end) & 7;
    const length = Math.min(this.chunkBytes, this.fileSize - held.end);
    const done = readFully(this.handle, this.buffer(index, at + length), at, length, held.end);
    done.catch(() => {}); // awaited by the next read, or dropped by settle()
    this.pending = { index, at, position: held.end, done };
  }

  /** Buffer `index`, grown to hold at least `bytes` (never more than the file). */
  private buffer(index: 0 | 1, bytes: number): Uint8Array {
    const current = this.buffers[index];
    if (current.length >= bytes) return current;
    const limit = Math.min(CARRY_BYTES + this.chunkBytes, this.fileSize);
    const grown = new Uint8Array(Math.max(bytes, Math.min(limit, 2 * current.length)));
    this.buffers[index] = grown;
    return grown;
  }
}

/** Reads `length` bytes at `position` into `buffer[at..]`; fewer only at the end of the file. */
async function readFully(
  handle: fs.promises.FileHandle,
  buffer: Uint8Array,
  at: number,
  length: number,
  position: number,
): Promise<number> {
  let got = 0;
  while (got < length) {
    const { bytesRead } = await handle.read(buffer, at + got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}
