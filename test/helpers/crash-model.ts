/**
 * What a power cut leaves on disk: replays a journal written by the page-cache file system
 * (test/fixtures/page-cache-fs.mjs) up to a crash point and builds the directory a machine
 * would find after rebooting, for each way the unsynced state can have landed.
 *
 * The model (one directory, the log's; ext4-like, assumptions stated so they can be argued):
 *
 * - Each file (inode) has its durable bytes (content and size as of its last successful
 *   fdatasync/fsync) and the page cache's bytes, with the byte ranges written (or exposed by
 *   a size change) since that sync: its *dirty* ranges. fdatasync and fsync of a file make
 *   its content and size durable, and nothing else: not its name, not another file.
 * - Directory entries: creating a file, rename and unlink change the page cache's view at
 *   once, but are durable only after an fsync of the directory. Until then a crash keeps a
 *   *prefix* of them, in order (the ext4 journal commits metadata in order; rename is atomic:
 *   a name points at the old inode or the new one, never at neither). A file whose name is
 *   not durable is gone after the crash, whatever was synced into it.
 * - Unsynced data, per file, after a crash (each outcome is tried at every crash point; the
 *   pieces are the dirty ranges cut at 512- or 4096-byte file offsets):
 *     lost       the durable content and size, as if nothing since the last sync happened;
 *     kept       everything the page cache had (what a process crash leaves);
 *     prefix-512 the new size; the pieces up to a random one new, the rest old (sectors
 *                written back in file order, the power cut somewhere in the middle);
 *     torn-512   the new size; each 512-byte piece independently new or old (sectors of a
 *                page written back in any order);
 *     torn-4096  the new size; each 4 KiB page independently new or old (pages written back
 *                in any order);
 *     zeros      the new size, the unsynced bytes read as zeros (the size reached the journal,
 *                the data never did: allocated-but-unwritten extents);
 *     garbage    the new size; a random prefix of pieces new, every piece after it random
 *                bytes (a torn write whose last sectors were scribbled; stale blocks).
 *   "Old" bytes beyond the durable size read as zeros (a hole). Only unsynced bytes ever
 *   change: bytes that were fdatasync'd are never damaged, even when they share a sector
 *   with unsynced ones (we assume sectors are written atomically; a disk that tears a
 *   sector holding synced data is outside this model).
 * - ftruncate changes the size in the page cache only; the next sync makes the new size
 *   durable (`lost` keeps the old size and bytes). Extending exposes zeros.
 * - A failed fdatasync/fsync (injected) leaves the file's dirty ranges *dropped*: they never
 *   become durable, even if a later sync of the same file succeeds (Linux marks the pages
 *   clean after reporting the error once). A failed directory fsync leaves the pending
 *   directory changes pending. A call marked `lie` (a writer that skipped it, a disk that
 *   ignores flushes) has no durable effect. Any other failed call has no effect at all.
 * - Files outside the directory, and calls that do not go through the seam (the LOCK file,
 *   the directory's own creation), are not modelled: LOCK is not meant to survive a crash,
 *   and the tests create the directory durably before the journal starts. The directory
 *   listing after a crash holds only regular files.
 * - Not modelled: ext4's auto_da_alloc (rename-over-file flushing data early) and data=journal
 *   (both only make a crash kinder), and a directory fsync also persisting the inodes it names.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseSegmentName } from '../../src/segment/naming.js';
import type { JournalEntry } from '../fixtures/page-cache-fs.mjs';

export const DATA_OUTCOMES = [
  'lost',
  'kept',
  'prefix-512',
  'torn-512',
  'torn-4096',
  'zeros',
  'garbage',
] as const;
export type DataOutcome = (typeof DATA_OUTCOMES)[number];
export const NAME_OUTCOMES = ['none', 'some', 'all'] as const;
export type NameOutcome = (typeof NAME_OUTCOMES)[number];

interface Inode {
  id: number;
  durable: Uint8Array;
  cache: Uint8Array;
  size: number;
  /** Sorted, disjoint [start, end) ranges written or exposed since the last sync. */
  dirty: [number, number][];
}

type NameOp =
  | { kind: 'create'; name: string; id: number }
  | { kind: 'rename'; from: string; to: string }
  | { kind: 'unlink'; name: string };

const DIR_FD = -1;

