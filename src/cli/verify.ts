/**
 * `ringwal verify DIR`: every record of every segment read and its CRC checked, every entry
 * decoded, and every piece of damage reported as `file offset reason`. It never changes a
 * file or takes the lock, so it is safe on a live log.
 *
 * It is its own driver of the readers' SegmentWalk (STYLE.md habit 16), because no reader
 * mode says what verify must: that a torn end of the last segment is not damage (as open
 * judges it: docs/FORMAT.md "How a segment's walk ends"), that anything else is, and that
 * all of it is found, not just the first. So, per segment:
 *
 * - a sealed segment is read to its end with the scanner resuming after damage
 *   (`skipCorrupt`): it is complete and immutable, so every damaged region in it is found;
 * - the last segment (a live tail, perhaps) is read up to its first damage, which the walk
 *   judges as readers do: a torn end (no record written after a sync follows it) is the end
 *   of the log; anything else is read again 20 ms later, in case a writer was part-way
 *   through it, and then reported. A tail sealed while it was read is read on as sealed.
 * - the walk's policy is 'skip-corrupt's, so a gap, a bad header and a damaged segment are
 *   reported and the walk goes on.
 *
 * With --threads, segments are read on the parallel reader's pool (workers/read-range.ts), a
 * window of threads + 1 at a time; without, the same range task runs on this thread.
 *
 * Exit 0: clean; 1: damage found; 2: usage or I/O error.
 */
import { Command } from 'commander';
import { decodeBackToBack, decodeStored } from '../encoding.js';
import { ErrorCode, segmentReadError, WalError } from '../errors.js';
import type { Damage, ScanSummary } from '../format/segment-scanner.js';
import { nodeFs } from '../fs.js';
import { MAX_ENTRY_BYTES } from '../options.js';
import { TaskPool } from '../pool.js';
import { type CorruptionReport, ReaderPolicy } from '../reader/policy.js';
import { type RangeResult, type RangeTask, readRange } from '../reader/read-range.js';
import { SegmentWalk } from '../reader/segment-walk.js';
import { CHECKPOINT_FILE } from '../segment/checkpoint.js';
import type { SegmentFile } from '../segment/naming.js';
import { jsonOption, threadsOption } from './args.js';
import type { Context } from './context.js';
import { EXIT } from './errors.js';
import { checkpointStatus, openLogDir, scanTail, type TornTail, tornTailOf } from './log-dir.js';
import { count, printJson } from './output.js';

/** Payload bytes one range task reads and hands back; a window of threads + 1 segments holds one range each. */
const RANGE_BYTES = 4 * 1024 * 1024;
/** Entries decoded per msgpackr call. */
const DECODE_CHUNK = 1024;

export interface Finding {
  /** The file's name in the log directory. */
  file: string;
  offset: number;
  /** Bytes the damage covers, where known. */
  bytes: number | null;
  reason: string;
  /** LSNs lost, where known (`to` null: to the end of the segment or log). */
  lsns: { from: number; to: number | null } | null;
}

export interface Verification {
  dir: string;
  ok: boolean;
  segments: number;
  entries: number;
  firstLsn: number;
  lastLsn: number;
  damage: Finding[];
  /** The last segment's unfinished end, which is not damage: a write in progress or a torn tail. */
  unfinishedTail: TornTail | null;
  threads: number;
}

export function verifyCommand(ctx: Context): Command {
  return new Command('verify')
    .description('check every CRC of every segment; exit 0 clean, 1 damage found, 2 usage or I/O error')
    .argument('<dir>', 'the log directory')
    .addOption(
      threadsOption('read and verify on a pool of this many worker threads (default: one sequential reader)'),
    )
    .addOption(jsonOption('the result'))
    .addHelpText(
      'after',
      `
Example:
  $ ringwal verify ./data/wal && echo clean
  $ ringwal verify ./data/wal --threads 4 --json

Each piece of damage is printed as 'file offset reason'. The unfinished end of the last
segment (a write in progress, or a torn tail that the next open sets aside) is not damage.
Safe on a log another process is writing: nothing is changed and the lock is not taken.`,
    )
    .action(async (dir: string, options: { json?: boolean; threads?: number }) => {
      ctx.what = `verify ${dir}`;
      const result = await verify(dir, options.threads ?? 0);
      if (options.json) printJson(ctx.out, result);
      else ctx.out.print(verificationText(result));
      ctx.exitCode = result.ok ? EXIT.OK : EXIT.FOUND;
    });
}

