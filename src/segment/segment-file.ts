/**
 * One segment file on the writing side: the segment appends go to (`ActiveSegment`: its
 * descriptor, where the next record goes, how far the file is allocated), and the crash-safe
 * steps that start and end a segment file. The writer (src/writer/log-writer.ts) decides when;
 * this module only knows how.
 */
import { SEGMENT_HEADER_BYTES } from '../format/constants.js';
import { encodeSegmentHeader, type SegmentHeader } from '../format/segment-header.js';
import { type FileSystem, syncDirectory, writeFully } from '../fs.js';
import { segmentName, TEMP_SUFFIX } from './naming.js';

/** A file made ready to become the next segment: open, zero-filled and synced, no header yet. */
export interface SegmentDraft {
  readonly path: string;
  readonly fd: number;
  /** Its size, all zeros. */
  readonly allocated: number;
}

export class ActiveSegment {
  constructor(
    private readonly fsys: FileSystem,
    readonly path: string,
    readonly fd: number,
    /** Where the next record goes. */
    public offset: number,
    /** The file's size: [offset, allocated) is zeros, allocated and synced (see src/writer/preallocation.ts). */
    public allocated: number,
  ) {}

  /** Whether any record follows the header. An empty segment is never sealed: the next one would take its first LSN. */
  holdsRecords(): boolean {
    return this.offset > SEGMENT_HEADER_BYTES;
  }

  /** Writes every byte of a batch at the offset (a short write is continued) and moves past it. */
  write(views: readonly Uint8Array[], bytes: number): void {
    writeFully(this.fsys, this.fd, views, this.offset, bytes);
    this.offset += bytes;
    if (this.offset > this.allocated) this.allocated = this.offset; // the write grew the file
  }

  sync(): void {
    this.fsys.fdatasyncSync(this.fd);
  }

  /**
   * Cuts the unused preallocated space off, so a sealed (or closed) segment always ends
   * exactly after its last record. The next fdatasync makes the new size durable.
   */
  trimToData(): void {
    this.fsys.ftruncateSync(this.fd, this.offset);
    this.allocated = this.offset;
  }

  close(): void {
    this.fsys.closeSync(this.fd);
  }
}

/**
 * Creates a segment under a temporary name (or in a prepared draft), writes and syncs its
 * header, renames it into place and syncs the directory: a file with a segment's name always
 * has a whole header, so a reader listing the directory never finds a half-made one, and the
 * segment's directory entry is durable before any record in it is written.
 */
export function createSegmentFile(
  fsys: FileSystem,
  dir: string,
  header: SegmentHeader,
  draft: SegmentDraft | null,
): ActiveSegment {
  const path = `${dir}/${segmentName(header.firstLsn, header.createdAtMs)}`;
  const from = draft ? draft.path : `${path}${TEMP_SUFFIX}`;
  const fd = draft ? draft.fd : fsys.openSync(from, 'wx');
  const allocated = draft ? draft.allocated : SEGMENT_HEADER_BYTES;
  const bytes = encodeSegmentHeader(header);
  writeFully(fsys, fd, [bytes], 0, bytes.length);
  fsys.fdatasyncSync(fd);
  // One segment per first LSN: an existing file of this name would be a bug, never replaced.
  if (fsys.existsSync(path))
    throw Object.assign(new Error(`${path} exists`), { code: 'EEXIST', syscall: 'rename' });
  fsys.renameSync(from, path);
  syncDirectory(fsys, dir);
  return new ActiveSegment(fsys, path, fd, SEGMENT_HEADER_BYTES, allocated);
}

/**
 * Seals a segment an earlier writer left as its last: preallocated zeros past `validEnd` are
 * cut off (a sealed segment ends exactly after its last record) and the file is fdatasync'd (a
 * previous 'none'-mode writer may have left it unsynced).
 */
export function sealSegmentFile(fsys: FileSystem, path: string, validEnd: number): void {
  const fd = fsys.openSync(path, 'r+');
  try {
    if (fsys.fstatSize(fd) > validEnd) fsys.ftruncateSync(fd, validEnd);
    fsys.fdatasyncSync(fd);
  } finally {
    fsys.closeSync(fd);
  }
}
