/**
 * What a shipped message holds (docs/JETSTREAM.md "Messages"): one entry, its MessagePack
 * bytes as the data; or, with `entriesPerMessage` above 1, a run of consecutive entries packed
 * into one message. `shippedEntries` reads both back, so a consumer needs no other decoder.
 *
 * A packed message's data is, for each entry in LSN order:
 *
 *   u32 LE  length of the entry's bytes
 *   f64 LE  ts (ms since the Unix epoch, when the writer took the entry)
 *   bytes   the entry's MessagePack bytes, as stored in the log
 *
 * and its headers say where the run starts (`Ringwal-Lsn`) and how long it is
 * (`Ringwal-Entries`): LSNs are consecutive, so they are not repeated per entry.
 */
import { ErrorCode, WalError } from '../errors.js';
import type { RawEntry } from '../reader/types.js';

export const HEADER_LOG = 'Ringwal-Log';
/** The LSN of the message's (first) entry. */
export const HEADER_LSN = 'Ringwal-Lsn';
/** When the writer took the message's (first) entry, ms since the Unix epoch. */
export const HEADER_TS = 'Ringwal-Ts';
/** How many entries a packed message holds; absent on a message of one entry. */
export const HEADER_ENTRIES = 'Ringwal-Entries';

/** Bytes in front of each entry of a packed message. */
export const PACKED_ENTRY_HEADER_BYTES = 12;

/**
 * The message id of entries `firstLsn..lastLsn` of log `logId`, what the stream's duplicate
 * window matches: `<logId>:<lsn>` for one entry, `<logId>:<first>-<last>` for a packed run.
 * The id names the whole run, so a replay of the same run is a duplicate and a different run
 * from the same LSN (cut elsewhere after a restart) is not mistaken for one.
 */
export function messageId(logId: string, firstLsn: number, lastLsn = firstLsn): string {
  return lastLsn === firstLsn ? `${logId}:${firstLsn}` : `${logId}:${firstLsn}-${lastLsn}`;
}

/** Bytes a packed message of these entries takes. */
export function packedBytes(entries: readonly RawEntry[], from: number, to: number): number {
  let bytes = 0;
  for (let i = from; i < to; i++) bytes += PACKED_ENTRY_HEADER_BYTES + entries[i].bytes.length;
  return bytes;
}

/** Packs `entries[from..to)` (consecutive LSNs) into one message's data. */
export function packEntries(
  entries: readonly RawEntry[],
  from: number,
  to: number,
  bytes: number,
): Uint8Array {
  const out = new Uint8Array(bytes);
  const view = new DataView(out.buffer);
  let at = 0;
  for (let i = from; i < to; i++) {
    const entry = entries[i];
    view.setUint32(at, entry.bytes.length, true);
    view.setFloat64(at + 4, entry.ts, true);
    out.set(entry.bytes, at + PACKED_ENTRY_HEADER_BYTES);
    at += PACKED_ENTRY_HEADER_BYTES + entry.bytes.length;
  }
  return out;
}

/** An entry read back from a shipped message. */
export interface ShippedEntry {
  lsn: number;
  ts: number;
  /** The entry's MessagePack bytes (decode with msgpackr's `unpack`). */
  bytes: Uint8Array;
}

/** What `shippedEntries` needs of a message: a JetStream message or a stored one both have it. */
export interface ShippedMessage {
  headers?: { get(name: string): string } | undefined;
  data: Uint8Array;
}

/**
 * The entries a shipped message holds, in LSN order: one for a message of one entry, the whole
 * run for a packed one. A message that is not a ringwal message, or whose packed data does not
 * match its headers, is WAL_CORRUPT.
 */
export function shippedEntries(message: ShippedMessage): ShippedEntry[] {
  const h = message.headers;
  const lsn = Number(h?.get(HEADER_LSN) || Number.NaN);
  if (!Number.isSafeInteger(lsn) || lsn < 1) throw notRingwal(`no valid ${HEADER_LSN} header`);
  const countHeader = h?.get(HEADER_ENTRIES) ?? '';
  if (countHeader === '') return [{ lsn, ts: Number(h?.get(HEADER_TS)), bytes: message.data }];
  const count = Number(countHeader);
  if (!Number.isSafeInteger(count) || count < 1) throw notRingwal(`${HEADER_ENTRIES}: ${countHeader}`);
  const data = message.data;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out: ShippedEntry[] = [];
  let at = 0;
  while (at < data.length) {
    if (data.length - at < PACKED_ENTRY_HEADER_BYTES) break;
    const length = view.getUint32(at, true);
    const start = at + PACKED_ENTRY_HEADER_BYTES;
    if (length > data.length - start) break;
    out.push({
      lsn: lsn + out.length,
      ts: view.getFloat64(at + 4, true),
      bytes: data.subarray(start, start + length),
    });
    at = start + length;
  }
  if (at !== data.length || out.length !== count) {
    throw notRingwal(
      `packed data of ${data.length} bytes holds ${out.length} whole entries, the headers say ${count}`,
    );
  }
  return out;
}

function notRingwal(why: string): WalError {
  return new WalError(ErrorCode.CORRUPT, `shippedEntries: not a ringwal message (${why})`);
}
