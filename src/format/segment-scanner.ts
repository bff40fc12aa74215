/**
 * (~430 lines, one file: the walk and its search past damage share the read window and every
 * record check; apart, each would keep its own copy of both.)
 *
 * Walks one segment file record by record: checks the header, every CRC, the LSN sequence
 * and fragment order, reassembles fragmented entries, and says exactly where and why it
 * stopped. The walk is a generator that asks its driver for bytes, so the synchronous
 * driver (the writer's recovery, the replay workers) and the asynchronous one (readers)
 * share one parser. Entries are handed out in runs (src/format/entry-run.ts): a stretch of
 * whole, valid FULL records is taken by one tight loop, and everything else (fragments,
 * refills, damage) by the record-by-record path below.
 *
 * Where a walk meets bytes it cannot accept, it also looks at what lies after them (see
 * `Damage`): the recovery policy (src/reader/policy.ts) tells a torn tail from corruption
 * by it, and with `skipCorrupt` the walk resumes at the next valid record.
 */
import {
  RECORD_ALIGN,
  RECORD_HEADER_BYTES,
  RecordFlag,
  RecordType,
  SEGMENT_HEADER_BYTES,
} from './constants.js';
import { EntryRun, takeFullRecords } from './entry-run.js';
import { parseRecord } from './record.js';
import { decodeSegmentHeader, type SegmentHeader } from './segment-header.js';

export { EntryRun, type ScannedEntry } from './entry-run.js';

export interface ReadRequest {
  kind: 'read';
  position: number;
  length: number;
}

/** A region the walk skipped (`skipCorrupt`): handed to the driver as it happens. */
export interface SkippedRegion {
  kind: 'skip';
  damage: Damage;
}

export type ScanStop =
  /** The file ends exactly after a complete entry. */
  | 'eof'
  /** A zero header: never-written or preallocated space. */
  | 'zeros'
  /** The file ends inside a record or between an entry's fragments. */
  | 'incomplete'
  /** A record that fails its checks (`reason` says which). */
  | 'bad'
  /** The segment header itself is missing or invalid. */
  | 'bad-header';

/**
 * Bytes the walk could not accept, and what follows them. `[offset, end)` is the region:
 * from the first byte not accepted (the first fragment's offset, for an entry whose later
 * fragments are missing) to the next valid record, or to the end of the file.
 */
export interface Damage {
  offset: number;
  end: number;
  stop: Exclude<ScanStop, 'eof' | 'bad-header'>;
  reason: string;
  /** Offset of a valid record (`FULL` or `FIRST`, LSN above every entry before) after the damage; -1 if none. */
  next: number;
  /** LSN of the record at `next`; 0 if none. */
  nextLsn: number;
  /** LSN of the last complete entry before the damage. */
  lastLsnBefore: number;
  /** Every byte of the region is zero. */
  allZeros: boolean;
  /**
   * A valid record marked RecordFlag.SYNCED_BEFORE follows the damage: it was written after
   * an fdatasync that made the damaged bytes durable, so they are not an interrupted write.
   * (Not looked for when the walk resumes, `skipCorrupt`.)
   */
  syncedAfter: boolean;
}

export interface ScanResult {
  header: SegmentHeader | null;
  /** File offset just past the last complete entry. */
  validEnd: number;
  /** LSN of the last complete entry; the header's first LSN - 1 when there is none. */
  lastLsn: number;
  entries: number;
  stop: ScanStop;
  /** File offset where the walk stopped (the first byte not accepted). */
  stopOffset: number;
  reason?: string;
  fileSize: number;
  /** Where the walk stopped, unless at `eof` or a bad header. */
  damage: Damage | null;
  /** Regions skipped on the way (`skipCorrupt` only). */
  skipped: Damage[];
  /**
   * Offset of the last accepted record marked RecordFlag.SYNCED_BEFORE (everything before it
   * was durable when it was written); where the walk started if none was.
   */
  lastSyncMark: number;
}

/**
 * A walk's result as it crosses a thread (replay and range tasks) or reaches the segment walk:
 * the header reduced to the first LSN it names (null when it is invalid).
 */
export type ScanSummary = Omit<ScanResult, 'header'> & { firstLsn: number | null };

export function summarize(result: ScanResult): ScanSummary {
  const { header, ...rest } = result;
  return { ...rest, firstLsn: header?.firstLsn ?? null };
}

