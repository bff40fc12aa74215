/**
 * A full disk, for real (issue #5, item 4): a 4 MiB tmpfs is mounted, a filler file takes
 * part of it, and a log with default options (preallocation on) appends until the file
 * system is full. Appends must then reject with WAL_NO_SPACE (sticky), nothing acknowledged
 * may be lost, a reopen while still full either works or fails with a WalError, and once the
 * filler is deleted the log reopens and continues the LSN sequence.
 *
 * Mounting needs root (CI runs as root); where it is refused the test is skipped and says why.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCode, openWal, readWal, type Wal, WalError, type WalOptions } from '../../src/index.js';

const MOUNT_BYTES = 4 * 1024 * 1024;
const FILLER_BYTES = 1024 * 1024;

const mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), 'ringwal-enospc-'));
let skipReason: string | null = null;
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${MOUNT_BYTES}`, 'tmpfs', mountPoint], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
} catch (e) {
  const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim();
  skipReason = `cannot mount a tmpfs at ${mountPoint}: ${stderr || (e as Error).message}`;
  console.log(`enospc-tmpfs: skipped: ${skipReason}`);
}

afterAll(() => {
  if (skipReason === null) {
    try {
      execFileSync('umount', [mountPoint], { stdio: 'ignore' });
    } catch {
      execFileSync('umount', ['-l', mountPoint], { stdio: 'ignore' }); // something still held it open
    }
  }
  fs.rmSync(mountPoint, { recursive: true, force: true });
});

/** The value appended at `lsn`: about 1 KiB, so the file system fills in a few thousand entries. */
function valueAt(lsn: number): unknown {
  return { lsn, pad: String.fromCharCode(97 + (lsn % 26)).repeat(700 + (lsn % 400)), f: lsn / 3 };
}

async function readAll(dir: string): Promise<{ lsn: number; value: unknown }[]> {
  const out: { lsn: number; value: unknown }[] = [];
  for await (const entry of readWal(dir)) out.push({ lsn: entry.lsn, value: entry.value });
  return out;
}

/**
 * What open dropped: `recoveryReport.corruptions`, or `openReport.repairs` in builds from
 * before recovery modes.
 */
function dropsOf(wal: object): { reason: string; action: string }[] {
  type Drop = { reason: string; action: string };
  const w = wal as { recoveryReport?: { corruptions: Drop[] }; openReport?: { repairs: Drop[] } };
  return w.recoveryReport?.corruptions ?? w.openReport?.repairs ?? [];
}

function codeOf(e: unknown): string {
  return e instanceof WalError ? e.code : `not a WalError: ${String(e)}`;
}

/** Appends bursts of `burst` until one is refused; returns the acknowledged LSNs and the error codes seen. */
async function appendUntilRefused(wal: Wal, burst: number, maxEntries: number) {
  const acked: number[] = [];
  const codes = new Set<string>();
  let firstRejected = 0;
  while (acked.length < maxEntries) {
    const base = wal.lastLsn;
    const results = await Promise.allSettled(
      Array.from({ length: burst }, (_, i) => wal.append(valueAt(base + 1 + i))),
    );
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') {
        expect(r.value).toBe(base + 1 + i);
        acked.push(r.value);
      } else {
        codes.add(codeOf(r.reason));
        if (firstRejected === 0) firstRejected = base + 1 + i;
      }
    });
    if (codes.size > 0) break;
  }
  return { acked, codes, firstRejected };
}

// Default options (64 MiB segments: the disk fills inside one preallocated segment), and 64 KiB
// segments (it fills while rotating, preparing the next segment, or appending).
const SETUPS: { label: string; options: WalOptions }[] = [
  { label: 'default options', options: {} },
  { label: '64 KiB segments', options: { segmentBytes: 64 * 1024 } },
];