export async function verify(dir: string, threads: number): Promise<Verification> {
  const log = openLogDir(dir);
  const damage: Finding[] = [];
  const found = (r: Found) =>
    damage.push({ file: r.segment, offset: r.offset, bytes: r.bytes, reason: r.reason, lsns: r.lsns });
  const read = await walkLog(log.path, threads, found);
  const checkpoint = checkpointStatus(log.path);
  if ('damaged' in checkpoint) {
    damage.push({ file: CHECKPOINT_FILE, offset: 0, bytes: null, reason: checkpoint.damaged, lsns: null });
  }
  // Listed again now (the log may have grown while it was verified), only to describe its end.
  const tail = openLogDir(log.path).segments.at(-1);
  let unfinishedTail: TornTail | null = null;
  if (tail) {
    try {
      unfinishedTail = tornTailOf(tail, scanTail(tail));
    } catch {
      // Rotated away or removed meanwhile: nothing to say about it.
    }
  }
  return {
    dir: log.path,
    ok: damage.length === 0,
    segments: read.segments,
    entries: read.entries,
    firstLsn: read.firstLsn,
    lastLsn: read.lastLsn,
    damage,
    unfinishedTail,
    threads,
  };
}

type Found = Pick<CorruptionReport, 'segment' | 'offset' | 'bytes' | 'reason' | 'lsns'>;

/** What was read of one segment: its entries, its damage, and how its walk ended. */
interface SegmentRead {
  entries: number;
  firstLsn: number;
  lastLsn: number;
  /** Regions the scanner skipped (sealed segments). */
  skipped: Damage[];
  /** Entries whose checksum matched but whose bytes are not MessagePack. */
  undecodable: Found[];
  scan: ScanSummary;
}

async function walkLog(
  dir: string,
  threads: number,
  found: (report: Found) => void,
): Promise<{ segments: number; entries: number; firstLsn: number; lastLsn: number }> {
  const policy = new ReaderPolicy('skip-corrupt', found);
  const walk = new SegmentWalk(dir, policy);
  const total = { segments: 0, entries: 0, firstLsn: 0, lastLsn: 0 };
  if (!(await walk.start(1))) return total;
  const pool = threads > 0 ? new TaskPool<RangeTask, RangeResult>('read-range', threads) : null;
  const runTask = (task: RangeTask): Promise<RangeResult> => {
    if (pool) return pool.run(task);
    try {
      return Promise.resolve(readRange(nodeFs, task));
    } catch (e) {
      return Promise.reject(segmentReadError(task.path, e));
    }
  };

  /**
   * Reads `segment` from `startAt` to the end of its walk: resuming after damage unless it is
   * the last one listed. Its damage is reported when the walk reaches it, in segment order.
   */
  const readSegment = async (segment: SegmentFile, startAt: RangeTask['startAt']): Promise<SegmentRead> => {
    const skipCorrupt = walk.upcoming(Number.MAX_SAFE_INTEGER).at(-1)?.name !== segment.name;
    const got: SegmentRead = {
      entries: 0,
      firstLsn: 0,
      lastLsn: 0,
      skipped: [],
      undecodable: [],
      scan: null as unknown as ScanSummary,
    };
    for (let at = startAt; ; ) {
      const range = await runTask({
        path: segment.path,
        startAt: at,
        budgetBytes: RANGE_BYTES,
        fromLsn: 1,
        maxEntryBytes: MAX_ENTRY_BYTES,
        skipCorrupt,
        nameFirstLsn: segment.firstLsn,
      });
      got.skipped.push(...range.skipped);
      checkEntries(segment, range, (f) => got.undecodable.push(f));
      if (range.lsns.length > 0) {
        if (got.firstLsn === 0) got.firstLsn = range.lsns[0];
        got.lastLsn = range.lsns[range.lsns.length - 1];
        got.entries += range.lsns.length;
      }
      if (!range.more) {
        got.scan = range.scan!;
        return got;
      }
      at = range.more;
    }
  };

  const window = threads + 1;
  const ahead = new Map<string, Promise<SegmentRead>>();
  // The current segment's entries, over the reads of it (a segment is read again, from
  // where the last read ended, when the walk says 'again').
  let entries = 0;
  let firstLsn = 0;
  let lastLsn = 0;
  try {
    let segment = await walk.next();
    while (segment) {
      if (pool) walk.readAhead(ahead, window, (s) => unawaited(readSegment(s, null)));
      const read = await (ahead.get(segment.name) ?? readSegment(segment, null));
      ahead.delete(segment.name);
      for (const skipped of read.skipped) policy.skipped(segment.name, skipped);
      for (const f of read.undecodable) found(f);
      entries += read.entries;
      firstLsn ||= read.firstLsn;
      lastLsn = read.lastLsn || lastLsn;
      const then = await walk.finish(segment, read.scan);
      if (then === 'again') {
        ahead.set(
          segment.name,
          unawaited(readSegment(segment, { offset: read.scan.validEnd, lsn: read.scan.lastLsn + 1 })),
        );
        continue;
      }
      total.segments++;
      total.entries += entries;
      total.firstLsn ||= firstLsn;
      total.lastLsn = lastLsn || total.lastLsn;
      entries = firstLsn = lastLsn = 0;
      if (then === 'stop') break;
      segment = await walk.next();
    }
  } finally {
    await pool?.close();
  }
  return total;
}

