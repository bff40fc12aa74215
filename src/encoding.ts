/**
 * How values become bytes. msgpackr with self-describing records (`useRecords: false`):
 * every record decodes on its own, with no shared structure table to persist, and it is the
 * faster setting for our entries (PITFALLS: ~360 vs ~580 ns for the standard entry).
 *
 * Entries are encoded straight into the ring where they fit there (`encodeAt`, with a
 * private encoder instance: see below); msgpackr moves to a buffer of its own when space runs
 * short, and the caller then copies from that (`encode` does so on purpose).
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Packr, REUSE_BUFFER_MODE, Unpackr } from 'msgpackr';
import { encodeFailed, undecodableEntry } from './errors.js';

/**
 * Our own instance of msgpackr's encoder module. Its target buffer and position are
 * module-level state (msgpackr#139): pointing the shared module at the ring would hand the
 * ring to every other Packr and to the application's own `pack()` calls, whose results would
 * then be views of memory we overwrite. Importing `pack.js` under a URL of our own gives a
 * module instance nobody else can reach, so we may point it at the ring. It shares msgpackr's
 * decoder module and built-in types; extensions an application registers with msgpackr's
 * `addExtension` are not seen by it (README, "Values").
 */
const packModule = pathToFileURL(
  path.join(path.dirname(createRequire(import.meta.url).resolve('msgpackr')), '..', 'pack.js'),
);

/**
 * msgpackr writes a function as `undefined` unless told otherwise: the entry would then read
 * back without it, silently. A function has no MessagePack form, so it fails the append.
 */
function refuseFunction(): never {
  throw new Error('a function is not a value MessagePack can store');
}

/**
 * The private encoder, loaded by `loadEncoder()` when the first log opens (`openWal` awaits
 * it) rather than by a top-level `await import()`: a module graph with top-level await
 * cannot be `require()`d, and CommonJS applications load ringwal with `require` (Node
 * 20.19+, 22.12+, 24). Everything that encodes runs inside an open log, after the load.
 */
let packr!: Packr;
let loading: Promise<void> | null = null;

/** Loads the private encoder instance once; later calls return the same promise. */
export function loadEncoder(): Promise<void> {
  loading ??= import(`${packModule.href}?ringwal-encoder`).then((module: { Packr: typeof Packr }) => {
    packr = new module.Packr({ useRecords: false, writeFunction: refuseFunction });
  });
  return loading;
}
const unpackr = new Unpackr({ useRecords: false });

/**
 * The buffer an encoding landed in, with the encoding at `[start, end)`. REUSE_BUFFER_MODE
 * returns the buffer itself instead of allocating a view per call.
 */
export interface Encoded extends Uint8Array {
  start: number;
  end: number;
}

/** The buffer msgpackr's (our instance's) target is set to, as far as we know. */
let installed: Uint8Array | null = null;
/** Where entries that are not encoded in the ring are encoded (a Buffer: msgpackr writes strings with Buffer#utf8Write). */
let scratch: Buffer = Buffer.allocUnsafeSlow(8192);

/**
 * msgpackr grows its buffer to fit the largest value it has encoded and keeps it: after one
 * 200 MB entry (even one refused as too large) ~750 MB of ArrayBuffer stayed allocated for
 * the life of the process. Past this size the buffer is handed back once the entry is copied.
 */
const KEEP_BUFFER_BYTES = 1024 * 1024;

/**
 * Whether an encoding is under way. A getter in the value being encoded may append again:
 * msgpackr then sets the outer encoding's state aside and encodes the inner value into a
 * fresh buffer of its own, so our target and position must be left alone meanwhile.
 */
let encoding = false;

/** Whether an encoding is under way: true only for code a value's getter runs. */
export function encodingUnderWay(): boolean {
  return encoding;
}

/**
 * Encodes `value` into `target` from `position` on. The result is `target` when the
 * encoding fit there, ending at least 10 bytes before `target`'s end (msgpackr never writes
 * past a target's length, and leaves it for another buffer when less than 2 KiB remain or
 * the value outgrows it); otherwise it is a buffer of msgpackr's own (always so for an
 * encoding nested in another). Either is only valid until the next encoding.
 */
export function encodeAt(value: unknown, target: Buffer, position: number): Encoded {
  if (encoding) return packOrThrow(value);
  if (installed !== target) {
    packr.useBuffer(target);
    installed = target;
  }
  packr.position = position;
  encoding = true;
  try {
    const out = packOrThrow(value);
    if ((out as Uint8Array) !== target) installed = out;
    return out;
  } catch (error) {
    installed = null; // the value may have grown a buffer before failing
    throw error;
  } finally {
    encoding = false;
  }
}

function packOrThrow(value: unknown): Encoded {
  try {
    return packr.pack(value, REUSE_BUFFER_MODE) as unknown as Encoded;
  } catch (cause) {
    throw encodeFailed(cause);
  }
}

/** Stops encoding into views of `memory` (a closed log's ring), so the encoder does not keep it alive. */
export function releaseTarget(memory: ArrayBufferLike): void {
  if (installed?.buffer !== memory) return;
  packr.useBuffer(scratch);
  installed = scratch;
}

/** Encodes `value` outside the ring; the result is only valid until the next encoding. */
export function encode(value: unknown): Encoded {
  if (encoding) return packOrThrow(value);
  const out = encodeAt(value, scratch, 0);
  // msgpackr moved to a bigger buffer: keep it for the next entry, unless it is large.
  if ((out as Uint8Array) !== scratch && out.length <= KEEP_BUFFER_BYTES) scratch = out as unknown as Buffer;
  return out;
}

/** Call once `encoded` is copied: lets a buffer grown for a large entry go. */
export function doneWith(encoded: Encoded): void {
  if (encoded.length > KEEP_BUFFER_BYTES && !encoding) {
    scratch = Buffer.allocUnsafeSlow(8192);
    packr.useBuffer(scratch);
    installed = scratch;
  }
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
    throw undecodableEntry(path, offset, cause);
  }
}

/** The range `decodeStoredAt` decodes, reused: msgpackr reads it once, at the start of a call. */
const storedRange = { start: 0, end: 0 };

/**
 * `decodeStored` of `bytes[start, end)`, without a view per entry: msgpackr keeps one
 * DataView per source buffer (as a property on it), so a reader that decodes every entry of a
 * read buffer in place makes one view per buffer instead of a view and a DataView per entry
 * (docs/BENCHMARKS.md "Session 8"). A value that does not end exactly at `end` is an error,
 * as it is for `decodeStored`.
 */
export function decodeStoredAt(
  bytes: Uint8Array,
  start: number,
  end: number,
  path: string,
  offset: number,
): unknown {
  // msgpackr reads `end || source.length`: an empty range would decode to the buffer's end.
  if (end <= start) return decodeStored(bytes.subarray(start, end), path, offset);
  storedRange.start = start;
  storedRange.end = end;
  try {
    return unpackr.unpack(bytes, storedRange);
  } catch (cause) {
    throw undecodableEntry(path, offset, cause);
  }
}