describe.skipIf(skipReason !== null)('ENOSPC on a real (tmpfs) file system', () => {
  it.each(SETUPS)(
    '$label: rejects with WAL_NO_SPACE, loses nothing acknowledged, continues once space is freed',
    async ({ label, options }) => {
      // Each case starts from an empty file system.
      for (const name of fs.readdirSync(mountPoint))
        fs.rmSync(path.join(mountPoint, name), { recursive: true });
      const filler = path.join(mountPoint, 'filler');
      fs.writeFileSync(filler, new Uint8Array(FILLER_BYTES).fill(1));
      const dir = path.join(mountPoint, 'log');

      // Fill the disk. Bounded: 4 MiB holds well under 8,000 entries of ~1 KiB.
      const wal = await openWal(dir, options);
      const { acked, codes, firstRejected } = await appendUntilRefused(wal, 32, 8000);
      expect([...codes]).toEqual([ErrorCode.NO_SPACE]);
      expect(acked.length).toBeGreaterThan(0);
      // Acknowledged LSNs are a gapless prefix, and the first refusal comes right after it.
      expect(acked).toEqual(Array.from({ length: acked.length }, (_, i) => i + 1));
      expect(firstRejected).toBe(acked.length + 1);
      const ackedBeforeFull = acked.length;
      // Sticky: later appends, sync() and close() fail the same way.
      await expect(wal.append(valueAt(wal.lastLsn + 1))).rejects.toMatchObject({ code: ErrorCode.NO_SPACE });
      await expect(wal.sync()).rejects.toMatchObject({ code: ErrorCode.NO_SPACE });
      expect(wal.error?.code).toBe(ErrorCode.NO_SPACE);
      const closeError = await wal.close().then(
        () => null,
        (e: unknown) => e,
      );
      expect(closeError === null || codeOf(closeError) === ErrorCode.NO_SPACE).toBe(true);
      const freeWhenFull = fs.statfsSync(mountPoint).bavail * fs.statfsSync(mountPoint).bsize;

      // Nothing acknowledged is lost, read back from the full disk.
      const onDisk = await readAll(dir);
      expect(onDisk.length).toBeGreaterThanOrEqual(acked.length);
      onDisk.forEach((entry, i) => {
        expect(entry.lsn).toBe(i + 1);
        expect(entry.value).toEqual(valueAt(entry.lsn));
      });

      // Reopening while still full either works (and then appends are refused again, or fit
      // into what is left) or fails with a typed error, never a raw one, and loses nothing.
      let fullReopen: string;
      try {
        const again = await openWal(dir, options);
        const reopenedAt = again.lastLsn;
        const more = await appendUntilRefused(again, 8, 64);
        fullReopen = `reopened at LSN ${reopenedAt}, then ${more.acked.length} more acknowledged, then ${[...more.codes].join(',') || 'no refusal'}`;
        expect([...more.codes].every((c) => c === ErrorCode.NO_SPACE)).toBe(true);
        acked.push(...more.acked);
        await again.close().catch((e: unknown) => expect(codeOf(e)).toBe(ErrorCode.NO_SPACE));
      } catch (e) {
        expect(e).toBeInstanceOf(WalError);
        fullReopen = `open refused: ${codeOf(e)} (${(e as Error).message})`;
      }
      const afterFullReopen = await readAll(dir);
      expect(afterFullReopen.length).toBeGreaterThanOrEqual(acked.at(-1)!);

      // Free space, reopen and continue.
      fs.rmSync(filler);
      const reopened = await openWal(dir, options);
      const resumedAt = reopened.lastLsn;
      expect(resumedAt).toBeGreaterThanOrEqual(acked.at(-1)!);
      const later = await Promise.all(
        Array.from({ length: 500 }, (_, i) => reopened.append(valueAt(resumedAt + 1 + i))),
      );
      expect(later).toEqual(Array.from({ length: 500 }, (_, i) => resumedAt + 1 + i));
      const repairs = dropsOf(reopened).map((r) => `${r.reason}: ${r.action}`);
      await reopened.close();

      const listing = fs.readdirSync(dir);
      const files =
        listing.length > 8
          ? `${listing.length} files`
          : listing.map((name) => `${name} (${fs.statSync(path.join(dir, name)).size} B)`).join(', ');
      const final = await readAll(dir);
      expect(final.length).toBe(resumedAt + 500);
      final.forEach((entry, i) => {
        expect(entry.lsn).toBe(i + 1);
        expect(entry.value).toEqual(valueAt(entry.lsn));
      });
      console.log(
        [
          `enospc-tmpfs (${label}): ${MOUNT_BYTES / 1024} KiB tmpfs, ${FILLER_BYTES / 1024} KiB filler`,
          `  acknowledged before ENOSPC: ${ackedBeforeFull} entries (first refused LSN ${firstRejected}); ${freeWhenFull} bytes free when refused`,
          `  on disk after the failure: ${onDisk.length} entries`,
          `  reopen while full: ${fullReopen}`,
          `  after freeing ${FILLER_BYTES / 1024} KiB: reopened at LSN ${resumedAt}${repairs.length ? ` (repairs: ${repairs.join('; ')})` : ''}, appended 500 more; ${final.length} entries read back, gapless, values exact`,
          `  files: ${files}`,
        ].join('\n'),
      );
    },
    60_000,
  );
});
