/**
 * The recovery modes (option `recovery`, on open and for readers) and the one rule that
 * judges how a segment's walk ended. Open (src/recovery/open-scan.ts) acts on the verdicts by
 * repairing files; readers (readWal, recoverState) by what they deliver. docs/FORMAT.md
 * "Recovery modes" is the specification.
 */
import { corruptError } from '../errors.js';
import type { Damage, ScanResult } from '../format/segment-scanner.js';
import type { CorruptionHandler, CorruptionReport, RecoveryMode } from '../options.js';
import type { SegmentFile } from '../segment/naming.js';

export { corruptError } from '../errors.js';
// The modes and reports are options (src/options.ts); they are named here too for the readers.
export {
  type CorruptionHandler,
  type CorruptionReport,
  checkCorruptionHandler,
  checkRecoveryMode,
  DEFAULT_RECOVERY,
  RECOVERY_MODES,
  type RecoveryMode,
} from '../options.js';

/**
 * How a segment's walk ended:
 * - `'clean'`: at the end of the file; or (last segment only) at zeros that run to the end
 *   of the file: preallocated space, or unsynced pages a power cut turned back into zeros;
 * - `'torn'` (last segment only): an interrupted write. Nothing after the damage proves it
 *   was synced: no valid record marked RecordFlag.SYNCED_BEFORE follows it. Whatever follows
 *   (zeros, garbage, valid records) was written after the segment's last completed
 *   fdatasync, so none of it was acknowledged in `sync: 'always'`;
 * - `'corrupt'`: anything else: damage in a sealed segment (each is complete and synced
 *   before the next one exists), or damage in the last one followed by a marked record,
 *   which was written after an fdatasync that had made the damaged bytes durable.
 */
export function judgeEnd(scan: Pick<ScanResult, 'damage'>, isLast: boolean): 'clean' | 'torn' | 'corrupt' {
  const damage = scan.damage;
  if (!damage) return 'clean';
  if (!isLast || damage.syncedAfter) return 'corrupt';
  return damage.next < 0 && damage.allZeros ? 'clean' : 'torn';
}

/** The LSNs a region loses: those between the last entry before it and the next record after it. */
export function lsnsLost(damage: Damage): CorruptionReport['lsns'] {
  const from = damage.lastLsnBefore + 1;
  if (damage.next < 0) return { from, to: null };
  return damage.nextLsn > from ? { from, to: damage.nextLsn - 1 } : null;
}

/** What a reader does next after looking at a segment. */
export type ReaderStep = 'go-on' | 'skip-segment' | 'stop';

/**
 * What a reader does with damage it may not pass over silently: `strict` and `tolerate-tail`
 * throw WAL_CORRUPT; `point-in-time` reports it and stops; `skip-corrupt` reports it and goes
 * on. readWal and recoverState both ask it, segment by segment, so they deliver the same
 * entries and make the same reports. Each report is made once, however often a live segment
 * is read again.
 */
export class ReaderPolicy {
  private readonly seen = new Set<string>();

  constructor(
    readonly mode: RecoveryMode,
    private readonly onCorruption: CorruptionHandler | undefined,
  ) {}

  /**
   * A segment that does not start where the previous one ended (`expectFirst`; 0 when not
   * known). In skip-corrupt mode a later start is reported and the segment read; an earlier
   * one (an overlap) makes the segment unusable.
   */
  gap(segment: SegmentFile, expectFirst: number): ReaderStep {
    if (expectFirst === 0 || segment.firstLsn === expectFirst) return 'go-on';
    const forward = segment.firstLsn > expectFirst;
    const step = this.damaged(
      segment.path,
      segment.name,
      0,
      0,
      forward
        ? `the log has a gap: LSNs ${expectFirst} to ${segment.firstLsn - 1} are missing`
        : `the segment starts at LSN ${segment.firstLsn}, before the end of the previous one`,
      forward ? { from: expectFirst, to: segment.firstLsn - 1 } : null,
    );
    return step === 'stop' ? 'stop' : forward ? 'go-on' : 'skip-segment';
  }

  /** A segment whose header is bad or contradicts its name: none of it can be read. */
  badHeader(
    segment: SegmentFile,
    offset: number,
    bytes: number,
    reason: string,
    nextFirstLsn: number | null,
  ): ReaderStep {
    const lsns = { from: segment.firstLsn, to: nextFirstLsn === null ? null : nextFirstLsn - 1 };
    return this.damaged(segment.path, segment.name, offset, bytes, reason, lsns) === 'stop'
      ? 'stop'
      : 'skip-segment';
  }

  /**
   * How a segment's walk ended, once its entries are delivered: a `corrupt` verdict is damage
   * (what follows it in the segment is lost; in skip-corrupt mode, up to the next segment).
   */
  end(
    segment: SegmentFile,
    scan: Pick<ScanResult, 'damage' | 'fileSize'>,
    isLast: boolean,
    nextFirstLsn: number | null,
  ): ReaderStep {
    if (judgeEnd(scan, isLast) !== 'corrupt') return 'go-on';
    const d = scan.damage!;
    const to = this.mode === 'skip-corrupt' && nextFirstLsn !== null ? nextFirstLsn - 1 : null;
    const step = this.damaged(
      segment.path,
      segment.name,
      d.offset,
      scan.fileSize - d.offset,
      d.syncedAfter ? `${d.reason}, and a record written after a sync follows` : d.reason,
      to === null || to > d.lastLsnBefore ? { from: d.lastLsnBefore + 1, to } : null,
    );
    return step === 'stop' ? 'stop' : 'go-on';
  }

  /** A region the scanner skipped (`skip-corrupt`). */
  skipped(segment: string, damage: Damage): void {
    this.report({
      segment,
      offset: damage.offset,
      bytes: damage.end - damage.offset,
      reason: damage.reason,
      kind: 'corruption',
      lsns: lsnsLost(damage),
      action: 'skipped',
    });
  }

  private damaged(
    path: string,
    segment: string,
    offset: number,
    bytes: number,
    reason: string,
    lsns: CorruptionReport['lsns'],
  ): 'stop' | 'skip' {
    if (this.mode === 'strict' || this.mode === 'tolerate-tail') throw corruptError(path, offset, reason);
    const stop = this.mode === 'point-in-time';
    this.report({
      segment,
      offset,
      bytes,
      reason,
      kind: 'corruption',
      lsns: stop ? (lsns ? { from: lsns.from, to: null } : null) : lsns,
      action: stop ? 'not delivered: reading stops at the first damage' : 'skipped',
    });
    return stop ? 'stop' : 'skip';
  }

  private report(report: CorruptionReport): void {
    // The same loss read again (a live segment) has the same place and reason; two different
    // losses can share a place (a gap before a segment and its own bad header, both offset 0).
    const key = `${report.segment}:${report.offset}:${report.reason}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.onCorruption?.(report);
  }
}