export interface ScanOptions {
  /**
   * The reader's own cap on a record or reassembled entry, on top of the bounds the segment
   * header records (whichever is smaller applies). Reads are also bounded by the file's size,
   * so a corrupt length field never drives an allocation past either.
   */
  maxEntryBytes: number;
  /** Bytes asked for per read. */
  chunkBytes?: number;
  /** Resume after damage at the next valid record instead of stopping (recovery mode `skip-corrupt`). */
  skipCorrupt?: boolean;
  /**
   * Hand out the entries (default). False for a walk that only verifies (`verify`, open's
   * scan): the same checks, reports and result, without recording entries or reassembling
   * fragments.
   */
  entries?: boolean;
  /**
   * Start at an entry boundary found by an earlier walk of the same segment (a reader that
   * splits a segment into byte ranges): the file offset of an entry and its LSN.
   */
  startAt?: { offset: number; lsn: number };
  /**
   * The first LSN the file's name gives. A header naming another is judged before any entry is
   * handed out: the walk stops there as at an invalid header (`bad-header`, with the header
   * kept in the result so the mismatch can be reported), since nothing in such a segment can
   * be trusted to be the entries its name promises (docs/FORMAT.md, "Reading").
   */
  nameFirstLsn?: number;
  /**
   * Search the rest of the file past where the entries stop (default), to tell a torn or
   * zero tail from damage with valid records after it. False for a follower at the live end of
   * a segment being written: what follows the last entry there is the writer's next bytes or
   * preallocated zeros, and searching them (the whole preallocation, at every wake-up) cost
   * more than everything else; the follower searches once, when the segment is sealed. The
   * result then has `damage.next` -1 and `allZeros` false: nothing is known past the stop.
   */
  searchPastStop?: boolean;
}

