/**
 * The one module that owns the shared-memory layout between the main thread (producer)
 * and the writer thread (consumer). Each slot says which side writes it; the other side
 * only reads it. Single producer, single consumer.
 *
 * ```
 *  byte 0 ┌──────────────────────── control line 0: written by MAIN ─────────────────────┐
 *         │ i32 WRITE_POS │ i32 SYNC_REQUEST │ i32 COMMAND │ i32 ROTATE_REQUEST │         │
 *         │ i64 CHECKPOINT_TARGET │ i32 CHECKPOINT_REQUEST │                               │
 *  byte 64├──────────────────────── control line 1: written by WRITER ───────────────────┤
 *         │ i32 READ_POS │ i32 WRITER_STATE │ i32 NOTIFY_SEQ │ i32 SYNC_DONE │            │
 *         │ i32 ERROR_STATE │ i32 ERROR_BYTES │ i32 ROTATE_DONE │ i32 CHECKPOINT_DONE     │
 *         │ i64 WRITTEN_LSN │ i64 DURABLE_LSN │ i64 CHECKPOINT_LSN │ i64 ACTIVE_SEGMENT_BYTES│
 *  byte 128├──────────────── error area: UTF-8 JSON of the sticky error (WRITER) ─────────┤
 *  byte 512├──────────────── metrics: f64 counters (WRITER), src/metrics.ts ──────────────┤
 * byte 1024├──────────────── data: `capacity` bytes, a power of two ─────────────────────┤
 *         │ rec │ rec │ rec │ ...free... │ rec │ PAD → wraps to 0                         │
 *         └─────────────────────────────────────────────────────────────────────────────┘
 * ```
 *
 * Positions (WRITE_POS, READ_POS) are byte counters that only grow, kept modulo 2^32 in an
 * Int32 slot; `pos & (capacity - 1)` is the offset in the data area. Capacity is at most
 * 2^30, so `(write - read) >>> 0` is always the number of bytes in flight. Both sides hold
 * positions as signed 32-bit values (`(pos + n) | 0`), which V8 keeps as small integers: as
 * unsigned (`>>> 0`) they became doubles past 2 GiB written, and the hot path was
 * deoptimised and ran slower from then on.
 *
 * Records are 8-byte aligned and never straddle the end of the data area: where one would,
 * the producer writes PAD_MARKER in the first word and starts again at offset 0.
 *
 * The two lines are 64 bytes apart so each side's stores stay on its own cache line.
 */
import { RECORD_HEADER_BYTES } from '../format/constants.js';

export const CONTROL_BYTES = 1024;
export const ERROR_AREA_OFFSET = 128;
export const METRICS_OFFSET = 512;
export const ERROR_AREA_BYTES = METRICS_OFFSET - ERROR_AREA_OFFSET;
export const METRICS_BYTES = CONTROL_BYTES - METRICS_OFFSET;

// Int32 indices, written by MAIN.
/** Bytes published to the writer (mod 2^32). The writer sleeps on this word. */
export const WRITE_POS = 0;
/** Count of `sync()` requests; the writer fdatasyncs and answers in SYNC_DONE. */
export const SYNC_REQUEST = 1;
/** Command bits (COMMAND_CLOSE). */
export const COMMAND = 2;
/** Count of `rotate()` requests; the writer answers in ROTATE_DONE. */
export const ROTATE_REQUEST = 3;
/** Count of `checkpoint()` requests; the LSN is in CHECKPOINT_TARGET. Answered in CHECKPOINT_DONE. */
export const CHECKPOINT_REQUEST = 6;

// Int32 indices, written by WRITER.
/** Bytes the writer has written out and given back to the producer (mod 2^32). */
export const READ_POS = 16;
/**
 * WRITER_RUNNING / WRITER_SLEEPING / WRITER_STOPPED. The one slot both sides write: the
 * producer may only compare-exchange SLEEPING to RUNNING, claiming the one notify a sleep needs.
 */
export const WRITER_STATE = 17;
/** Bumped after every change to the words below; the main thread waits on it. */
export const NOTIFY_SEQ = 18;
/** The SYNC_REQUEST value the last completed fdatasync answered. */
export const SYNC_DONE = 19;
/** ERROR_NONE, or ERROR_SET once the sticky error is in the error area. */
export const ERROR_STATE = 20;
/** Length in bytes of the JSON in the error area. */
export const ERROR_BYTES = 21;
/** The ROTATE_REQUEST value the writer last answered. */
export const ROTATE_DONE = 22;
/** The CHECKPOINT_REQUEST value the writer last answered (the checkpoint file is durable). */
export const CHECKPOINT_DONE = 23;

// BigInt64 indices (byte offset / 8), written by MAIN.
/** The LSN of the pending checkpoint request. */
export const CHECKPOINT_TARGET = 2; // byte 16 (Int32 slots 4 and 5)

// BigInt64 indices (byte offset / 8), written by WRITER.
/** Highest LSN written to the OS (survives a process crash). */
export const WRITTEN_LSN = 12; // byte 96
/** Highest LSN fdatasync'd (survives power loss). */
export const DURABLE_LSN = 13; // byte 104
/** The durable checkpoint: entries up to it are applied elsewhere. */
export const CHECKPOINT_LSN = 14; // byte 112
/** Bytes of data in the segment being written (its file may be longer: preallocated zeros). */
export const ACTIVE_SEGMENT_BYTES = 15; // byte 120

// Sentinels.
export const COMMAND_CLOSE = 1;
export const WRITER_RUNNING = 0;
export const WRITER_SLEEPING = 1;
export const WRITER_STOPPED = 2;
export const ERROR_NONE = 0;
export const ERROR_SET = 1;
/** First word of a record slot meaning "nothing more before the end of the data area". */
export const PAD_MARKER = -1;

export interface RingViews {
  readonly sab: SharedArrayBuffer;
  readonly control: Int32Array;
  readonly lsns: BigInt64Array;
  readonly errorArea: Uint8Array;
  readonly metrics: Float64Array;
  readonly capacity: number;
  readonly bytes: Uint8Array;
  readonly words: Int32Array;
  readonly doubles: Float64Array;
}

export function createRing(capacity: number): SharedArrayBuffer {
  if (capacity < 64 * 1024 || capacity > 2 ** 30 || (capacity & (capacity - 1)) !== 0) {
    throw new RangeError(`ring capacity must be a power of two from 64 KiB to 1 GiB, got ${capacity}`);
  }
  return new SharedArrayBuffer(CONTROL_BYTES + capacity);
}

export function ringViews(sab: SharedArrayBuffer): RingViews {
  const capacity = sab.byteLength - CONTROL_BYTES;
  return {
    sab,
    control: new Int32Array(sab, 0, CONTROL_BYTES / 4),
    lsns: new BigInt64Array(sab, 0, CONTROL_BYTES / 8),
    errorArea: new Uint8Array(sab, ERROR_AREA_OFFSET, ERROR_AREA_BYTES),
    metrics: new Float64Array(sab, METRICS_OFFSET, METRICS_BYTES / 8),
    capacity,
    bytes: new Uint8Array(sab, CONTROL_BYTES, capacity),
    words: new Int32Array(sab, CONTROL_BYTES, capacity / 4),
    doubles: new Float64Array(sab, CONTROL_BYTES, capacity / 8),
  };
}

/** Largest payload in one ring record: a quarter of the ring, so a record always fits eventually. */
export function maxFragmentPayload(capacity: number): number {
  return capacity / 4 - RECORD_HEADER_BYTES;
}
