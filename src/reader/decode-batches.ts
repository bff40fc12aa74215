/**
 * Encoded entries made into the batches of decoded entries both readers hand out: the runs
 * the sequential reader's walk yields (each value in place in a read buffer), and the ranges
 * the parallel reader's tasks return (values back to back in one transferred buffer,
 * src/reader/read-range.ts).
 *
 * A run's values are decoded in place, one msgpackr call each on the read buffer itself
 * (msgpackr keeps one DataView per buffer, so no view or DataView is made per entry). Packing
 * them back to back first for one `unpackMultiple` call per batch was measured no faster on
 * the bench log's records (docs/BENCHMARKS.md "Session 8"); a range's values are back to back
 * already and are decoded that way.
 */
import { decodeBackToBack, decodeStored, decodeStoredAt } from '../encoding.js';
import type { EntryRun } from '../format/entry-run.js';
import type { WalEntry } from './types.js';

/** Entries decoded per msgpackr call and handed over per batch: what one batch holds decoded. */
export const BATCH_ENTRIES = 1024;

/** Entries whose values are back to back: entry k's value is `payloads[ends[k - 1] ?? 0, ends[k])`. */
export interface PackedEntries {
  count: number;
  payloads: Uint8Array;
  ends: Uint32Array;
  lsns: ArrayLike<number>;
  ts: ArrayLike<number>;
  /** File offset of each entry, for error messages. */
  offsets: ArrayLike<number>;
}

/**
 * The entries with LSN `fromLsn` or above, decoded, in batches of at most BATCH_ENTRIES (each
 * the caller's to keep). An entry that does not decode is WAL_CORRUPT naming its file and
 * offset, thrown after every entry before it was handed out.
 */
export function* decodePackedInBatches(
  packed: PackedEntries,
  path: string,
  fromLsn: number,
): Generator<WalEntry[]> {
  const { count, payloads, ends, lsns, ts, offsets } = packed;
  const values: unknown[] = [];
  for (let first = 0; first < count; first += BATCH_ENTRIES) {
    const last = Math.min(count, first + BATCH_ENTRIES);
    const base = first === 0 ? 0 : ends[first - 1];
    const batch: WalEntry[] = [];
    let decoded = decodeBackToBack(
      payloads.subarray(base, ends[last - 1]),
      ends.subarray(first, last),
      base,
      values,
    );
    for (let k = first; k < last; k++) {
      if (k - first >= decoded) {
        // Not decodable in one run from here (rare: a forged record): one by one, each with its
        // own error if it has one.
        try {
          values[k - first] = decodeStored(
            payloads.subarray(k === 0 ? 0 : ends[k - 1], ends[k]),
            path,
            offsets[k],
          );
        } catch (error) {
          if (batch.length > 0) yield batch; // every entry before the bad one is delivered
          throw error;
        }
        decoded = k - first + 1;
      }
      if (lsns[k] >= fromLsn) batch.push({ lsn: lsns[k], ts: ts[k], value: values[k - first] });
    }
    values.length = 0;
    if (batch.length > 0) yield batch;
  }
}

/** As decodePackedInBatches, for a run of the walk (valid only until the walk goes on: consume the batches first). */
export function* decodeRunInBatches(run: EntryRun, path: string, fromLsn: number): Generator<WalEntry[]> {
  let batch: WalEntry[] = [];
  for (let k = 0; k < run.count; k++) {
    const lsn = run.lsns[k];
    if (lsn < fromLsn) continue;
    let value: unknown;
    try {
      value = decodeStoredAt(run.bytes, run.starts[k], run.ends[k], path, run.offsets[k]);
    } catch (error) {
      if (batch.length > 0) yield batch; // every entry before the bad one is delivered
      throw error;
    }
    batch.push({ lsn, ts: run.ts[k], value });
    if (batch.length === BATCH_ENTRIES) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}
