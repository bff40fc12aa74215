/**
 * Reads the envelope of a key-value entry, `{ op: 'set' | 'delete', key, value, ... }`, straight
 * from its msgpack bytes: the op, the key, and where the value's bytes are, without decoding
 * the value. Replay decodes only each key's last value, not every value ever written.
 *
 * Returns null when the bytes are not such a map (the caller then treats the entry as not a
 * key-value operation, or decodes it fully).
 */

export interface Envelope {
  op: 'set' | 'delete';
  key: string;
  /** Byte range of the value's encoding; empty (start === end) when the entry has none. */
  valueStart: number;
  valueEnd: number;
}

const textDecoder = new TextDecoder();

/** Keys are short and usually ASCII: building the string directly beats TextDecoder's per-call cost. */
function utf8(b: Uint8Array, start: number, length: number): string {
  if (length <= 64) {
    let ascii = true;
    for (let i = start; i < start + length; i++) {
      if (b[i] >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii)
      return String.fromCharCode.apply(null, b.subarray(start, start + length) as unknown as number[]);
  }
  return textDecoder.decode(b.subarray(start, start + length));
}

/** Length and start of a msgpack string at `at`, or null if it is not a string. */
function stringAt(b: Uint8Array, at: number): [start: number, length: number] | null {
  const t = b[at];
  if (t >= 0xa0 && t <= 0xbf) return [at + 1, t & 0x1f];
  if (t === 0xd9) return [at + 2, b[at + 1]];
  if (t === 0xda) return [at + 3, (b[at + 1] << 8) | b[at + 2]];
  if (t === 0xdb)
    return [at + 5, ((b[at + 1] << 24) | (b[at + 2] << 16) | (b[at + 3] << 8) | b[at + 4]) >>> 0];
  return null;
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

export function readEnvelope(b: Uint8Array): Envelope | null {
  const end = b.length;
  let at = 0;
  let pairs: number;
  const t = b[0];
  if (t >= 0x80 && t <= 0x8f) {
    pairs = t & 0x0f;
    at = 1;
  } else if (t === 0xde) {
    pairs = u16(b, 1);
    at = 3;
  } else if (t === 0xdf) {
    pairs = u32(b, 1);
    at = 5;
  } else return null;
  let op: 'set' | 'delete' | null = null;
  let key: string | null = null;
  let valueStart = 0;
  let valueEnd = 0;
  for (let p = 0; p < pairs; p++) {
    const name = stringAt(b, at);
    if (!name || name[0] + name[1] > end) return null;
    const [nameStart, nameLength] = name;
    const valueAt = nameStart + nameLength;
    const next = skipValue(b, valueAt, end);
    if (next < 0) return null;
    if (is(b, nameStart, nameLength, 'op')) {
      const s = stringAt(b, valueAt);
      if (!s) return null;
      if (is(b, s[0], s[1], 'set')) op = 'set';
      else if (is(b, s[0], s[1], 'delete')) op = 'delete';
      else return null;
    } else if (is(b, nameStart, nameLength, 'key')) {
      const s = stringAt(b, valueAt);
      if (!s) return null;
      key = utf8(b, s[0], s[1]);
    } else if (is(b, nameStart, nameLength, 'value')) {
      valueStart = valueAt;
      valueEnd = next;
    }
    at = next;
  }
  if (op === null || key === null || at !== end) return null;
  return { op, key, valueStart, valueEnd };
}
