/**
 * Walks one segment file record by record: checks the header, every CRC, the LSN sequence
 * and fragment order, reassembles fragmented entries, and says exactly where and why it
 * stopped. The walk is a generator that asks its driver for bytes, so the synchronous
 * driver (the writer's recovery) and the asynchronous one (readers) share one parser.
 */
import { RECORD_HEADER_BYTES, RecordType, SEGMENT_HEADER_BYTES } from '../format/constants.js';
import { parseRecord } from '../format/record.js';
import { decodeSegmentHeader, type SegmentHeader } from '../format/segment-header.js';

export interface ScannedEntry {
  kind: 'entry';
  lsn: number;
  ts: number;
  /** The encoded value. Valid only until the scan continues (it may view a reused buffer). */
  payload: Uint8Array;
  /** File offset of the entry's first record. */
  offset: number;
}

export interface ReadRequest {
  kind: 'read';
  position: number;
  length: number;
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
}

export function* scanSegment(
  fileSize: number,
  options: ScanOptions,
): Generator<ScannedEntry | ReadRequest, ScanResult, Uint8Array | undefined> {
  const chunkBytes = options.chunkBytes ?? 1024 * 1024;
  const result: ScanResult = {
    header: null,
    validEnd: 0,
    lastLsn: 0,
    entries: 0,
    stop: 'bad-header',
    stopOffset: 0,
    fileSize,
  };
  const headerBytes = yield { kind: 'read', position: 0, length: Math.min(SEGMENT_HEADER_BYTES, fileSize) };
  const header = decodeSegmentHeader(headerBytes ?? new Uint8Array(0));
  if ('invalid' in header) {
    result.reason = header.invalid;
    return result;
  }
  result.header = header;
  const maxRecordBytes = Math.min(header.maxRecordBytes, options.maxEntryBytes);
  const maxEntryBytes = Math.min(header.maxEntryBytes, options.maxEntryBytes);
  result.lastLsn = header.firstLsn - 1;
  result.validEnd = SEGMENT_HEADER_BYTES;

  let buffer: Uint8Array = new Uint8Array(0);
  let bufferStart = 0; // file offset of buffer[0]
  let pos = SEGMENT_HEADER_BYTES;
  let expectedLsn = header.firstLsn;
  let fragments: Uint8Array[] | null = null;
  let fragmentBytes = 0;
  let fragmentOffset = 0;
  let ts = 0;

  const stop = (kind: ScanStop, reason?: string): ScanResult => {
    result.stop = kind;
    result.stopOffset = fragments ? fragmentOffset : pos;
    if (reason !== undefined) result.reason = reason;
    return result;
  };

  while (true) {
    if (pos >= fileSize) return stop(fragments ? 'incomplete' : 'eof');
    let at = pos - bufferStart;
    let parsed = parseRecord(buffer, at, buffer.length, maxRecordBytes);
    if (
      parsed.kind === 'incomplete' ||
      (parsed.kind === 'zeros' && buffer.length - at < RECORD_HEADER_BYTES)
    ) {
      const bufferEnd = bufferStart + buffer.length;
      const wanted = parsed.kind === 'incomplete' ? parsed.needed : RECORD_HEADER_BYTES;
      if (bufferEnd < fileSize && buffer.length - at < wanted) {
        const length = Math.min(Math.max(chunkBytes, wanted), fileSize - pos);
        buffer = (yield { kind: 'read', position: pos, length }) ?? new Uint8Array(0);
        if (buffer.length < length) fileSize = pos + buffer.length; // the file shrank under us
        bufferStart = pos;
        at = 0;
        parsed = parseRecord(buffer, 0, buffer.length, maxRecordBytes);
      }
    }
    if (parsed.kind === 'incomplete') return stop('incomplete', 'file ends inside a record');
    if (parsed.kind === 'zeros') return stop(fragments ? 'incomplete' : 'zeros');
    if (parsed.kind === 'bad') return stop('bad', parsed.reason);

    const { type, lsn } = parsed;
    const payload = buffer.subarray(parsed.payloadStart, parsed.payloadStart + parsed.length);
    if (type === RecordType.FULL || type === RecordType.FIRST) {
      if (fragments)
        return stop('bad', `a new entry starts before the fragments of LSN ${expectedLsn} ended`);
      if (lsn !== expectedLsn)
        return stop('bad', `LSN out of sequence: expected ${expectedLsn}, found ${lsn}`);
    } else if (!fragments || lsn !== expectedLsn) {
      return stop('bad', `fragment of LSN ${lsn} without its first fragment`);
    }
    if (type === RecordType.FULL) {
      yield { kind: 'entry', lsn, ts: parsed.ts, payload, offset: pos };
    } else {
      if (type === RecordType.FIRST) {
        fragments = [];
        fragmentBytes = 0;
        fragmentOffset = pos;
        ts = parsed.ts;
      }
      fragmentBytes += payload.length;
      if (fragmentBytes > maxEntryBytes)
        return stop('bad', `fragmented entry exceeds ${maxEntryBytes} bytes`);
      fragments!.push(payload.slice());
      if (type === RecordType.LAST) {
        const whole = concat(fragments!, fragmentBytes);
        const offset = fragmentOffset;
        fragments = null;
        yield { kind: 'entry', lsn, ts, payload: whole, offset };
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

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
