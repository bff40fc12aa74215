/**
 * The segment-by-segment course every reader of a log follows (readWal, sequential and
 * parallel, and recoverState), so that they deliver the same entries and make the same
 * reports and errors: where to start, what a gap or a bad header means, when a live segment
 * must be read again, and when the read ends. The drivers only read a segment and do what
 * they do with its entries; this decides what happens between segments (docs/FORMAT.md
 * "Reading: live tail versus sealed segments"). STYLE.md habit 16: one walk, many drivers.
 */

import { vanished } from '../errors.js';
import { headerProblem } from '../format/header-check.js';
import type { ScanSummary } from '../format/segment-scanner.js';
import { isAllZeros } from '../fs.js';
import type { SegmentFile } from '../segment/naming.js';
import { judgeEnd, type ReaderPolicy } from './policy.js';
import { CONFIRM_DELAY_MS, emptyLastSegment, listSegmentsAsync } from './segment-list.js';

export class SegmentWalk {
  private segments: SegmentFile[] = [];
  private i = 0;
  /** LSN the next segment must start with (0: any). */
  private expectFirst = 0;
  private rescanned = false;
  private confirmed = false;

  constructor(
    private readonly dir: string,
    private readonly policy: ReaderPolicy,
  ) {}

  /** Lists the directory; false when there is nothing to read. */
  async start(fromLsn: number): Promise<boolean> {
    this.segments = await listSegmentsAsync(this.dir);
    this.i = Math.max(
      0,
      this.segments.findLastIndex((s) => s.firstLsn <= fromLsn),
    );
    return this.segments.length > 0;
  }

  /** The segments from the current one on, as far as listed (for reading ahead). */
  upcoming(count: number): SegmentFile[] {
    return this.segments.slice(this.i, this.i + count);
  }

  /**
   * Keeps a read-ahead window, keyed by segment name (indexes shift when the directory is
   * listed again): starts `read` for each of the next `count` segments (the current one
   * first) not in `ahead`, and drops what `ahead` holds for segments the walk has passed
   * over, so a skipped segment's result is not held to the end of the read.
   */
  readAhead<T>(ahead: Map<string, T>, count: number, read: (segment: SegmentFile) => T): void {
    const upcoming = this.upcoming(count);
    for (const name of ahead.keys()) if (!upcoming.some((s) => s.name === name)) ahead.delete(name);
    for (const segment of upcoming) if (!ahead.has(segment.name)) ahead.set(segment.name, read(segment));
  }

  /**
   * The segment to read next, or null when the read is over (the end of the log, or damage
   * that ends it). Segments that must be skipped are passed over.
   */
  async next(): Promise<SegmentFile | null> {
    while (this.i < this.segments.length) {
      if (await emptyLastSegment(this.segments, this.i, this.expectFirst)) return null;
      const segment = this.segments[this.i];
      const gap = this.policy.gap(segment, this.expectFirst);
      if (gap === 'stop') return null;
      if (gap === 'go-on') return segment;
      this.expectFirst = 0;
      this.i++;
    }
    return null;
  }

  /**
   * After a segment was read: 'again' to read it once more from where that read ended (a
   * live tail sealed meanwhile, or damage in a live tail to confirm), 'next' for the next
   * segment, 'stop' when the read is over. Throws what the policy throws.
   */
  async finish(segment: SegmentFile, scan: ScanSummary): Promise<'again' | 'next' | 'stop'> {
    const wasLast = this.i === this.segments.length - 1;
    if (wasLast) {
      // Pick up segments created since the listing; retention may have removed older ones.
      this.segments = await listSegmentsAsync(this.dir);
      this.i = this.segments.findIndex((s) => s.name === segment.name);
      if (this.i < 0) throw vanished(segment.path);
    }
    const isLast = this.i === this.segments.length - 1;
    if (wasLast && !isLast && !this.rescanned && scan.stop !== 'bad-header') {
      // It was the live tail while it was read and has been sealed since (the writer syncs a
      // segment before it creates the next): read what was added meanwhile.
      this.rescanned = true;
      return 'again';
    }
    const nextFirst = isLast ? null : this.segments[this.i + 1].firstLsn;
    const problem = headerProblem(scan, segment.firstLsn);
    if (problem) {
      // A last segment with a bad header and nothing but zeros holds no entry; the next open
      // sets it aside (src/recovery/open-scan.ts). Anything else is damage.
      if (scan.stop === 'bad-header' && isLast && (await isAllZeros(segment.path))) return 'stop';
      if (this.policy.badHeader(segment, problem.offset, scan.fileSize, problem.reason, nextFirst) === 'stop')
        return 'stop';
      this.expectFirst = 0;
    } else {
      if (isLast && !this.confirmed && judgeEnd(scan, true) === 'corrupt') {
        // The writer may have been part-way through a record while it was read: look again.
        this.confirmed = true;
        await new Promise((resolve) => setTimeout(resolve, CONFIRM_DELAY_MS));
        return 'again';
      }
      if (this.policy.end(segment, scan, isLast, nextFirst) === 'stop') return 'stop';
      // After damage in a sealed segment, what the next one starts with is unknown.
      this.expectFirst = scan.damage && !isLast ? 0 : scan.lastLsn + 1;
    }
    this.rescanned = false;
    this.confirmed = false;
    if (isLast) return 'stop';
    this.i++;
    return 'next';
  }
}
