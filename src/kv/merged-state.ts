/**
 * The main thread's side of `recoverState`: segment results merged in order, values kept
 * encoded until the end. A key is usually overwritten in later segments, so decoding on
 * every merge would decode (and then collect) most values many times over; instead each key
 * points at its value's bytes in a result's buffer, and only the survivors are decoded, once.
 *
 * A key's bytes are a slot in three typed arrays (buffer, start, end), reused when the key
 * is overwritten, so a merge allocates nothing per key. A buffer stays alive while any slot
 * points into it, so a log whose old segments each leave a few survivors could pin every
 * buffer: past a budget, the survivors are copied into one fresh buffer (compaction), which
 * bounds what is held to about twice the live values.
 */
import { decode } from '../encoding.js';
import { undecodableValue } from '../errors.js';
import { DELETED, SET_VALUE, type SegmentState } from './reduce-segment.js';

/** A stored value whose entry's checksum matched but whose bytes are not MessagePack: a forged record or a writer bug. */
function decodeValue(key: string, bytes: Uint8Array): unknown {
  try {
    return decode(bytes);
  } catch (cause) {
    throw undecodableValue(key, cause);
  }
}

const COMPACT_BYTES = 16 * 1024 * 1024;
/** Slot marker for a value already decoded (an entry the envelope reader did not take). */
const DECODED = -1;

export class MergedState {
  /** key -> slot, or DECODED. */
  private readonly slots = new Map<string, number>();
  private readonly decoded = new Map<string, unknown>();
  private buffers: Uint8Array[] = [];
  private slotBuffer = new Uint32Array(1024);
  private slotStart = new Uint32Array(1024);
  private slotEnd = new Uint32Array(1024);
  private slotCount = 0;
  private readonly freeSlots: number[] = [];
  /** Bytes of the buffers held (an upper bound on what slots pin). */
  private pinned = 0;
  private compactAt = COMPACT_BYTES;

  merge(result: SegmentState): void {
    const { keys, kinds, starts, values } = result;
    const buffer = this.buffers.length;
    this.buffers.push(values);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      const kind = kinds[i];
      const slot = this.slots.get(key);
      if (kind === DELETED) {
        if (slot === undefined) continue;
        this.slots.delete(key);
        if (slot === DECODED) this.decoded.delete(key);
        else this.freeSlots.push(slot);
      } else if (kind === SET_VALUE) {
        let at = slot;
        if (at === undefined || at === DECODED) {
          if (at === DECODED) this.decoded.delete(key);
          at = this.newSlot();
          this.slots.set(key, at);
        }
        this.slotBuffer[at] = buffer;
        this.slotStart[at] = starts[i];
        this.slotEnd[at] = starts[i + 1];
      } else {
        if (slot !== undefined && slot !== DECODED) this.freeSlots.push(slot);
        this.slots.set(key, DECODED);
        const entry = decodeValue(key, values.subarray(starts[i], starts[i + 1])) as { value?: unknown };
        this.decoded.set(key, entry.value);
      }
    }
    this.pinned += values.byteLength;
    if (this.pinned > this.compactAt) this.compact();
  }

  /** The state, every value decoded. */
  finish(): Map<string, unknown> {
    const state = new Map<string, unknown>();
    for (const [key, slot] of this.slots) {
      state.set(key, slot === DECODED ? this.decoded.get(key) : this.valueAt(key, slot));
    }
    return state;
  }

  private valueAt(key: string, slot: number): unknown {
    const start = this.slotStart[slot];
    const end = this.slotEnd[slot];
    return end === start
      ? undefined
      : decodeValue(key, this.buffers[this.slotBuffer[slot]].subarray(start, end));
  }

  private newSlot(): number {
    const free = this.freeSlots.pop();
    if (free !== undefined) return free;
    if (this.slotCount === this.slotBuffer.length) {
      const grow = (a: Uint32Array) => {
        const b = new Uint32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.slotBuffer = grow(this.slotBuffer);
      this.slotStart = grow(this.slotStart);
      this.slotEnd = grow(this.slotEnd);
    }
    return this.slotCount++;
  }

  /** Copies every live value into one buffer, releasing the results' buffers. */
  private compact(): void {
    let live = 0;
    for (const slot of this.slots.values())
      if (slot !== DECODED) live += this.slotEnd[slot] - this.slotStart[slot];
    const buffer = new Uint8Array(live);
    let at = 0;
    for (const slot of this.slots.values()) {
      if (slot === DECODED) continue;
      const start = this.slotStart[slot];
      const end = this.slotEnd[slot];
      buffer.set(this.buffers[this.slotBuffer[slot]].subarray(start, end), at);
      this.slotBuffer[slot] = 0;
      this.slotStart[slot] = at;
      this.slotEnd[slot] = at + (end - start);
      at += end - start;
    }
    this.buffers = [buffer];
    this.pinned = live;
    this.compactAt = Math.max(COMPACT_BYTES, 2 * live);
  }
}
