/**
 * `ringwal inspect DIR`: the segments, checkpoint, lock holder and totals of a log, read from
 * names, headers and the last segment's records. It opens nothing for writing and never takes
 * the lock, so it is safe on a log another process is appending to (a snapshot of a moving
 * log). It checks no CRC but the last segment's: `ringwal verify` reads everything.
 */

import * as fs from 'node:fs';
import { Command } from 'commander';
import { type SegmentInfo, segmentInfos } from '../segment/segment-info.js';
import { jsonOption } from './args.js';
import type { Context } from './context.js';
import {
  checkpointStatus,
  type LockStatus,
  lockStatus,
  lockText,
  openLogDir,
  scanTail,
  type TornTail,
  tornTailOf,
} from './log-dir.js';
import { bytesText, count, formatTable, printJson } from './output.js';

export interface InspectedSegment {
  name: string;
  firstLsn: number;
  lastLsn: number;
  entries: number;
  /** Bytes of data (the segment being written may be longer on disk: preallocated zeros). */
  bytes: number;
  /** The file's size on disk. */
  fileBytes: number;
  createdAt: string;
  sealed: boolean;
}

export interface Inspection {
  dir: string;
  segments: InspectedSegment[];
  totals: {
    segments: number;
    entries: number;
    /** 0 with no entry. */
    firstLsn: number;
    lastLsn: number;
    bytes: number;
    fileBytes: number;
  };
  /** 0: none taken; null: the file is damaged (`checkpointDamage` says how). */
  checkpointLsn: number | null;
  checkpointDamage?: string;
  lock: LockStatus;
  /** An unfinished end of the last segment: a write in progress, or a torn tail the next open sets aside. */
  unfinishedTail: TornTail | null;
  /** Copies recovery set aside, drafts, SYNC_FAILED. */
  sideFiles: { name: string; bytes: number }[];
}

export function inspectCommand(ctx: Context): Command {
  return new Command('inspect')
    .description('list segments, checkpoint, lock holder and totals; changes nothing, safe on a live log')
    .argument('<dir>', 'the log directory')
    .addOption(jsonOption('the inspection'))
    .addHelpText(
      'after',
      `
Example:
  $ ringwal inspect ./data/wal
  $ ringwal inspect ./data/wal --json | jq .totals.lastLsn

Reads segment names and headers and the last segment's records; never takes the lock.
Run 'ringwal verify' to check every CRC.`,
    )
    .action(async (dir: string, options: { json?: boolean }) => {
      ctx.what = `inspect ${dir}`;
      const inspection = await inspect(dir);
      if (options.json) printJson(ctx.out, inspection);
      else ctx.out.print(inspectionText(inspection));
    });
}

export async function inspect(dir: string): Promise<Inspection> {
  const log = openLogDir(dir);
  const infos = await segmentsWithTail(log.path);
  const segments = infos.segments.map((s): InspectedSegment => {
    const fileBytes = s.sealed ? s.bytes : (infos.tailFileBytes ?? s.bytes);
    return {
      name: s.name,
      firstLsn: s.firstLsn,
      lastLsn: s.lastLsn,
      entries: Math.max(0, s.lastLsn - s.firstLsn + 1),
      bytes: s.bytes,
      fileBytes,
      createdAt: Number.isNaN(s.createdAt.getTime()) ? '' : s.createdAt.toISOString(),
      sealed: s.sealed,
    };
  });
  const withEntries = segments.filter((s) => s.entries > 0);
  const checkpoint = checkpointStatus(log.path);
  return {
    dir: log.path,
    segments,
    totals: {
      segments: segments.length,
      entries: segments.reduce((n, s) => n + s.entries, 0),
      firstLsn: withEntries[0]?.firstLsn ?? 0,
      lastLsn: withEntries.at(-1)?.lastLsn ?? 0,
      bytes: segments.reduce((n, s) => n + s.bytes, 0),
      fileBytes: segments.reduce((n, s) => n + s.fileBytes, 0),
    },
    checkpointLsn: 'lsn' in checkpoint ? checkpoint.lsn : null,
    ...('damaged' in checkpoint ? { checkpointDamage: checkpoint.damaged } : {}),
    lock: lockStatus(log.path),
    unfinishedTail: infos.unfinishedTail,
    sideFiles: log.sideFiles.map((name) => ({ name, bytes: sizeOf(`${log.path}/${name}`) })),
  };
}

/**
 * `wal.segments()` for a log that is not open here: the last segment's progress, which an open
 * log keeps in shared memory, is read from its records. If the log rotates between the walk
 * and the listing, both are done again.
 */
async function segmentsWithTail(dir: string): Promise<{
  segments: SegmentInfo[];
  tailFileBytes: number | null;
  unfinishedTail: TornTail | null;
}> {
  for (let attempt = 0; ; attempt++) {
    const tail = openLogDir(dir).segments.at(-1);
    if (!tail) return { segments: [], tailFileBytes: null, unfinishedTail: null };
    let scan: ReturnType<typeof scanTail>;
    try {
      scan = scanTail(tail);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && attempt < 5) continue; // removed by retention meanwhile
      throw e;
    }
    const segments = await segmentInfos(dir, {
      writtenLsn: () => scan.lastLsn,
      activeSegmentBytes: () => scan.validEnd,
    });
    if (segments.at(-1)?.name === tail.name || attempt >= 5) {
      return { segments, tailFileBytes: scan.fileSize, unfinishedTail: tornTailOf(tail, scan) };
    }
  }
}

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

export function inspectionText(x: Inspection): string {
  const rows = x.segments.map((s) => [
    s.name,
    String(s.firstLsn),
    s.entries > 0 ? String(s.lastLsn) : '-',
    count(s.entries),
    count(s.bytes) + (s.fileBytes > s.bytes ? ` (${bytesText(s.fileBytes)} allocated)` : ''),
    s.createdAt || 'bad header',
    s.sealed ? 'yes' : 'no (tail)',
  ]);
  const lines: string[] = [`log ${x.dir}`, ''];
  if (rows.length > 0) {
    lines.push(
      formatTable(
        [
          { header: 'segment' },
          { header: 'first LSN', align: 'right' },
          { header: 'last LSN', align: 'right' },
          { header: 'entries', align: 'right' },
          { header: 'bytes', align: 'right' },
          { header: 'created' },
          { header: 'sealed' },
        ],
        rows,
      ),
    );
  } else {
    lines.push('no segment files: an empty log', '');
  }
  const t = x.totals;
  lines.push(
    `total       ${count(t.segments)} segment${t.segments === 1 ? '' : 's'}, ${count(t.entries)} entries` +
      (t.entries > 0 ? ` (LSN ${t.firstLsn} to ${t.lastLsn})` : '') +
      `, ${bytesText(t.bytes)} of data`,
    `checkpoint  ${x.checkpointLsn === null ? `damaged: ${x.checkpointDamage}` : x.checkpointLsn === 0 ? 'none' : `LSN ${x.checkpointLsn}`}`,
    `lock        ${lockText(x.lock)}`,
  );
  if (x.unfinishedTail) {
    const u = x.unfinishedTail;
    lines.push(
      `tail        ${count(u.bytes)} bytes after the last complete entry at offset ${u.offset} (${u.reason}): ` +
        (x.lock.state === 'alive' ? 'a write in progress' : 'a torn tail; the next open sets it aside'),
    );
  }
  if (x.sideFiles.length > 0) {
    lines.push(`other files ${x.sideFiles.map((f) => `${f.name} (${bytesText(f.bytes)})`).join(', ')}`);
  }
  return `${lines.join('\n')}\n`;
}