export class DiskModel {
  private dir = '';
  private nextId = 1;
  private readonly inodes = new Map<number, Inode>();
  /** The page cache's directory: what a reader of the running system sees. */
  readonly names = new Map<string, number>();
  /** The directory as of its last fsync. */
  readonly durableNames = new Map<string, number>();
  /** Directory changes since the last directory fsync, in order. */
  readonly pending: NameOp[] = [];
  private readonly fds = new Map<number, number>();
  /** Journal entries applied so far. */
  applied = 0;

  apply(entry: JournalEntry): void {
    this.applied++;
    if (entry.op === 'snapshot') {
      this.dir = String(entry.dir);
      for (const file of entry.files ?? []) {
        if (file.name.startsWith('LOCK')) continue; // not modelled: no process holds it after a crash
        const inode = this.newInode();
        inode.durable = file.data.slice();
        inode.cache = file.data.slice();
        inode.size = file.data.length;
        this.names.set(file.name, inode.id);
        this.durableNames.set(file.name, inode.id);
      }
      return;
    }
    if (entry.failed !== undefined) {
      // A sync that failed drops the dirty pages; any other failed call did nothing.
      if ((entry.op === 'fdatasync' || entry.op === 'fsync') && !entry.real) {
        const id = this.fds.get(entry.fd!);
        if (id !== undefined && id !== DIR_FD) this.inodes.get(id)!.dirty = [];
      }
      return;
    }
    switch (entry.op) {
      case 'open':
        this.open(entry);
        return;
      case 'close':
        this.fds.delete(entry.fd!);
        return;
      case 'writev':
        this.write(entry);
        return;
      case 'ftruncate': {
        const inode = this.inodeOf(entry.fd!);
        if (inode) this.truncate(inode, entry.length!);
        return;
      }
      case 'fdatasync':
      case 'fsync':
        if (entry.lie) return;
        this.sync(entry.fd!);
        return;
      case 'rename':
        this.rename(entry.from!, entry.to!);
        return;
      case 'unlink': {
        const name = this.inDir(entry.path!);
        if (name !== null && this.names.delete(name)) this.pending.push({ kind: 'unlink', name });
        return;
      }
      default:
      // reads, listings, stats, marks: nothing changes
    }
  }

  /** Basename of `p` if it is directly in the modelled directory, else null. */
  private inDir(p: string): string | null {
    return path.dirname(p) === this.dir ? path.basename(p) : null;
  }

  private newInode(): Inode {
    const inode: Inode = {
      id: this.nextId++,
      durable: new Uint8Array(0),
      cache: new Uint8Array(0),
      size: 0,
      dirty: [],
    };
    this.inodes.set(inode.id, inode);
    return inode;
  }

  private inodeOf(fd: number): Inode | undefined {
    const id = this.fds.get(fd);
    return id === undefined || id === DIR_FD ? undefined : this.inodes.get(id);
  }

  private open(entry: JournalEntry): void {
    if (entry.dir === true) {
      this.fds.set(entry.fd!, DIR_FD);
      return;
    }
    const name = this.inDir(entry.path!);
    if (name === null) return;
    const flags = entry.flags ?? 'r';
    let id = this.names.get(name);
    if (id === undefined) {
      if (!flags.includes('w') && !flags.includes('a')) return; // not a file the model knows
      const inode = this.newInode();
      id = inode.id;
      this.names.set(name, id);
      this.pending.push({ kind: 'create', name, id });
    } else if (flags.includes('w')) {
      this.truncate(this.inodes.get(id)!, 0);
    }
    this.fds.set(entry.fd!, id);
  }

  private write(entry: JournalEntry): void {
    const inode = this.inodeOf(entry.fd!);
    if (!inode || !entry.data || entry.data.length === 0) return;
    const pos = entry.position!;
    const end = pos + entry.data.length;
    this.reserve(inode, end);
    inode.cache.set(entry.data, pos);
    addRange(inode.dirty, Math.min(pos, inode.size), end);
    inode.size = Math.max(inode.size, end);
  }

  private truncate(inode: Inode, length: number): void {
    if (length < inode.size) {
      inode.cache.fill(0, length, inode.size);
      inode.dirty = clipRanges(inode.dirty, length);
      // Cutting into durable bytes is a change the next sync makes durable.
      if (length < inode.durable.length) addRange(inode.dirty, length, length);
    } else if (length > inode.size) {
      this.reserve(inode, length);
      addRange(inode.dirty, inode.size, length);
    }
    inode.size = length;
  }

