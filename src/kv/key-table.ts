/**
 * Keys as bytes: a hash table from a key's UTF-8 bytes to a small integer (its slot), for the
 * key-value rebuild. Replay workers look up every entry's key in their segment's table
 * straight from the record's bytes, and the main thread merges the workers' keys into its
 * own table the same way: a key becomes a JavaScript string once, at the very end, instead
 * of once per entry in a worker and once more per segment when its result is cloned across
 * threads (docs/BENCHMARKS.md "Session 8": key strings and Map updates were a third of a
 * replay worker's time).
 *
 * A key's table bytes are the UTF-8 of the string msgpackr decodes it to, so two entries have
 * the same key exactly when their bytes are equal: the envelope reader takes a key's bytes
 * as they are only when they are valid UTF-8 (which decodes to one string and back to the
 * same bytes); any other key is decoded by msgpackr and encoded again.
 *
 * Slots are numbered 0, 1, 2... in the order keys were first added; callers keep what they
 * need per slot in arrays of their own, indexed by slot. Nothing is ever removed.
 */

/** FNV-1a over the key's bytes: keys are short, and this is a few operations a byte. */
export function hashKey(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}

const textDecoder = new TextDecoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true });

/** Whether `bytes[start, end)` is valid UTF-8 (so it is a key's canonical bytes). */
export function isUtf8(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    if (bytes[i] >= 0x80) {
      try {
        strictDecoder.decode(bytes.subarray(start, end));
        return true;
      } catch {
        return false;
      }
    }
  }
  return true;
}

/** The string of a key's bytes. Keys are short and usually ASCII: building the string directly beats TextDecoder's per-call cost. */
export function keyString(bytes: Uint8Array, start: number, end: number): string {
  if (end - start <= 64) {
    let ascii = true;
    for (let i = start; i < end; i++) {
      if (bytes[i] >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) return String.fromCharCode.apply(null, bytes.subarray(start, end) as unknown as number[]);
  }
  return textDecoder.decode(bytes.subarray(start, end));
}

/** What `find` answers for a key the table does not hold. */
export const NO_SLOT = -1;

export class KeyTable {
  /** Slots in use: 0 .. size - 1. */
  size = 0;
  /** Every key's bytes, back to back in slot order: slot s's key ends at `keyEnds[s]`. */
  keys = new Uint8Array(16 * 1024);
  keyEnds = new Uint32Array(1024);
  hashes = new Uint32Array(1024);
  /** Open addressing, linear probing: slot + 1 per cell, 0 for an empty cell. */
  private cells = new Int32Array(2048);
  private mask = 2047;

  /** Empties the table, keeping its buffers (a worker reuses one table for every segment). */
  clear(): void {
    this.size = 0;
    this.cells.fill(0);
  }

  /** Where slot s's key starts in `keys`. */
  keyStart(slot: number): number {
    return slot === 0 ? 0 : this.keyEnds[slot - 1];
  }

  /** The slot of the key `bytes[start, end)` (whose hashKey is `hash`), or NO_SLOT if it has none. */
  find(bytes: Uint8Array, start: number, end: number, hash: number): number {
    const { cells, mask } = this;
    for (let cell = hash & mask; ; cell = (cell + 1) & mask) {
      const slot = cells[cell] - 1;
      if (slot === NO_SLOT) return NO_SLOT;
      if (this.hashes[slot] === hash && this.keyIs(slot, bytes, start, end)) return slot;
    }
  }

  /** The slot of the key `bytes[start, end)`, added (with a copy of its bytes) if new. */
  slotOf(bytes: Uint8Array, start: number, end: number, hash: number): number {
    const { cells, mask } = this;
    let cell = hash & mask;
    for (; ; cell = (cell + 1) & mask) {
      const slot = cells[cell] - 1;
      if (slot === NO_SLOT) break;
      if (this.hashes[slot] === hash && this.keyIs(slot, bytes, start, end)) return slot;
    }
    const slot = this.size++;
    if (slot === this.hashes.length) {
      this.hashes = grow(this.hashes, slot + 1);
      this.keyEnds = grow(this.keyEnds, slot + 1);
    }
    const keyStart = this.keyStart(slot);
    const keyEnd = keyStart + (end - start);
    if (keyEnd > this.keys.length) this.keys = grow(this.keys, keyEnd);
    for (let i = start, j = keyStart; i < end; i++, j++) this.keys[j] = bytes[i];
    this.keyEnds[slot] = keyEnd;
    this.hashes[slot] = hash;
    cells[cell] = slot + 1;
    if (this.size * 2 > cells.length) this.rehash();
    return slot;
  }

  private keyIs(slot: number, bytes: Uint8Array, start: number, end: number): boolean {
    const keyStart = this.keyStart(slot);
    if (this.keyEnds[slot] - keyStart !== end - start) return false;
    const keys = this.keys;
    for (let i = start, j = keyStart; i < end; i++, j++) if (keys[j] !== bytes[i]) return false;
    return true;
  }

  private rehash(): void {
    const cells = new Int32Array(this.cells.length * 2);
    const mask = cells.length - 1;
    for (let slot = 0; slot < this.size; slot++) {
      let cell = this.hashes[slot] & mask;
      while (cells[cell] !== 0) cell = (cell + 1) & mask;
      cells[cell] = slot + 1;
    }
    this.cells = cells;
    this.mask = mask;
  }
}

/** `array` copied into one at least `atLeast` long (doubling). */
export function grow<T extends Uint8Array | Uint32Array | Int32Array | Float64Array>(
  array: T,
  atLeast: number,
): T {
  const bigger = new (array.constructor as new (length: number) => T)(Math.max(atLeast, array.length * 2));
  bigger.set(array);
  return bigger;
}
