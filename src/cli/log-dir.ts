/**
 * What every command first asks of its DIR argument, and what several read from a log without
 * changing it: the lock holder (read from LOCK, never taken) and where the last segment's
 * data ends.
 *
 * A log directory is one holding a segment file or a file only ringwal makes (LOCK,
 * CHECKPOINT, the prepared next segment, a copy recovery set aside). One holding none of them
 * is refused as "not a ringwal log", an empty one included, so that a mistyped path is not
 * reported as a clean, empty log. A directory with ringwal's files but no segment (every
 * segment set aside by recovery, say) is an empty log: no entries, nothing damaged.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ScanResult } from '../format/segment-scanner.js';
import { nodeFs } from '../fs.js';
import { LOCK_FILE } from '../lock/directory-lock.js';
import { currentOwner, describeOwner, judgeOwner, parseOwner } from '../lock/owner.js';
import { MAX_ENTRY_BYTES } from '../options.js';
import { judgeEnd } from '../reader/policy.js';
import { CHECKPOINT_FILE, decodeCheckpoint } from '../segment/checkpoint.js';
import { isSideFile, type SegmentFile, segmentsAmong } from '../segment/naming.js';
import { scanSegmentFile } from '../segment/scan-file.js';
import { CliError } from './errors.js';

export interface LogDir {
  /** Absolute path. */
  path: string;
  /** Every name in it, sorted. */
  names: string[];
  /** Its segment files, in LSN order. */
  segments: SegmentFile[];
  /** Files recovery or the writer left next to the segments: copies set aside, drafts, SYNC_FAILED. */
  sideFiles: string[];
}

/**
 * Checks that `dir` is a log directory and lists it. Each refusal is a CliError (exit 2)
 * whose message says what is wrong with the path: missing, a file, unreadable, not a log.
 */
export function openLogDir(dir: string): LogDir {
  const absolute = path.resolve(dir);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(absolute);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CliError('no such directory');
    if (code === 'ENOTDIR') throw new CliError('not a directory (a part of the path is a file)');
    throw new CliError(`cannot read the directory: ${(e as Error).message}`);
  }
  if (!stat.isDirectory()) {
    throw new CliError(
      `not a directory: it is a ${stat.isFile() ? 'file' : 'special file'}; give the log's directory`,
    );
  }
  let names: string[];
  try {
    names = fs.readdirSync(absolute).sort();
  } catch (e) {
    throw new CliError(`cannot list the directory: ${(e as Error).message}`);
  }
  const segments = segmentsAmong(absolute, names);
  const sideFiles = names.filter(isSideFile);
  const marked = names.includes(LOCK_FILE) || names.includes(CHECKPOINT_FILE) || sideFiles.length > 0;
  if (segments.length === 0 && !marked) {
    throw new CliError(
      names.length === 0
        ? 'not a ringwal log: the directory is empty'
        : 'not a ringwal log: no segment files (wal-*.log) and no LOCK',
    );
  }
  return { path: absolute, names, segments, sideFiles };
}

/** Who holds a log, as its LOCK file says; judged, never taken. */
export type LockStatus =
  | { state: 'none' }
  | { state: 'unreadable'; why: string }
  | {
      /** 'alive': the holder runs (the log is open); 'stale': it is gone, the next open takes the lock over; 'unknown': cannot be told from here. */
      state: 'alive' | 'stale' | 'unknown';
      why?: string;
      pid: number;
      host: string;
      since: string;
      kernelLock: boolean;
      /** "process 12 on host "vm" (PID namespace …), since …" */
      holder: string;
    };

/**
 * Reads LOCK and judges its owner record (src/lock/owner.ts) as an opener would, without
 * opening the log: this never takes, creates or changes the lock.
 */
export function lockStatus(dir: string): LockStatus {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'none' };
    return { state: 'unreadable', why: (e as Error).message };
  }
  const owner = parseOwner(text);
  if (owner === null) {
    return {
      state: 'unreadable',
      why: text === '' ? 'LOCK is empty (being taken?)' : 'LOCK holds no owner record',
    };
  }
  const me = currentOwner(false);
  const verdict = judgeOwner(owner, me);
  const state = verdict.kind === 'alive' ? 'alive' : verdict.kind === 'dead' ? 'stale' : 'unknown';
  return {
    state,
    ...(verdict.kind === 'alive' ? {} : { why: verdict.why }),
    pid: owner.pid,
    host: owner.host,
    since: owner.since,
    kernelLock: owner.kernelLock,
    holder: describeOwner(owner, { ...me, pid: -1 }),
  };
}

/** One line for a person. */
export function lockText(lock: LockStatus): string {
  switch (lock.state) {
    case 'none':
      return 'none (no process has the log open)';
    case 'unreadable':
      return `unreadable: ${lock.why}`;
    case 'alive':
      return `held by ${lock.holder} (alive: the log is open)`;
    case 'stale':
      return `left by ${lock.holder} (stale: ${lock.why}; the next open takes it over)`;
    default:
      return `held by ${lock.holder} (cannot tell whether it runs: ${lock.why})`;
  }
}

/** The CHECKPOINT file: its LSN (0: none), or why it cannot be read. */
export function checkpointStatus(dir: string): { lsn: number } | { damaged: string } {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(path.join(dir, CHECKPOINT_FILE));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { lsn: 0 };
    return { damaged: `cannot read it: ${(e as Error).message}` };
  }
  const lsn = decodeCheckpoint(bytes);
  return typeof lsn === 'number' ? { lsn } : { damaged: lsn.invalid };
}

/**
 * The last segment walked read-only: where its data ends (`validEnd`, `lastLsn`) and how its
 * walk ended. On a live log this is a snapshot: the writer may append meanwhile.
 */
export function scanTail(segment: SegmentFile): ScanResult {
  return scanSegmentFile(nodeFs, segment.path, { maxEntryBytes: MAX_ENTRY_BYTES });
}

/** An unfinished end of the last segment: a write in progress on a live log, a torn tail the next open sets aside otherwise. */
export interface TornTail {
  segment: string;
  offset: number;
  bytes: number;
  reason: string;
}

export function tornTailOf(segment: SegmentFile, scan: ScanResult): TornTail | null {
  if (scan.stop === 'bad-header' || judgeEnd(scan, true) !== 'torn') return null;
  return {
    segment: segment.name,
    offset: scan.validEnd,
    bytes: scan.fileSize - scan.validEnd,
    reason: scan.reason ?? scan.stop,
  };
}
