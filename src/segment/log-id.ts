/**
 * The log's identity: a random UUID written once, when a log is first opened, in the file
 * LOG_ID next to its segments. It names the log where its entries travel beyond this machine
 * (the shipper's message ids, `ringwal/jetstream`), so two logs that both have an LSN 7 are
 * never taken for one another. Written like the checkpoint: a synced draft renamed into place
 * and the directory synced, so the identity survives a power cut before any entry does.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import { corruptError, ioFailure } from '../errors.js';
import { type FileSystem, syncDirectory, writeFileSynced } from '../fs.js';
import { readAt } from './scan-file.js';

export const LOG_ID_FILE = 'LOG_ID';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A UUID and its newline. */
const BYTES = 37;

function parse(bytes: Uint8Array, path: string): string {
  const text = new TextDecoder().decode(bytes);
  const id = text.endsWith('\n') ? text.slice(0, -1) : text;
  if (bytes.length !== BYTES || !UUID.test(id)) throw corruptError(path, 0, 'LOG_ID does not hold a UUID');
  return id;
}

/** The writer, on open: the log's identity, created durably if the log has none yet. */
export function ensureLogId(fsys: FileSystem, dir: string): string {
  const path = `${dir}/${LOG_ID_FILE}`;
  if (fsys.existsSync(path)) {
    const fd = fsys.openSync(path, 'r');
    try {
      return parse(readAt(fsys, fd, 0, BYTES + 1), path);
    } finally {
      fsys.closeSync(fd);
    }
  }
  const id = randomUUID();
  const draft = `${path}.tmp`;
  writeFileSynced(fsys, draft, new TextEncoder().encode(`${id}\n`), 'w');
  fsys.renameSync(draft, path);
  syncDirectory(fsys, dir);
  return id;
}

/** The identity of the log in `dir`, as its writer recorded it (for readers in other processes). */
export async function readLogId(dir: string): Promise<string> {
  const path = `${dir}/${LOG_ID_FILE}`;
  let bytes: Uint8Array;
  try {
    bytes = await fs.promises.readFile(path);
  } catch (cause) {
    throw ioFailure(
      `cannot read the identity of the log in ${dir} (it is written when the log is first opened)`,
      path,
      cause,
    );
  }
  return parse(bytes, path);
}
