/**
 * The machine's ceilings for recovery, measured on the log being recovered (bench/recovery.ts
 * prints each phase against them):
 *
 * - **plain read**: every segment file read front to back with `readSync` into one reused
 *   1 MiB buffer, nothing else done with the bytes (MB/s). No reader can beat the I/O.
 * - **unpack**: msgpackr's `unpack` (the same `Unpackr({ useRecords: false })` settings as
 *   src/encoding.ts) of every record's payload, from memory (entries/s). Each segment is
 *   first read whole and its records located by their length fields (not timed); then only
 *   the decoding is timed, one `unpack(bytes, { start, end })` call per entry on the file's
 *   own bytes: no allocation but the decoded value, the cheapest way to call it per entry.
 *   Any reader that hands out decoded entries does this work.
 */
import * as fs from 'node:fs';
import { Unpackr } from 'msgpackr';
import {
  RECORD_HEADER_BYTES,
  RecordType,
  recordBytes,
  SEGMENT_HEADER_BYTES,
} from '../src/format/constants.js';
import { nodeFs } from '../src/fs.js';
import { listSegments } from '../src/segment/naming.js';

export interface Ceilings {
  /** Plain sequential read of the segment files. */
  readMbPerS: number;
  readSeconds: number;
  /** msgpackr unpack of every entry from memory. */
  unpackEntriesPerS: number;
  unpackSeconds: number;
  entries: number;
  bytes: number;
}

const READ_CHUNK = 1024 * 1024;

function plainRead(paths: string[]): { seconds: number; bytes: number } {
  const buffer = Buffer.allocUnsafe(READ_CHUNK);
  let bytes = 0;
  const t0 = performance.now();
  for (const path of paths) {
    const fd = fs.openSync(path, 'r');
    try {
      while (true) {
        const n = fs.readSync(fd, buffer, 0, READ_CHUNK, null);
        if (n === 0) break;
        bytes += n;
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  return { seconds: (performance.now() - t0) / 1000, bytes };
}

/** The payload ranges of a segment's FULL records (the bench log has no fragments), walked by length. */
function locate(bytes: Uint8Array, size: number, starts: number[], ends: number[]): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, size);
  let at = SEGMENT_HEADER_BYTES;
  while (at + RECORD_HEADER_BYTES <= size) {
    const length = view.getUint32(at + 4, true);
    const type = bytes[at + 14];
    if (type === 0) break; // zeros: preallocated space
    if (type === RecordType.FULL) {
      starts.push(at + RECORD_HEADER_BYTES);
      ends.push(at + RECORD_HEADER_BYTES + length);
    }
    at += recordBytes(length);
  }
}

function unpackAll(paths: string[]): { seconds: number; entries: number } {
  const unpackr = new Unpackr({ useRecords: false });
  let buffer = Buffer.allocUnsafe(0);
  let seconds = 0;
  let entries = 0;
  let sink = 0;
  const range = { start: 0, end: 0 };
  for (const path of paths) {
    const size = fs.statSync(path).size;
    if (buffer.length < size) buffer = Buffer.allocUnsafe(size);
    const fd = fs.openSync(path, 'r');
    try {
      let got = 0;
      while (got < size) {
        const n = fs.readSync(fd, buffer, got, size - got, got);
        if (n === 0) break;
        got += n;
      }
    } finally {
      fs.closeSync(fd);
    }
    const starts: number[] = [];
    const ends: number[] = [];
    locate(buffer, size, starts, ends);
    const t0 = performance.now();
    for (let k = 0; k < starts.length; k++) {
      range.start = starts[k];
      range.end = ends[k];
      if (unpackr.unpack(buffer, range) === undefined) sink++;
    }
    seconds += (performance.now() - t0) / 1000;
    entries += starts.length;
  }
  if (sink < 0) console.log(sink); // keeps the results observable
  return { seconds, entries };
}

export function measureCeilings(dir: string): Ceilings {
  const paths = listSegments(nodeFs, dir).map((s) => s.path);
  const read = plainRead(paths);
  const unpack = unpackAll(paths);
  return {
    readMbPerS: read.bytes / 1024 / 1024 / read.seconds,
    readSeconds: read.seconds,
    unpackEntriesPerS: unpack.entries / unpack.seconds,
    unpackSeconds: unpack.seconds,
    entries: unpack.entries,
    bytes: read.bytes,
  };
}