export function* scanSegment(
  fileSize: number,
  options: ScanOptions,
): Generator<EntryRun | ReadRequest | SkippedRegion, ScanResult, Uint8Array | undefined> {
  const chunkBytes = options.chunkBytes ?? 1024 * 1024;
  const result: ScanResult = {
    header: null,
    validEnd: 0,
    lastLsn: 0,
    entries: 0,
    stop: 'bad-header',
    stopOffset: 0,
    fileSize,
    damage: null,
    skipped: [],
    lastSyncMark: 0,
  };
  const headerBytes = yield { kind: 'read', position: 0, length: Math.min(SEGMENT_HEADER_BYTES, fileSize) };
  const header = decodeSegmentHeader(headerBytes ?? new Uint8Array(0));
  if ('invalid' in header) {
    result.reason = header.invalid;
    return result;
  }
  result.header = header;
  if (options.nameFirstLsn !== undefined && header.firstLsn !== options.nameFirstLsn) {
    result.reason = `the header says first LSN ${header.firstLsn}, the name says ${options.nameFirstLsn}`;
    return result;
  }
  const maxRecordBytes = Math.min(header.maxRecordBytes, options.maxEntryBytes);
  const maxEntryBytes = Math.min(header.maxEntryBytes, options.maxEntryBytes);
  const start = options.startAt ?? { offset: SEGMENT_HEADER_BYTES, lsn: header.firstLsn };
  result.lastLsn = start.lsn - 1;
  result.validEnd = start.offset;
  result.lastSyncMark = start.offset;

  const window = { buffer: new Uint8Array(0), start: 0 }; // window.buffer[0] is at file offset window.start
  let pos = start.offset;
  let expectedLsn = start.lsn;
  let fragments: Uint8Array[] | null = null;
  let fragmentBytes = 0;
  let fragmentOffset = 0;
  let ts = 0;
  // Entries accepted and not yet handed out. Handed out before every read (a read may reuse
  // the buffer their payloads are in), every skip, and the end of the walk.
  const run = new EntryRun();
  const deliver = options.entries !== false;

  while (true) {
    if (!fragments && pos >= window.start) {
      const fast = takeFullRecords(
        window.buffer,
        pos - window.start,
        window.buffer.length,
        expectedLsn,
        maxRecordBytes,
        deliver ? run : null,
        window.start,
      );
      if (fast.count > 0) {
        if (fast.lastSyncMark >= 0) result.lastSyncMark = window.start + fast.lastSyncMark;
        pos = window.start + fast.next;
        expectedLsn += fast.count;
        result.entries += fast.count;
        result.lastLsn = expectedLsn - 1;
        result.validEnd = pos;
      }
      if (run.full) {
        yield run;
        run.clear();
        continue;
      }
    }
    let damage: { stop: Damage['stop']; reason: string; past?: number } | null = null;
    if (pos >= fileSize) {
      if (!fragments) {
        if (run.count > 0) yield run;
        result.stop = 'eof';
        result.stopOffset = pos;
        return result;
      }
      damage = { stop: 'incomplete', reason: 'the file ends between the fragments of an entry' };
    }
    let parsed = damage
      ? null
      : parseRecord(window.buffer, pos - window.start, window.buffer.length, maxRecordBytes);
    // Refill until the record is whole or the file ends. Twice at most: a record with less
    // than its header in the window first says it needs a header's worth; only then is its
    // length known, and it may exceed a chunk (records reach maxRecordBytes: a quarter of
    // the ring). Stopping after one refill took such a record for one the file cut short.
    while (
      parsed &&
      (parsed.kind === 'incomplete' ||
        (parsed.kind === 'zeros' && window.buffer.length - (pos - window.start) < RECORD_HEADER_BYTES)) &&
      window.start + window.buffer.length < fileSize
    ) {
      const wanted = parsed.kind === 'incomplete' ? parsed.needed : RECORD_HEADER_BYTES;
      const inWindow = window.start + window.buffer.length - pos;
      if (window.start === pos && inWindow >= wanted) break; // nothing more to learn
      const length = Math.min(Math.max(chunkBytes, wanted), fileSize - pos);
      if (run.count > 0) {
        yield run;
        run.clear();
      }
      fileSize = yield* readWindow(window, pos, length, fileSize, result);
      parsed = parseRecord(window.buffer, 0, window.buffer.length, maxRecordBytes);
    }
    if (parsed) {
      if (parsed.kind === 'incomplete')
        damage = { stop: 'incomplete', reason: 'the file ends inside a record' };
      else if (parsed.kind === 'zeros')
        damage = fragments
          ? { stop: 'incomplete', reason: 'zeros between the fragments of an entry' }
          : { stop: 'zeros', reason: 'zeros after the last entry' };
      else if (parsed.kind === 'bad') damage = { stop: 'bad', reason: parsed.reason };
      else if (parsed.type === RecordType.FULL || parsed.type === RecordType.FIRST) {
        if (fragments)
          damage = {
            stop: 'bad',
            reason: `a new entry starts before the fragments of LSN ${expectedLsn} ended`,
          };
        else if (parsed.lsn !== expectedLsn)
          damage = {
            stop: 'bad',
            reason: `LSN out of sequence: expected ${expectedLsn}, found ${parsed.lsn}`,
          };
      } else if (!fragments || parsed.lsn !== expectedLsn) {
        damage = { stop: 'bad', reason: `fragment of LSN ${parsed.lsn} without its first fragment` };
      }
      if (
        !damage &&
        parsed.kind === 'record' &&
        parsed.type !== RecordType.FULL &&
        (parsed.type === RecordType.FIRST ? 0 : fragmentBytes) + parsed.length > maxEntryBytes
      ) {
        // A valid record the walk cannot take: the search starts after it, not at it.
        damage = {
          stop: 'bad',
          reason: `fragmented entry exceeds ${maxEntryBytes} bytes`,
          past: parsed.size,
        };
      }
    }

    if (damage || !parsed || parsed.kind !== 'record') {
      if (run.count > 0) {
        yield run;
        run.clear();
      }
      // The record at `pos` itself may be where the walk resumes: a valid one out of
      // sequence (entries missing before it) or one that cuts short an entry's fragments.
      const found =
        options.searchPastStop === false
          ? { next: -1, nextLsn: 0, allZeros: false, syncedAfter: false, fileSize }
          : yield* findNextRecord(
              window,
              pos + (damage?.past ?? 0),
              fileSize,
              result.lastLsn,
              maxRecordBytes,
              chunkBytes,
              options.skipCorrupt === true,
              result,
            );
      fileSize = found.fileSize;
      const region: Damage = {
        offset: fragments ? fragmentOffset : pos,
        end: found.next >= 0 ? found.next : fileSize,
        stop: damage!.stop,
        reason: damage!.reason,
        next: found.next,
        nextLsn: found.nextLsn,
        lastLsnBefore: result.lastLsn,
        allZeros: !fragments && found.allZeros,
        syncedAfter: found.syncedAfter,
      };
      if (options.skipCorrupt && found.next >= 0) {
        result.skipped.push(region);
        yield { kind: 'skip', damage: region };
        fragments = null;
        pos = found.next;
        expectedLsn = found.nextLsn;
        continue;
      }
      result.damage = region;
      result.stop = region.stop;
      result.stopOffset = region.offset;
      result.reason = region.reason;
      return result;
    }

    const { type, lsn } = parsed;
    if (parsed.flags & RecordFlag.SYNCED_BEFORE) result.lastSyncMark = pos;
    const payloadStart = pos - window.start + RECORD_HEADER_BYTES;
    const payloadEnd = payloadStart + parsed.length;
    if (type === RecordType.FULL) {
      // A FULL record reached here only after a refill; a full run is handed out at the top.
      if (deliver) run.push(window.buffer, payloadStart, payloadEnd, lsn, parsed.ts, pos, pos + parsed.size);
    } else {
      if (type === RecordType.FIRST) {
        fragments = [];
        fragmentBytes = 0;
        fragmentOffset = pos;
        ts = parsed.ts;
      }
      fragmentBytes += parsed.length;
      if (deliver) fragments!.push(window.buffer.slice(payloadStart, payloadEnd));
      if (type === RecordType.LAST && !deliver) fragments = null;
      else if (type === RecordType.LAST) {
        const whole = concat(fragments!, fragmentBytes);
        fragments = null;
        // A run holds payloads of one buffer: the entries before go first, this one alone.
        if (run.count > 0) yield run;
        run.clear();
        run.push(whole, 0, whole.length, lsn, ts, fragmentOffset, pos + parsed.size);
        yield run;
        run.clear();
      }
    }
    pos += parsed.size;
    if (!fragments) {
      expectedLsn++;
      result.entries++;
      result.lastLsn = lsn;
      result.validEnd = pos;
    }
  }
}