  private reserve(inode: Inode, size: number): void {
    if (inode.cache.length >= size) return;
    const grown = new Uint8Array(Math.max(size, inode.cache.length * 2));
    grown.set(inode.cache);
    inode.cache = grown;
  }

  private sync(fd: number): void {
    const id = this.fds.get(fd);
    if (id === undefined) return;
    if (id === DIR_FD) {
      for (const op of this.pending) applyNameOp(this.durableNames, op);
      this.pending.length = 0;
      return;
    }
    const inode = this.inodes.get(id)!;
    inode.durable = this.imageOf(inode, 'kept', () => 0);
    inode.dirty = [];
  }

  private rename(from: string, to: string): void {
    const a = this.inDir(from);
    const b = this.inDir(to);
    if (a === null || b === null) return;
    const id = this.names.get(a);
    if (id === undefined) return;
    this.names.delete(a);
    this.names.set(b, id);
    this.pending.push({ kind: 'rename', from: a, to: b });
  }

  /** Whether any file has unsynced bytes (a size change counts). */
  hasDirtyData(): boolean {
    for (const id of new Set([...this.names.values(), ...this.durableNames.values()])) {
      const inode = this.inodes.get(id)!;
      if (inode.dirty.length > 0) return true;
    }
    return false;
  }

  /** The outcomes worth trying now: every data outcome if anything is dirty, every prefix kind if names are pending. */
  outcomes(): { data: DataOutcome; names: NameOutcome }[] {
    const data: readonly DataOutcome[] = this.hasDirtyData() ? DATA_OUTCOMES : ['lost'];
    const names: readonly NameOutcome[] =
      this.pending.length === 0 ? ['none'] : this.pending.length === 1 ? ['none', 'all'] : NAME_OUTCOMES;
    const out: { data: DataOutcome; names: NameOutcome }[] = [];
    for (const n of names) for (const d of data) out.push({ data: d, names: n });
    return out;
  }

  /** The directory after a crash now: file name -> bytes. */
  crashImage(data: DataOutcome, names: NameOutcome, seed: number): Map<string, Uint8Array> {
    const random = mulberry32(seed);
    const durable = new Map(this.durableNames);
    const keep =
      names === 'none'
        ? 0
        : names === 'all'
          ? this.pending.length
          : 1 + Math.floor(random() * Math.max(1, this.pending.length - 1));
    for (const op of this.pending.slice(0, keep)) applyNameOp(durable, op);
    const files = new Map<string, Uint8Array>();
    for (const [name, id] of [...durable].sort((x, y) => (x[0] < y[0] ? -1 : 1))) {
      files.set(name, this.imageOf(this.inodes.get(id)!, data, random));
    }
    return files;
  }

  /** The segment files the running system's directory holds now (the page cache's view). */
  liveSegmentFirstLsns(): number[] {
    const out: number[] = [];
    for (const name of this.names.keys()) {
      const parsed = parseSegmentName(name);
      if (parsed) out.push(parsed.firstLsn);
    }
    return out.sort((a, b) => a - b);
  }

  /**
   * The directory after a crash where each unsynced piece (dirty ranges cut at `grain`-byte
   * file offsets) lands as `decide` says, and every file keeps its new size: for reproducers
   * of one precise tearing.
   */
  crashImageWith(
    names: NameOutcome,
    grain: number,
    decide: (file: string, start: number, end: number) => PieceFate,
  ): Map<string, Uint8Array> {
    const durable = new Map(this.durableNames);
    if (names === 'all') for (const op of this.pending) applyNameOp(durable, op);
    const files = new Map<string, Uint8Array>();
    for (const [name, id] of [...durable].sort((x, y) => (x[0] < y[0] ? -1 : 1))) {
      files.set(
        name,
        this.buildImage(this.inodes.get(id)!, false, grain, (a, b) => decide(name, a, b), Math.random),
      );
    }
    return files;
  }

