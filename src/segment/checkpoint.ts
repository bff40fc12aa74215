/**
 * The CHECKPOINT file: the LSN up to which the log's entries are applied elsewhere, so that
 * retention may delete them (docs/FORMAT.md, "Checkpoint file"). Written crash-safely by the
 * writer thread: temporary file, fsync, rename, directory fsync.
 *
 *   0  u32  magic "RWCK"
 *   4  u16  version (1)
 *   6  u16  reserved (0)
 *   8  f64  checkpoint LSN
 *  16  u32  CRC32C of bytes [0, 16)
 *  20  u32  reserved (0)
 */

import { corruptError } from '../errors.js';
import { crc32c } from '../format/crc32c.js';
import { type FileSystem, syncDirectory, writeFileSynced } from '../fs.js';
import { readAt } from './scan-file.js';

export const CHECKPOINT_FILE = 'CHECKPOINT';
const MAGIC = 0x4b435752; // "RWCK" little-endian
const BYTES = 24;

export function encodeCheckpoint(lsn: number): Uint8Array {
  const bytes = new Uint8Array(BYTES);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint16(4, 1, true);
  view.setFloat64(8, lsn, true);
  view.setUint32(16, crc32c(bytes, 0, 16), true);
  return bytes;
}

export function decodeCheckpoint(bytes: Uint8Array): number | { invalid: string } {
  if (bytes.length !== BYTES) return { invalid: `${bytes.length} bytes, expected ${BYTES}` };
  const view = new DataView(bytes.buffer, bytes.byteOffset, BYTES);
  if (view.getUint32(0, true) !== MAGIC) return { invalid: 'bad magic' };
  if (view.getUint32(16, true) !== crc32c(bytes, 0, 16)) return { invalid: 'checksum mismatch' };
  if (view.getUint16(4, true) !== 1) return { invalid: `unsupported version ${view.getUint16(4, true)}` };
  const lsn = view.getFloat64(8, true);
  if (!Number.isSafeInteger(lsn) || lsn < 0) return { invalid: `bad LSN ${lsn}` };
  return lsn;
}

/** The durable checkpoint LSN of `dir`; 0 when there is none. A damaged file is WAL_CORRUPT. */
export function readCheckpoint(fsys: FileSystem, dir: string): number {
  const path = `${dir}/${CHECKPOINT_FILE}`;
  if (!fsys.existsSync(path)) return 0;
  const fd = fsys.openSync(path, 'r');
  let bytes: Uint8Array;
  try {
    bytes = readAt(fsys, fd, 0, BYTES + 1);
  } finally {
    fsys.closeSync(fd);
  }
  const lsn = decodeCheckpoint(bytes);
  if (typeof lsn !== 'number') {
    throw corruptError(path, 0, lsn.invalid);
  }
  return lsn;
}

/** Replaces the checkpoint crash-safely; once this returns, the new LSN survives a power cut. */
export function writeCheckpoint(fsys: FileSystem, dir: string, lsn: number): void {
  const path = `${dir}/${CHECKPOINT_FILE}`;
  const draft = `${path}.tmp`;
  writeFileSynced(fsys, draft, encodeCheckpoint(lsn), 'w');
  fsys.renameSync(draft, path);
  syncDirectory(fsys, dir);
}
