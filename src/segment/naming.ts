/**
 * Segment file names: `wal-<first LSN, 16 digits>-<UTC creation time>.log`, for example
 * `wal-0000000000000001-20261125-074321-123.log`. Names sort in LSN order as plain strings;
 * the first LSN makes them unique however fast segments rotate (a segment is only started
 * for an LSN no other segment starts with), and the time keeps them readable by a person.
 */
import type { FileSystem } from '../fs.js';

/** A segment being created: it has this suffix until its header is durable. */
export const TEMP_SUFFIX = '.tmp';

/** The next segment's file, prepared (zero-filled, synced) before it is needed; no header yet. */
export const NEXT_SEGMENT_DRAFT = 'wal-next.tmp';

/** Left by a writer whose fdatasync failed, for the next open (see makeTailDurable in src/writer/resume.ts). */
export const SYNC_FAILED_FILE = 'SYNC_FAILED';

const NAME = /^wal-(\d{16})-(\d{8})-(\d{6})-(\d{3})\.log$/;

/**
 * A file ringwal leaves next to its segments: a copy recovery set aside (`<segment>.torn-<offset>`,
 * `<segment>.broken-<offset>`, `<segment>.broken`, with `.<n>` if the name was taken; see
 * src/recovery/open-scan.ts), a segment still under its temporary name, the prepared next
 * segment, or SYNC_FAILED.
 */
const SIDE_FILE = /^wal-\d{16}-\d{8}-\d{6}-\d{3}\.log\.(torn-\d+|broken(-\d+)?|tmp)(\.\d+)?$/;

export function isSideFile(name: string): boolean {
  return SIDE_FILE.test(name) || name === NEXT_SEGMENT_DRAFT || name === SYNC_FAILED_FILE;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

export function segmentName(firstLsn: number, createdAtMs: number): string {
  const d = new Date(createdAtMs);
  const date = `${pad(d.getUTCFullYear(), 4)}${pad(d.getUTCMonth() + 1, 2)}${pad(d.getUTCDate(), 2)}`;
  const time = `${pad(d.getUTCHours(), 2)}${pad(d.getUTCMinutes(), 2)}${pad(d.getUTCSeconds(), 2)}`;
  return `wal-${pad(firstLsn, 16)}-${date}-${time}-${pad(d.getUTCMilliseconds(), 3)}.log`;
}

export interface SegmentFile {
  name: string;
  path: string;
  /** From the name; the header is the authority and is checked against it. */
  firstLsn: number;
}

export function parseSegmentName(name: string): { firstLsn: number } | null {
  const m = NAME.exec(name);
  return m ? { firstLsn: Number(m[1]) } : null;
}

/** The directory's segment files in LSN order. Other files are ignored. */
export function listSegments(fsys: FileSystem, dir: string): SegmentFile[] {
  return segmentsAmong(dir, fsys.readdirSync(dir));
}

/** The segment files among a directory listing's `names`, in LSN order. */
export function segmentsAmong(dir: string, names: readonly string[]): SegmentFile[] {
  const out: SegmentFile[] = [];
  for (const name of names) {
    const parsed = parseSegmentName(name);
    if (parsed) out.push({ name, path: `${dir}/${name}`, firstLsn: parsed.firstLsn });
  }
  return out.sort((a, b) => a.firstLsn - b.firstLsn);
}