/** A read ahead may never be awaited (the walk ended first): its failure must not be an unhandled rejection. */
function unawaited<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

/**
 * Decodes a range's entries: a record whose checksum matches but whose bytes are not
 * MessagePack (a forged record or a writer bug) is damage too; the walk goes on after it.
 */
function checkEntries(segment: SegmentFile, range: RangeResult, found: (report: Found) => void): void {
  const { ends, payloads } = range;
  const values: unknown[] = [];
  for (let first = 0; first < ends.length; first += DECODE_CHUNK) {
    const last = Math.min(ends.length, first + DECODE_CHUNK);
    const base = first === 0 ? 0 : ends[first - 1];
    let k =
      first +
      decodeBackToBack(payloads.subarray(base, ends[last - 1]), ends.subarray(first, last), base, values);
    values.length = 0;
    for (; k < last; k++) {
      const start = k === 0 ? 0 : ends[k - 1];
      try {
        decodeStored(payloads.subarray(start, ends[k]), segment.path, range.offsets[k]);
      } catch (e) {
        if (!(e instanceof WalError && e.code === ErrorCode.CORRUPT)) throw e;
        found({
          segment: segment.name,
          offset: range.offsets[k],
          bytes: ends[k] - start,
          reason: e.message.replace(/^.* is corrupt at offset \d+: /, ''),
          lsns: { from: range.lsns[k], to: range.lsns[k] },
        });
      }
    }
  }
}

export function verificationText(v: Verification): string {
  const lines = v.damage.map((d) => `${d.file} ${d.offset} ${d.reason}`);
  const range = v.entries > 0 ? ` (LSN ${v.firstLsn} to ${v.lastLsn})` : '';
  const what = `${count(v.segments)} segment${v.segments === 1 ? '' : 's'}, ${count(v.entries)} entries${range}`;
  if (v.unfinishedTail) {
    const u = v.unfinishedTail;
    lines.push(
      `note: ${u.segment} ends with ${count(u.bytes)} bytes after its last complete entry (offset ${u.offset}: ${u.reason}); a write in progress or a torn tail, not damage`,
    );
  }
  lines.push(
    v.ok
      ? `OK: ${what}, every CRC checked`
      : `DAMAGED: ${count(v.damage.length)} damaged region${v.damage.length === 1 ? '' : 's'}; ${what} readable`,
  );
  return `${lines.join('\n')}\n`;
}
