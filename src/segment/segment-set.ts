/**
 * The writer's view of the directory's segments, oldest first, the last one being written:
 * what retention needs (first LSN, size, when each was sealed) without listing the directory
 * on every batch. Only the writer thread changes segment files, so this list stays true.
 */
import { SEGMENT_HEADER_BYTES } from '../format/constants.js';
import { decodeSegmentHeader, type SegmentHeader } from '../format/segment-header.js';
import { type FileSystem, syncDirectory } from '../fs.js';
import type { FilledRetention } from '../options.js';
import { listSegments } from './naming.js';
import { readAt } from './scan-file.js';
import { type ActiveSegment, createSegmentFile, type SegmentDraft } from './segment-file.js';

export interface SegmentRecord {
  name: string;
  path: string;
  firstLsn: number;
  createdAtMs: number;
  bytes: number;
}

export class SegmentSet {
  private readonly list: SegmentRecord[] = [];

  constructor(
    private readonly fsys: FileSystem,
    private readonly dir: string,
  ) {}

  /** Reads every segment's header and size (after recovery, so all headers are valid). */
  load(): void {
    this.list.length = 0;
    for (const file of listSegments(this.fsys, this.dir)) {
      const fd = this.fsys.openSync(file.path, 'r');
      try {
        const header = decodeSegmentHeader(readAt(this.fsys, fd, 0, SEGMENT_HEADER_BYTES));
        const createdAtMs = 'invalid' in header ? 0 : header.createdAtMs;
        this.list.push({ ...file, createdAtMs, bytes: this.fsys.fstatSize(fd) });
      } finally {
        this.fsys.closeSync(fd);
      }
    }
  }

  get active(): SegmentRecord | undefined {
    return this.list[this.list.length - 1];
  }

  /** Creates the next segment (crash-safely: segment-file.ts) and adds it as the one being written. */
  create(header: SegmentHeader, draft: SegmentDraft | null): ActiveSegment {
    const segment = createSegmentFile(this.fsys, this.dir, header, draft);
    const { firstLsn, createdAtMs } = header;
    const name = segment.path.slice(this.dir.length + 1);
    this.list.push({ name, path: segment.path, firstLsn, createdAtMs, bytes: SEGMENT_HEADER_BYTES });
    return segment;
  }

  /** Forgets the last segment (it was removed: a header-only tail replaced on open). */
  dropActive(): void {
    this.list.pop();
  }

  /**
   * Deletes what the policy says may go: whole sealed segments, oldest first, never the one
   * being written; then syncs the directory. `lastLsn` of a sealed segment is the next
   * one's first LSN - 1. Returns the names deleted.
   */
  applyRetention(policy: FilledRetention, checkpointLsn: number, nowMs: number): string[] {
    const deleted: string[] = [];
    const list = this.list;
    let total = 0;
    for (const s of list) total += s.bytes;
    while (list.length > 1) {
      const oldest = list[0];
      const lastLsn = list[1].firstLsn - 1;
      const sealedAtMs = list[1].createdAtMs;
      let remove: boolean;
      if (policy.requireCheckpoint) {
        remove = lastLsn <= checkpointLsn;
      } else {
        remove =
          list.length > policy.maxSegments || total > policy.maxBytes || nowMs - sealedAtMs > policy.maxAgeMs;
      }
      if (!remove) break;
      this.fsys.unlinkSync(oldest.path);
      total -= oldest.bytes;
      list.shift();
      deleted.push(oldest.name);
    }
    if (deleted.length > 0) syncDirectory(this.fsys, this.dir);
    return deleted;
  }

  /** When the oldest sealed segment will be old enough for `maxAgeMs`; Infinity if never. */
  nextExpiryMs(policy: FilledRetention): number {
    if (policy.requireCheckpoint || !Number.isFinite(policy.maxAgeMs) || this.list.length < 2) {
      return Number.POSITIVE_INFINITY;
    }
    return this.list[1].createdAtMs + policy.maxAgeMs;
  }
}
