/**
 * Reads the envelope of a key-value entry, `{ op: 'set' | 'delete', key, value, ... }`, straight
 * from its msgpack bytes: the op, the key, and where the value's bytes are, without decoding
 * the value. Replay decodes only each key's last value, not every value ever written.
 *
 * Returns null when the bytes are not such a map (the caller then treats the entry as not a
 * key-value operation, or decodes it fully).
 */

import { keyString } from './key-table.js';

export interface Envelope {
  op: 'set' | 'delete';
  key: string;
  /** Byte range of the value's encoding; empty (start === end) when the entry has none. */
  valueStart: number;
  valueEnd: number;
}

/** The length of the string `stringStart` found last (a second return value, not an allocation per call). */
let stringLength = 0;

/** Where the msgpack string at `at` starts (its length in `stringLength`), or -1 if it is not a string. */
function stringStart(b: Uint8Array, at: number): number {
  const t = b[at];
  if (t >= 0xa0 && t <= 0xbf) {
    stringLength = t & 0x1f;
    return at + 1;
  }
  if (t === 0xd9) {
    stringLength = b[at + 1];
    return at + 2;
  }
  if (t === 0xda) {
    stringLength = (b[at + 1] << 8) | b[at + 2];
    return at + 3;
  }
  if (t === 0xdb) {
    stringLength = ((b[at + 1] << 24) | (b[at + 2] << 16) | (b[at + 3] << 8) | b[at + 4]) >>> 0;
    return at + 5;
  }
  return -1;
}

function u16(b: Uint8Array, at: number): number {
  return (b[at] << 8) | b[at + 1];
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

/** The offset just past the msgpack value starting at `at`; -1 if it runs past `end` or is invalid. */
export function skipValue(b: Uint8Array, at: number, end: number): number {
  let pending = 1; // values still to skip (containers add their children)
  while (pending > 0) {
    if (at >= end) return -1;
    const t = b[at];
    pending--;
    if (t <= 0x7f || t >= 0xe0)
      at += 1; // fixint
    else if (t <= 0x8f) {
      pending += (t & 0x0f) * 2; // fixmap
      at += 1;
    } else if (t <= 0x9f) {
      pending += t & 0x0f; // fixarray
      at += 1;
    } else if (t <= 0xbf)
      at += 1 + (t & 0x1f); // fixstr
    else
      switch (t) {
        case 0xc0:
        case 0xc2:
        case 0xc3:
          at += 1;
          break;
        case 0xc4:
        case 0xd9:
          at += 2 + b[at + 1];
          break;
        case 0xc5:
        case 0xda:
          at += 3 + u16(b, at + 1);
          break;
        case 0xc6:
        case 0xdb:
          at += 5 + u32(b, at + 1);
          break;
        case 0xc7:
          at += 3 + b[at + 1];
          break;
        case 0xc8:
          at += 4 + u16(b, at + 1);
          break;
        case 0xc9:
          at += 6 + u32(b, at + 1);
          break;
        case 0xca:
          at += 5;
          break;
        case 0xcb:
          at += 9;
          break;
        case 0xcc:
        case 0xd0:
          at += 2;
          break;
        case 0xcd:
        case 0xd1:
          at += 3;
          break;
        case 0xce:
        case 0xd2:
          at += 5;
          break;
        case 0xcf:
        case 0xd3:
          at += 9;
          break;
        case 0xd4:
          at += 3;
          break;
        case 0xd5:
          at += 4;
          break;
        case 0xd6:
          at += 6;
          break;
        case 0xd7:
          at += 10;
          break;
        case 0xd8:
          at += 18;
          break;
        case 0xdc:
          pending += u16(b, at + 1);
          at += 3;
          break;
        case 0xdd:
          pending += u32(b, at + 1);
          at += 5;
          break;
        case 0xde:
          pending += u16(b, at + 1) * 2;
          at += 3;
          break;
        case 0xdf:
          pending += u32(b, at + 1) * 2;
          at += 5;
          break;
        default:
          return -1; // 0xc1 is never used
      }
  }
  return at <= end ? at : -1;
}

/** Whether `b[start, start + length)` holds the ASCII text `word`. */
function is(b: Uint8Array, start: number, length: number, word: string): boolean {
  if (length !== word.length) return false;
  for (let i = 0; i < length; i++) if (b[start + i] !== word.charCodeAt(i)) return false;
  return true;
}

/** Where an envelope's parts are in the bytes it was read from (`readEnvelopeAt`). */
export interface EnvelopeAt {
  op: 'set' | 'delete';
  keyStart: number;
  keyEnd: number;
  /** The value's encoding; empty (start === end) when the entry has none. */
  valueStart: number;
  valueEnd: number;
}

/**
 * `readEnvelope` of `b[start, end)` in place, into `out` (reused by the caller): true when it
 * is a key-value entry. The key's bytes are left where they are; they must be valid UTF-8 for
 * the entry to be taken (src/kv/key-table.ts says why), which the caller checks.
 */
export function readEnvelopeAt(b: Uint8Array, start: number, end: number, out: EnvelopeAt): boolean {
  let at = start;
  let pairs: number;
  const t = b[at];
  if (t >= 0x80 && t <= 0x8f) {
    pairs = t & 0x0f;
    at += 1;
  } else if (t === 0xde) {
    pairs = u16(b, at + 1);
    at += 3;
  } else if (t === 0xdf) {
    pairs = u32(b, at + 1);
    at += 5;
  } else return false;
  let op: 'set' | 'delete' | null = null;
  let keyStart = -1;
  let keyEnd = -1;
  let valueStart = 0;
  let valueEnd = 0;
  for (let p = 0; p < pairs; p++) {
    const nameStart = stringStart(b, at);
    const nameLength = stringLength;
    if (nameStart < 0 || nameStart + nameLength > end) return false;
    const valueAt = nameStart + nameLength;
    const next = skipValue(b, valueAt, end);
    if (next < 0) return false;
    if (is(b, nameStart, nameLength, 'op')) {
      const opStart = stringStart(b, valueAt);
      if (opStart < 0) return false;
      if (is(b, opStart, stringLength, 'set')) op = 'set';
      else if (is(b, opStart, stringLength, 'delete')) op = 'delete';
      else return false;
    } else if (is(b, nameStart, nameLength, 'key')) {
      keyStart = stringStart(b, valueAt);
      if (keyStart < 0) return false;
      keyEnd = keyStart + stringLength;
    } else if (is(b, nameStart, nameLength, 'value')) {
      valueStart = valueAt;
      valueEnd = next;
    }
    at = next;
  }
  if (op === null || keyStart < 0 || at !== end) return false;
  out.op = op;
  out.keyStart = keyStart;
  out.keyEnd = keyEnd;
  out.valueStart = valueStart;
  out.valueEnd = valueEnd;
  return true;
}

const scratch: EnvelopeAt = { op: 'set', keyStart: 0, keyEnd: 0, valueStart: 0, valueEnd: 0 };

export function readEnvelope(b: Uint8Array): Envelope | null {
  if (!readEnvelopeAt(b, 0, b.length, scratch)) return null;
  const { op, keyStart, keyEnd, valueStart, valueEnd } = scratch;
  return { op, key: keyString(b, keyStart, keyEnd), valueStart, valueEnd };
}
