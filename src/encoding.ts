/**
 * How values become bytes. msgpackr with self-describing records (`useRecords: false`):
 * every record decodes on its own, with no shared structure table to persist, and it is the
 * faster setting for our entries (PITFALLS: ~360 vs ~580 ns for the standard entry).
 *
 * We pack into msgpackr's own buffer and copy into the ring rather than pack in place:
 * msgpackr's target buffer is module-level state shared with every other Packr and the
 * user's own `pack()` calls in this thread (msgpackr#139), and it silently moves to a heap
 * buffer when space is short. The copy costs ~50 ns for a 141-byte entry.
 */
import { Packr, RESET_BUFFER_MODE, REUSE_BUFFER_MODE, Unpackr } from 'msgpackr';
import { ErrorCode, WalError } from './errors.js';

/**
 * msgpackr writes a function as `undefined` unless told otherwise: the entry would then read
 * back without it, silently. A function has no MessagePack form, so it fails the append.
 */
function refuseFunction(): never {
  throw new Error('a function is not a value MessagePack can store');
}
const packr = new Packr({ useRecords: false, writeFunction: refuseFunction });
const unpackr = new Unpackr({ useRecords: false });

/**
 * msgpackr's own buffer with the encoding at `[start, end)`. REUSE_BUFFER_MODE returns the
 * buffer itself instead of allocating a view per call; RESET_BUFFER_MODE encodes every entry
 * at the same spot, so the buffer stays warm in cache and is never replaced as it fills.
 */
export interface Encoded extends Uint8Array {
  start: number;
  end: number;
}
const IN_PLACE = REUSE_BUFFER_MODE | RESET_BUFFER_MODE;

/**
 * msgpackr grows its buffer to fit the largest value it has encoded and keeps it: after one
 * 200 MB entry (even one refused as too large) ~750 MB of ArrayBuffer stayed allocated for
 * the life of the process. Past this size the buffer is handed back once the entry is copied.
 */
const KEEP_BUFFER_BYTES = 1024 * 1024;

function freshBuffer(): void {
  // A Buffer, as msgpackr allocates (it writes strings with Buffer#utf8Write).
  packr.useBuffer(Buffer.allocUnsafeSlow(8192));
}

/** Encodes `value`; the result is only valid until the next encoding in this thread. */
export function encode(value: unknown): Encoded {
  try {
    return packr.pack(value, IN_PLACE) as unknown as Encoded;
  } catch (cause) {
    freshBuffer(); // the value may have grown it before failing
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new WalError(
      ErrorCode.ENCODE_FAILED,
      `the value cannot be encoded as msgpack: ${reason}`,
      {},
      { cause },
    );
  }
}

/** Call once `encoded` is copied: lets a buffer grown for a large entry go. */
export function doneWith(encoded: Encoded): void {
  if (encoded.length > KEEP_BUFFER_BYTES) freshBuffer();
}

export function decode(bytes: Uint8Array): unknown {
  return unpackr.unpack(bytes);
}

/**
 * Decodes entries stored back to back in `bytes` (entry k ends at `ends[k]`, relative to
 * `bytes`) with one msgpackr call, about 1.5x faster per entry than one call each. Returns
 * how many decoded cleanly into `out`; the caller decodes the rest one by one for a precise
 * error (a value that does not end where its entry ends, or bytes that are not MessagePack).
 */
export function decodeBackToBack(
  bytes: Uint8Array,
  ends: ArrayLike<number>,
  base: number,
  out: unknown[],
): number {
  let k = 0;
  try {
    unpackr.unpackMultiple(bytes, (value: unknown, _start?: number, end?: number) => {
      if (k === ends.length || end === undefined || end !== ends[k] - base) return false;
      out[k++] = value;
      return true;
    });
  } catch {
    // Decoded one by one by the caller, from entry k.
  }
  return k;
}

/**
 * Decodes a stored entry. Its checksum matched, so bytes that are not MessagePack are not
 * crash damage but a forged record or a writer bug: WAL_CORRUPT naming where, in every
 * recovery mode.
 */
export function decodeStored(bytes: Uint8Array, path: string, offset: number): unknown {
  try {
    return unpackr.unpack(bytes);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new WalError(
      ErrorCode.CORRUPT,
      `${path} is corrupt at offset ${offset}: the entry's checksum matches but it is not valid MessagePack (${reason})`,
      { path, offset },
      { cause },
    );
  }
}