  private imageOf(inode: Inode, data: DataOutcome, random: () => number): Uint8Array {
    if (data === 'lost') return this.buildImage(inode, true, 512, () => 'old', random);
    const grain = data === 'torn-4096' ? 4096 : 512;
    let cut = -1;
    return this.buildImage(
      inode,
      false,
      grain,
      (_a, _b, i, count) => {
        if (cut < 0) cut = Math.floor(random() * (count + 1));
        switch (data) {
          case 'kept':
            return 'new';
          case 'prefix-512':
            return i < cut ? 'new' : 'old';
          case 'torn-512':
          case 'torn-4096':
            return random() < 0.5 ? 'new' : 'old';
          case 'zeros':
            return 'zeros';
          default:
            return i < cut ? 'new' : 'garbage';
        }
      },
      random,
    );
  }

  private buildImage(
    inode: Inode,
    durableSize: boolean,
    grain: number,
    decide: (start: number, end: number, index: number, count: number) => PieceFate,
    random: () => number,
  ): Uint8Array {
    const size = durableSize ? inode.durable.length : inode.size;
    const out = new Uint8Array(size);
    out.set(inode.durable.subarray(0, Math.min(size, inode.durable.length)));
    const pieces: [number, number][] = [];
    for (const [a, b] of inode.dirty) {
      for (let at = a; at < Math.min(b, size); at = (Math.floor(at / grain) + 1) * grain) {
        pieces.push([at, Math.min(b, size, (Math.floor(at / grain) + 1) * grain)]);
      }
    }
    pieces.forEach(([a, b], i) => {
      const fate = decide(a, b, i, pieces.length);
      if (fate === 'new') out.set(inode.cache.subarray(a, b), a);
      else if (fate === 'zeros') out.fill(0, a, b);
      else if (fate === 'garbage') for (let j = a; j < b; j++) out[j] = Math.floor(random() * 256);
      else {
        // Old bytes: the durable ones, zeros past the durable size.
        out.fill(0, a, b);
        if (a < inode.durable.length)
          out.set(inode.durable.subarray(a, Math.min(b, inode.durable.length)), a);
      }
    });
    return out;
  }
}

/** What becomes of one unsynced piece at a crash. */
export type PieceFate = 'new' | 'old' | 'zeros' | 'garbage';

function applyNameOp(names: Map<string, number>, op: NameOp): void {
  if (op.kind === 'create') names.set(op.name, op.id);
  else if (op.kind === 'unlink') names.delete(op.name);
  else {
    const id = names.get(op.from);
    if (id === undefined) return;
    names.delete(op.from);
    names.set(op.to, id);
  }
}

/** Adds [a, b) to sorted disjoint ranges, merging. An empty range marks a size change at `a`. */
function addRange(ranges: [number, number][], a: number, b: number): void {
  ranges.push([a, b]);
  ranges.sort((x, y) => x[0] - y[0]);
  const merged: [number, number][] = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else merged.push([r[0], r[1]]);
  }
  ranges.length = 0;
  ranges.push(...merged);
}

function clipRanges(ranges: [number, number][], size: number): [number, number][] {
  return ranges
    .filter((r) => r[0] < size || (r[0] === r[1] && r[0] === size))
    .map((r) => [r[0], Math.min(r[1], size)]);
}

/** A small seeded generator, so a crash image can be rebuilt from its point and outcome. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A digest of a directory image: equal images recover alike, so each is recovered once. */
export function imageKey(files: Map<string, Uint8Array>): string {
  const hash = createHash('sha1');
  for (const [name, bytes] of files) {
    hash.update(`${name}\0${bytes.length}\0`);
    hash.update(bytes);
  }
  return hash.digest('hex');
}

/** Writes an image into `dir` (created, and assumed empty). */
export function materialize(files: Map<string, Uint8Array>, dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of files) fs.writeFileSync(path.join(dir, name), bytes);
}

/** Rebuilds the model at `point` (entries [0, point) applied). */
export function modelAt(journal: readonly JournalEntry[], point: number): DiskModel {
  const model = new DiskModel();
  for (let i = 0; i < point; i++) model.apply(journal[i]);
  return model;
}

/** "#12 fdatasync wal-...log" for reports. */
export function describeEntry(entry: JournalEntry | undefined): string {
  if (!entry) return 'after the last call';
  const what = entry.op === 'mark' ? `mark ${entry.label}` : `${entry.op} ${entry.file ?? ''}`;
  return `#${entry.i} ${what}${entry.failed ? ` (failed ${entry.failed})` : ''}`.trim();
}
