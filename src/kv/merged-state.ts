/**
 * The main thread's side of `recoverState`: segment results merged in order, keys kept as
 * bytes and values kept encoded until the end. A key is usually overwritten in later
 * segments, so decoding on every merge would decode (and then collect) most values many
 * times over; instead each key points at its value's bytes in a result's buffer, and only the
 * survivors are decoded, once. Keys are looked up by their bytes (src/kv/key-table.ts, with
 * the hash the worker computed) and become strings once, in `finish`.
 *
 * A key's value is a place in three typed arrays (buffer, start, end) indexed by the key's
 * slot, so a merge allocates nothing per key. A buffer stays alive while any key points into
 * it, so a log whose old segments each leave a few survivors could pin every buffer: past a
 * budget, the survivors are copied into one fresh buffer (compaction), which bounds what is
 * held to about twice the live values.
 */
import { decode } from '../encoding.js';
import { undecodableValue } from '../errors.js';
import { grow, KeyTable, keyString } from './key-table.js';
import { DELETED, SET_ENTRY, SET_VALUE, type SegmentState } from './reduce-segment.js';

const COMPACT_BYTES = 16 * 1024 * 1024;

/** A key's state (`MergedState.state`). */
const ABSENT = 0; // never set, or deleted
const ENCODED = 1; // its value's bytes are in a buffer
const DECODED = 2; // its value is in `decoded` (an entry the envelope reader did not take)

export class MergedState {
  private readonly table = new KeyTable();
  private state = new Uint8Array(1024);
  private valueBuffer = new Uint32Array(1024);
  private valueStart = new Uint32Array(1024);
  private valueEnd = new Uint32Array(1024);
  /** LSN of the set that (re)inserted each live key: a sequential replay's Map order. */
  private insertedAt = new Float64Array(1024);
  private readonly decoded = new Map<number, unknown>();
  private buffers: Uint8Array[] = [];
  /** Bytes of the buffers held (an upper bound on what keys pin). */
  private pinned = 0;
  private compactAt = COMPACT_BYTES;

  merge(result: SegmentState): void {
    const { keyBytes, keyEnds, hashes, kinds, starts, values, insertedAt, deletedFirst } = result;
    const buffer = this.buffers.length;
    this.buffers.push(values);
    for (let i = 0; i < kinds.length; i++) {
      const keyStart = i === 0 ? 0 : keyEnds[i - 1];
      const slot = this.table.slotOf(keyBytes, keyStart, keyEnds[i], hashes[i]);
      if (slot === this.state.length) this.grow();
      const before = this.state[slot];
      if (before === DECODED) this.decoded.delete(slot);
      const kind = kinds[i];
      if (kind === DELETED) {
        this.state[slot] = ABSENT;
        continue;
      }
      // Set: a key absent before, or deleted in this segment first, is (re)inserted here.
      if (before === ABSENT || deletedFirst[i] === 1) this.insertedAt[slot] = insertedAt[i];
      if (kind === SET_VALUE) {
        this.state[slot] = ENCODED;
        this.valueBuffer[slot] = buffer;
        this.valueStart[slot] = starts[i];
        this.valueEnd[slot] = starts[i + 1];
      } else if (kind === SET_ENTRY) {
        this.state[slot] = DECODED;
        const entry = this.decodeValue(slot, values.subarray(starts[i], starts[i + 1])) as {
          value?: unknown;
        };
        this.decoded.set(slot, entry.value);
      }
    }
    this.pinned += values.byteLength;
    if (this.pinned > this.compactAt) this.compact();
  }

  /** The state, every value decoded, keys in the order a sequential replay's Map has them. */
  finish(): Map<string, unknown> {
    const out = new Map<string, unknown>();
    const { table } = this;
    const live: number[] = [];
    for (let slot = 0; slot < table.size; slot++) if (this.state[slot] !== ABSENT) live.push(slot);
    live.sort((a, b) => this.insertedAt[a] - this.insertedAt[b]);
    for (const slot of live) {
      const state = this.state[slot];
      const key = keyString(table.keys, table.keyStart(slot), table.keyEnds[slot]);
      out.set(key, state === DECODED ? this.decoded.get(slot) : this.valueAt(slot));
    }
    return out;
  }

  private valueAt(slot: number): unknown {
    const start = this.valueStart[slot];
    const end = this.valueEnd[slot];
    return end === start
      ? undefined
      : this.decodeValue(slot, this.buffers[this.valueBuffer[slot]].subarray(start, end));
  }

  /** A stored value whose entry's checksum matched but whose bytes are not MessagePack: a forged record or a writer bug. */
  private decodeValue(slot: number, bytes: Uint8Array): unknown {
    try {
      return decode(bytes);
    } catch (cause) {
      const { table } = this;
      throw undecodableValue(keyString(table.keys, table.keyStart(slot), table.keyEnds[slot]), cause);
    }
  }

  private grow(): void {
    const n = this.state.length + 1;
    this.state = grow(this.state, n);
    this.valueBuffer = grow(this.valueBuffer, n);
    this.valueStart = grow(this.valueStart, n);
    this.valueEnd = grow(this.valueEnd, n);
    this.insertedAt = grow(this.insertedAt, n);
  }

  /** Copies every live value into one buffer, releasing the results' buffers. */
  private compact(): void {
    const slots = this.table.size;
    let live = 0;
    for (let slot = 0; slot < slots; slot++)
      if (this.state[slot] === ENCODED) live += this.valueEnd[slot] - this.valueStart[slot];
    const buffer = new Uint8Array(live);
    let at = 0;
    for (let slot = 0; slot < slots; slot++) {
      if (this.state[slot] !== ENCODED) continue;
      const start = this.valueStart[slot];
      const end = this.valueEnd[slot];
      buffer.set(this.buffers[this.valueBuffer[slot]].subarray(start, end), at);
      this.valueBuffer[slot] = 0;
      this.valueStart[slot] = at;
      this.valueEnd[slot] = at + (end - start);
      at += end - start;
    }
    this.buffers = [buffer];
    this.pinned = live;
    this.compactAt = Math.max(COMPACT_BYTES, 2 * live);
  }
}