/** Reads `[position, position + length)` into the window; returns the file size (smaller if the file shrank). */
function* readWindow(
  window: { buffer: Uint8Array; start: number },
  position: number,
  length: number,
  fileSize: number,
  result: ScanResult,
): Generator<ReadRequest, number, Uint8Array | undefined> {
  window.buffer = (yield { kind: 'read', position, length }) ?? new Uint8Array(0);
  window.start = position;
  if (window.buffer.length < length) {
    fileSize = position + window.buffer.length; // the file shrank under us
    result.fileSize = fileSize;
  }
  return fileSize;
}

/**
 * Looks past damage at `from` for the next valid record a walk could resume at: at every
 * aligned offset, a complete record passing every check, `FULL` or `FIRST`, with an LSN
 * above `lastLsn`. Unless it is to resume there (`stopAtNext`), it goes on to the end of the
 * file for a valid record marked RecordFlag.SYNCED_BEFORE, which proves the damage lies in
 * synced data. Notes on the way whether the bytes before the next record are all zeros.
 * Reads at most `chunkBytes + maxRecordBytes` at a time and each byte a bounded number of
 * times, however the bytes are damaged.
 */
function* findNextRecord(
  window: { buffer: Uint8Array; start: number },
  from: number,
  fileSize: number,
  lastLsn: number,
  maxRecordBytes: number,
  chunkBytes: number,
  stopAtNext: boolean,
  result: ScanResult,
): Generator<
  ReadRequest,
  { next: number; nextLsn: number; allZeros: boolean; syncedAfter: boolean; fileSize: number },
  Uint8Array | undefined
> {
  let allZeros = true;
  let next = -1;
  let nextLsn = 0;
  let syncedAfter = false;
  const span = chunkBytes + maxRecordBytes + RECORD_HEADER_BYTES;
  let c = from;
  while (c < fileSize) {
    const windowEnd = window.start + window.buffer.length;
    if ((c < window.start || c + RECORD_ALIGN > windowEnd) && windowEnd < fileSize) {
      fileSize = yield* readWindow(window, c, Math.min(span, fileSize - c), fileSize, result);
      if (c >= fileSize) break;
    }
    let record = parseRecord(window.buffer, c - window.start, window.buffer.length, maxRecordBytes);
    if (record.kind === 'incomplete' && window.start + window.buffer.length < fileSize) {
      fileSize = yield* readWindow(window, c, Math.min(span, fileSize - c), fileSize, result);
      record = parseRecord(window.buffer, 0, window.buffer.length, maxRecordBytes);
    }
    if (record.kind === 'record' && record.lsn > lastLsn) {
      if (next < 0 && (record.type === RecordType.FULL || record.type === RecordType.FIRST)) {
        next = c;
        nextLsn = record.lsn;
        if (stopAtNext) break;
      } else if (next < 0) {
        // The rest of an entry (MIDDLE, LAST) is data, not zeros: stepped over unread, it
        // made a hole of zeros before it look like preallocated space ('clean', no report).
        allZeros = false;
      }
      if (record.flags & RecordFlag.SYNCED_BEFORE) {
        syncedAfter = true;
        if (next >= 0) break;
      }
      c += record.size; // past a valid record: no record starts inside it
      continue;
    }
    if (next < 0 && allZeros) {
      const at = c - window.start;
      const end = Math.min(at + RECORD_ALIGN, window.buffer.length);
      for (let i = at; i < end; i++) {
        if (window.buffer[i] !== 0) {
          allZeros = false;
          break;
        }
      }
    }
    c += RECORD_ALIGN;
  }
  return { next, nextLsn, allZeros, syncedAfter, fileSize };
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
