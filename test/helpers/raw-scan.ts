/**
 * An independent reader for judging crash images: every entry from the first segment up to
 * the first byte that does not parse, using only the pure format modules (record and header
 * parsing, msgpack decoding), none of the reader's or recovery's policy. When open refuses a
 * directory, this says whether the acknowledged entries are still all there (the refusal
 * loses availability, not data) or not.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decode } from '../../src/encoding.js';
import { RecordType, SEGMENT_HEADER_BYTES } from '../../src/format/constants.js';
import { parseRecord } from '../../src/format/record.js';
import { decodeSegmentHeader } from '../../src/format/segment-header.js';
import { parseSegmentName } from '../../src/segment/naming.js';

export interface RawEntry {
  lsn: number;
  value: unknown;
}

/** Entries in LSN order up to the first damage, gap or unreadable segment. */
export function intactPrefix(dir: string): RawEntry[] {
  const segments = fs
    .readdirSync(dir)
    .map((name) => ({ name, parsed: parseSegmentName(name) }))
    .filter((s) => s.parsed !== null)
    .sort((a, b) => a.parsed!.firstLsn - b.parsed!.firstLsn);
  const out: RawEntry[] = [];
  for (const { name } of segments) {
    const bytes = new Uint8Array(fs.readFileSync(path.join(dir, name)));
    const header = decodeSegmentHeader(bytes.subarray(0, SEGMENT_HEADER_BYTES));
    if ('invalid' in header) return out;
    if (out.length > 0 && header.firstLsn !== out[out.length - 1].lsn + 1) return out;
    let at = SEGMENT_HEADER_BYTES;
    let parts: Uint8Array[] = [];
    let expect = header.firstLsn;
    while (at < bytes.length) {
      const r = parseRecord(bytes, at, bytes.length, header.maxRecordBytes);
      if (r.kind !== 'record' || r.lsn !== expect) break;
      const payload = bytes.subarray(r.payloadStart, r.payloadStart + r.length);
      at += r.size;
      if (r.type === RecordType.FULL || r.type === RecordType.FIRST) parts = [];
      parts.push(payload);
      if (r.type === RecordType.FULL || r.type === RecordType.LAST) {
        out.push({ lsn: r.lsn, value: decode(Buffer.concat(parts)) });
        parts = [];
        expect++;
      }
    }
    if (at < bytes.length && segments[segments.length - 1].name !== name) return out; // damage before the tail
  }
  return out;
}
