/**
 * The recovery modes (option `recovery`, on open and for readers) and the one rule that
 * judges how a segment's walk ended. Open (src/recovery/open-scan.ts) acts on the verdicts by
 * repairing files; readers (readWal, recoverState) by what they deliver. docs/FORMAT.md
 * "Recovery modes" is the specification.
 */
import { ErrorCode, WalError } from '../errors.js';
import type { Damage, ScanResult } from '../reader/segment-scanner.js';

/**
 * RocksDB's WAL recovery modes:
 * - `'strict'`: any damage is an error, a torn tail included (open fails; nothing changes).
 * - `'tolerate-tail'` (default): only the end of the last segment may be dropped, and only
 *   when it cannot hold an acknowledged entry; any other damage is an error.
 * - `'point-in-time'`: stop at the first damage; it and everything after it are dropped.
 * - `'skip-corrupt'`: skip damaged records and keep going (LSNs may then have gaps).
 */
export type RecoveryMode = 'strict' | 'tolerate-tail' | 'point-in-time' | 'skip-corrupt';

export const RECOVERY_MODES: readonly RecoveryMode[] = [
  'strict',
  'tolerate-tail',
  'point-in-time',
  'skip-corrupt',
];

export const DEFAULT_RECOVERY: RecoveryMode = 'tolerate-tail';

/** One drop: bytes of a segment that recovery (or a reader) did not take, and why. */
export interface CorruptionReport {
  /** The segment's file name. */
  segment: string;
  /** File offset of the first byte dropped (0 for a whole segment). */
  offset: number;
  /** How many bytes were dropped from `offset`. */
  bytes: number;
  reason: string;
  /**
   * `'torn-tail'`: the end of the last segment, which no acknowledgement can have covered
   * (an interrupted write). `'corruption'`: damage to bytes that may have been acknowledged.
   */
  kind: 'torn-tail' | 'corruption';
  /** LSNs of the entries lost, where known (`to` null: up to the end of the log). */
  lsns: { from: number; to: number | null } | null;
  /** What was done: where a truncated file's bytes were kept, a renamed file's new name, or what a reader skipped. */
  action: string;
}

export type CorruptionHandler = (report: CorruptionReport) => void;

export function checkRecoveryMode(value: unknown, name: string): RecoveryMode {
  if (value === undefined) return DEFAULT_RECOVERY;
  if (!RECOVERY_MODES.includes(value as RecoveryMode)) {
    const shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
    throw new WalError(
      ErrorCode.INVALID_OPTION,
      `${name} must be one of ${RECOVERY_MODES.map((m) => `'${m}'`).join(', ')}; got ${shown}`,
    );
  }
  return value as RecoveryMode;
}

export function checkCorruptionHandler(value: unknown, name: string): CorruptionHandler | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') {
    throw new WalError(ErrorCode.INVALID_OPTION, `${name} must be a function`);
  }
  return value as CorruptionHandler;
}

/**
 * How a segment's walk ended:
 * - `'clean'`: at the end of the file, or (last segment only) at zeros that run to the end
 *   of the file: preallocated space, or unsynced pages a power cut turned back into zeros;
 * - `'torn'` (last segment only): an interrupted write. Nothing valid follows the damage, or
 *   what follows comes after a whole zero sector: the pattern of a power cut during an
 *   unsynced batch, whose later pages reached the disk and earlier ones did not. Each batch is
 *   fdatasync'd before it is acknowledged, so none of it was;
 * - `'corrupt'`: anything else: damage in a sealed segment (each is complete and synced
 *   before the next one exists), or damage followed by valid records in the last one.
 */
export function judgeEnd(scan: Pick<ScanResult, 'damage'>, isLast: boolean): 'clean' | 'torn' | 'corrupt' {
  const damage = scan.damage;
  if (!damage) return 'clean';
  if (!isLast) return 'corrupt';
  if (damage.next < 0) return damage.allZeros ? 'clean' : 'torn';
  return damage.zeroSector ? 'torn' : 'corrupt';
}

/** The LSNs a region loses: those between the last entry before it and the next record after it. */
export function lsnsLost(damage: Damage): CorruptionReport['lsns'] {
  const from = damage.lastLsnBefore + 1;
  if (damage.next < 0) return { from, to: null };
  return damage.nextLsn > from ? { from, to: damage.nextLsn - 1 } : null;
}

export function corruptError(path: string, offset: number, reason: string): WalError {
  return new WalError(ErrorCode.CORRUPT, `${path} is corrupt at offset ${offset}: ${reason}`, {
    path,
    offset,
  });
}

/**
 * What a reader does with damage it may not pass over silently: `strict` and `tolerate-tail`
 * throw WAL_CORRUPT; `point-in-time` reports it and stops; `skip-corrupt` reports it and goes on.
 * Each report is made once, however often a live segment is read again.
 */
export class ReaderPolicy {
  private readonly seen = new Set<string>();

  constructor(
    readonly mode: RecoveryMode,
    private readonly onCorruption: CorruptionHandler | undefined,
  ) {}

  /** Damage at `offset` of `path`: throws, or says whether reading stops or skips it. */
  damaged(
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
      lsns,
      action: stop ? 'not delivered: reading stops at the first damage' : 'skipped',
    });
    return stop ? 'stop' : 'skip';
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

  private report(report: CorruptionReport): void {
    const key = `${report.segment}:${report.offset}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.onCorruption?.(report);
  }
}
