/**
 * Shared pieces of the fuzz tests (issue #5, item 6): real logs written by `openWal` to start
 * from, byte mutators described as data (so fast-check can generate and shrink them), and
 * runners that feed a directory to `readWal`, `openWal` or `recoverState` with a time bound
 * and classify what came out.
 *
 * Recovery modes: every runner takes a `mode` (option `recovery` on openWal, readWal and
 * recoverState), and each fuzz test runs all four (MODES). `perMode` splits a case budget
 * between them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { expect, vi } from 'vitest';
import {
  type CorruptionReport,
  ErrorCode,
  openWal,
  type RecoveryMode,
  readWal,
  recoverState,
  WalError,
  type WalOptions,
} from '../../src/index.js';

/** The recovery modes every fuzz test runs (docs/FORMAT.md "Recovery modes: what open does"). */
export const MODES: RecoveryMode[] = ['strict', 'tolerate-tail', 'point-in-time', 'skip-corrupt'];

/**
 * Cases per mode: `RINGWAL_FUZZ_SCALE` (default 1) times `base`, at least 1. The defaults keep
 * the whole test/fuzz directory under about a minute on a 2-core machine; raise the scale for
 * a longer hunt (RINGWAL_FUZZ_SCALE=10 RINGWAL_SEED=... npx vitest run test/fuzz).
 */
export function perMode(base: number): number {
  const scale = Number(process.env.RINGWAL_FUZZ_SCALE ?? 1);
  return Math.max(1, Math.round(base * scale));
}

export const SEGMENT_NAME = /^wal-\d{16}-\d{8}-\d{6}-\d{3}\.log$/;
const SEGMENT_HEADER_BYTES = 40;
const RECORD_HEADER_BYTES = 24;

/** A fixed seed (override with RINGWAL_SEED) so a failure can be replayed. */
export const SEED = Number(process.env.RINGWAL_SEED ?? 0xf022);

/** The seed of one property in one mode: each mode gets its own cases. */
export function seedFor(property: number, mode: RecoveryMode): number {
  return SEED + property + 16 * MODES.indexOf(mode);
}

/** Deterministic key-value entries, some large enough to be written as fragments. */
export function templateValue(i: number): unknown {
  if (i % 11 === 0) return { op: 'delete', key: `k${i % 37}`, ts: i };
  const big = i % 29 === 0;
  return { op: 'set', key: `k${i % 37}`, value: { i, pad: 'z'.repeat(big ? 20_000 : i % 90) }, ts: i };
}

export interface Template {
  dir: string;
  /** Segment file names, oldest first. */
  segments: string[];
  /** Every entry's value by LSN (index 0 unused). */
  values: unknown[];
}

/**
 * A real log: small segments (4 KiB), a 64 KiB ring (entries over 16 KiB become FIRST/LAST
 * fragments), a few explicit rotations and a checkpoint (20 below the end), closed cleanly.
 */
export async function buildTemplate(dir: string, entries = 160): Promise<Template> {
  const wal = await openWal(dir, { segmentBytes: 4096, ringBytes: 64 * 1024, flushOnExit: false });
  const values: unknown[] = [undefined];
  for (let i = 1; i <= entries; i++) {
    values.push(templateValue(i));
    const lsn = await wal.append(templateValue(i));
    if (lsn !== i) throw new Error(`template: LSN ${lsn}, expected ${i}`);
    if (i % 45 === 0) await wal.rotate();
  }
  if (entries > 20) await wal.checkpoint(entries - 20);
  await wal.close();
  const segments = fs
    .readdirSync(dir)
    .filter((n) => SEGMENT_NAME.test(n))
    .sort();
  return { dir, segments, values };
}

/** Record offsets in a segment file's bytes (a plain walk; stops at zeros or the end). */
export function recordOffsets(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  let at = SEGMENT_HEADER_BYTES;
  while (at + RECORD_HEADER_BYTES <= bytes.length) {
    const length = view.getUint32(at + 4, true);
    if (view.getUint8(at + 14) === 0) break;
    out.push(at);
    at += Math.ceil((RECORD_HEADER_BYTES + length) / 8) * 8;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Mutations, as data.

/** A length field value: the interesting extremes, and anything. */
export const lengthArb = fc.oneof(
  fc.constantFrom(
    0xffffffff,
    0xfffffff8,
    0x80000000,
    0x40000000,
    0x40000001,
    0x10000000,
    0,
    1,
    4096,
    0x100000,
  ),
  fc.integer({ min: 0, max: 0xffffffff }),
);

export type Mutation =
  | { kind: 'flip'; at: number; xor: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'splice'; from: number; to: number; length: number; otherFile: number; insert: boolean }
  | { kind: 'length'; record: number; value: number; fixCrc: boolean }
  | { kind: 'zero'; at: number; length: number }
  | { kind: 'append'; bytes: Uint8Array }
  | { kind: 'append-zeros'; length: number }
  | { kind: 'random-body'; bytes: Uint8Array }
  | { kind: 'random-file'; bytes: Uint8Array }
  | { kind: 'header-field'; offset: number; value: number; float: boolean; fixCrc: boolean }
  | { kind: 'payload-fixcrc'; record: number; at: number; xor: number }
  | { kind: 'delete-file' }
  | { kind: 'rename-file'; firstLsn: number };

const position = fc.nat({ max: 1 << 20 });

/**
 * Mutations; with `forging`, also those that fix up a CRC over changed bytes, which make valid
 * records holding bytes no writer produced (see `forges`).
 */
export function mutationArb(forging: boolean): fc.Arbitrary<Mutation> {
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('flip' as const),
        at: position,
        xor: fc.integer({ min: 1, max: 255 }),
      }),
    },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: position }) },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('splice' as const),
        from: position,
        to: position,
        length: fc.integer({ min: 1, max: 600 }),
        otherFile: fc.nat(),
        insert: fc.boolean(),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('length' as const),
        record: fc.nat(),
        value: lengthArb,
        fixCrc: forging ? fc.boolean() : fc.constant(false),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('zero' as const),
        at: position,
        length: fc.integer({ min: 1, max: 4096 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('append' as const),
        bytes: fc.uint8Array({ minLength: 1, maxLength: 300 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('append-zeros' as const),
        length: fc.integer({ min: 1, max: 70_000 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('random-body' as const),
        bytes: fc.uint8Array({ maxLength: 3000 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('random-file' as const),
        bytes: fc.uint8Array({ maxLength: 3000 }),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('header-field' as const),
        offset: fc.constantFrom(0, 4, 6, 8, 16, 24, 28, 32),
        value: fc.oneof(lengthArb, fc.double()),
        float: fc.boolean(),
        fixCrc: fc.boolean(),
      }),
    },
    {
      weight: forging ? 2 : 0,
      arbitrary: fc.record({
        kind: fc.constant('payload-fixcrc' as const),
        record: fc.nat(),
        at: fc.nat(),
        xor: fc.integer({ min: 1, max: 255 }),
      }),
    },
    { weight: 1, arbitrary: fc.constant({ kind: 'delete-file' as const }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('rename-file' as const),
        firstLsn: fc.integer({ min: 1, max: 400 }),
      }),
    },
  );
}

/** One fuzz case: which segment to damage (an index taken modulo the count; -1 is the tail) and how. */
export interface SegmentCase {
  file: number;
  mutations: Mutation[];
}
export function segmentCaseArb(forging: boolean): fc.Arbitrary<SegmentCase> {
  return fc.record({
    // The tail is where recovery has choices to make: pick it half of the time.
    file: fc.oneof(fc.constant(-1), fc.nat()),
    mutations: fc.array(mutationArb(forging), { minLength: 1, maxLength: 4 }),
  });
}

/**
 * Whether the mutations can forge a valid record (a CRC fixed up over changed bytes): entries
 * read back may then hold values never appended. Every other mutation can only damage,
 * drop or move real records, so anything read back must be exactly what was appended.
 */
export function forges(c: SegmentCase): boolean {
  return c.mutations.some((m) => m.kind === 'payload-fixcrc' || (m.kind === 'length' && m.fixCrc));
}

/** CRC32C (Castagnoli), bitwise: an implementation independent of src/format/crc32c.ts, for fixing up forged bytes. */
export function crc32c(bytes: Uint8Array, start: number, end: number): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) {
    crc ^= bytes[i];
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function fixRecordCrc(bytes: Uint8Array, at: number): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getUint32(at + 4, true);
  const end = at + RECORD_HEADER_BYTES + length;
  if (end <= bytes.length) view.setUint32(at, crc32c(bytes, at + 4, end), true);
}

/** Copies the template into `dir` and applies the case's mutations to one segment. Returns a description. */
export function applyCase(template: Template, dir: string, c: SegmentCase): string {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.cpSync(template.dir, dir, { recursive: true });
  fs.rmSync(path.join(dir, 'LOCK'), { force: true });
  const names = template.segments;
  let name = c.file < 0 ? names[names.length - 1] : names[c.file % names.length];
  let bytes: Uint8Array = new Uint8Array(fs.readFileSync(path.join(dir, name)));
  const done: string[] = [];
  for (const m of c.mutations) {
    const view = () => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    switch (m.kind) {
      case 'flip':
        if (bytes.length > 0) bytes[m.at % bytes.length] ^= m.xor;
        break;
      case 'truncate':
        bytes = bytes.slice(0, m.at % (bytes.length + 1));
        break;
      case 'splice': {
        const other = new Uint8Array(
          fs.readFileSync(path.join(template.dir, names[m.otherFile % names.length])),
        );
        const from = m.from % Math.max(1, other.length);
        const piece = other.slice(from, from + m.length);
        const to = m.to % (bytes.length + 1);
        if (m.insert) {
          const out = new Uint8Array(bytes.length + piece.length);
          out.set(bytes.subarray(0, to));
          out.set(piece, to);
          out.set(bytes.subarray(to), to + piece.length);
          bytes = out;
        } else {
          const out = new Uint8Array(Math.max(bytes.length, to + piece.length));
          out.set(bytes);
          out.set(piece, to);
          bytes = out;
        }
        break;
      }
      case 'length': {
        const records = recordOffsets(bytes);
        if (records.length === 0) break;
        const at = records[m.record % records.length];
        view().setUint32(at + 4, m.value, true);
        if (m.fixCrc) fixRecordCrc(bytes, at);
        break;
      }
      case 'zero':
        if (bytes.length > 0) bytes.fill(0, m.at % bytes.length, (m.at % bytes.length) + m.length);
        break;
      case 'append': {
        const out = new Uint8Array(bytes.length + m.bytes.length);
        out.set(bytes);
        out.set(m.bytes, bytes.length);
        bytes = out;
        break;
      }
      case 'append-zeros': {
        const out = new Uint8Array(bytes.length + m.length);
        out.set(bytes);
        bytes = out;
        break;
      }
      case 'random-body': {
        const out = new Uint8Array(SEGMENT_HEADER_BYTES + m.bytes.length);
        out.set(bytes.subarray(0, SEGMENT_HEADER_BYTES));
        out.set(m.bytes, SEGMENT_HEADER_BYTES);
        bytes = out;
        break;
      }
      case 'random-file':
        bytes = m.bytes.slice();
        break;
      case 'header-field': {
        if (bytes.length < SEGMENT_HEADER_BYTES) break;
        if (m.float && (m.offset === 8 || m.offset === 16)) view().setFloat64(m.offset, m.value, true);
        else if (m.offset === 4 || m.offset === 6)
          view().setUint16(m.offset, Math.abs(Math.trunc(m.value)) & 0xffff, true);
        else view().setUint32(m.offset, Math.abs(Math.trunc(m.value)) >>> 0, true);
        if (m.fixCrc) view().setUint32(36, crc32c(bytes, 0, 36), true);
        break;
      }
      case 'payload-fixcrc': {
        const records = recordOffsets(bytes);
        if (records.length === 0) break;
        const at = records[m.record % records.length];
        const length = view().getUint32(at + 4, true);
        if (length === 0 || at + RECORD_HEADER_BYTES + length > bytes.length) break;
        bytes[at + RECORD_HEADER_BYTES + (m.at % length)] ^= m.xor;
        fixRecordCrc(bytes, at);
        break;
      }
      case 'delete-file':
        fs.rmSync(path.join(dir, name));
        done.push(`delete ${name}`);
        return done.join('; ');
      case 'rename-file': {
        const renamed = name.replace(/^wal-\d{16}/, `wal-${String(m.firstLsn).padStart(16, '0')}`);
        if (renamed !== name && !fs.existsSync(path.join(dir, renamed))) {
          fs.renameSync(path.join(dir, name), path.join(dir, renamed));
          name = renamed;
        }
        break;
      }
    }
    done.push(m.kind);
  }
  fs.writeFileSync(path.join(dir, name), bytes);
  return `${name}: ${done.join(', ')}`;
}

// ---------------------------------------------------------------------------------------------
// Running the API on a damaged directory.

export const CASE_TIMEOUT_MS = 15_000;
const CODES = new Set<string>(Object.values(ErrorCode));

export class Hung extends Error {}

/** Rejects with Hung if `work` has not settled after CASE_TIMEOUT_MS. */
export async function bounded<T>(what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Hung(`${what} did not finish in ${CASE_TIMEOUT_MS} ms`)),
      CASE_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** What one call produced: the entries or state it returned, or the WalError it threw. */
export type Outcome<T> =
  | { ok: true; value: T }
  | { ok: false; code: string; message: string; path?: string; offset?: number };

/**
 * Runs `work`, turning a WalError into its code (and, for WAL_CORRUPT, where). Anything else
 * thrown (a raw Error, a TypeError, a hang) is a failure of the property and is rethrown with
 * `what` and the case. A WAL_CORRUPT must name the file and the offset.
 */
export async function outcome<T>(what: string, work: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await bounded(what, work()) };
  } catch (e) {
    if (e instanceof WalError && CODES.has(e.code)) {
      if (e.code === ErrorCode.CORRUPT) {
        expect(typeof e.path, `${what}: WAL_CORRUPT without a path: ${e.message}`).toBe('string');
        expect(Number.isSafeInteger(e.offset), `${what}: WAL_CORRUPT without an offset: ${e.message}`).toBe(
          true,
        );
      }
      return { ok: false, code: e.code, message: e.message, path: e.path, offset: e.offset };
    }
    const shown = e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e);
    throw new Error(`${what} threw something other than a WalError: ${shown}`, { cause: e });
  }
}

/**
 * LSNs read back: consecutive in every mode but 'skip-corrupt', where damage skipped may leave
 * gaps; strictly increasing in every mode.
 */
export function expectLsnOrder(entries: { lsn: number }[], mode: RecoveryMode, what: string): void {
  for (let i = 1; i < entries.length; i++) {
    const [before, lsn] = [entries[i - 1].lsn, entries[i].lsn];
    if (mode === 'skip-corrupt') expect(lsn, `${what}: LSN ${lsn} after ${before}`).toBeGreaterThan(before);
    else expect(lsn, `${what}: LSN ${lsn} after ${before}`).toBe(before + 1);
  }
}

function withMode<T extends object>(options: T, mode: RecoveryMode): T {
  return { ...options, recovery: mode };
}

/** readWal, fully consumed; the deadline is also checked between entries (a loop of microtasks starves timers). */
export async function readEntries(
  dir: string,
  mode: RecoveryMode,
  maxEntryBytes?: number,
  reports?: CorruptionReport[],
): Promise<{ lsn: number; value: unknown }[]> {
  const deadline = performance.now() + CASE_TIMEOUT_MS;
  const out: { lsn: number; value: unknown }[] = [];
  const onCorruption = reports ? (r: CorruptionReport) => void reports.push(r) : undefined;
  for await (const entry of readWal(dir, withMode({ maxEntryBytes, onCorruption }, mode))) {
    out.push({ lsn: entry.lsn, value: entry.value });
    if (performance.now() > deadline) throw new Hung(`readWal still yielding after ${CASE_TIMEOUT_MS} ms`);
  }
  return out;
}

/** openWal, one append, close: the log must either refuse to open with a WalError or work. */
export async function openAppendClose(
  dir: string,
  mode: RecoveryMode,
  options: WalOptions = {},
): Promise<{ lastLsn: number; appended: number; checkpointLsn: number }> {
  const wal = await openWal(dir, withMode({ flushOnExit: false, ...options }, mode));
  try {
    const lastLsn = wal.lastLsn;
    const checkpointLsn = wal.checkpointLsn;
    const appended = await wal.append({ op: 'set', key: 'fuzz', value: lastLsn + 1, ts: 0 });
    return { lastLsn, appended, checkpointLsn };
  } finally {
    await wal.close();
  }
}

export function recover(
  dir: string,
  mode: RecoveryMode,
  reports?: CorruptionReport[],
): Promise<Map<string, unknown>> {
  const onCorruption = reports ? (r: CorruptionReport) => void reports.push(r) : undefined;
  return recoverState(dir, withMode({ threads: 1, onCorruption }, mode));
}

/** The state a sequential replay of `entries` gives (what recoverState must equal). */
export function replayState(entries: { value: unknown }[]): Map<string, unknown> {
  const state = new Map<string, unknown>();
  for (const { value } of entries) {
    const v = value as { op?: unknown; key?: unknown; value?: unknown } | null;
    if (!v || typeof v !== 'object' || typeof v.key !== 'string') continue;
    if (v.op === 'set') state.set(v.key, v.value);
    else if (v.op === 'delete') state.delete(v.key);
  }
  return state;
}

export function rssMiB(): number {
  return process.memoryUsage.rss() / 1024 / 1024;
}

/**
 * Every read readWal makes goes through FileHandle.read into a buffer allocated for it: note
 * the largest buffer, and the most any buffer exceeded the size of the file it was read from.
 */
export function watchReads(): { largest: () => number; excess: () => number; restore: () => void } {
  let largest = 0;
  let excess = Number.NEGATIVE_INFINITY;
  const realOpen = fs.promises.open;
  const spy = vi
    .spyOn(fs.promises, 'open')
    .mockImplementation(async (...args: Parameters<typeof realOpen>) => {
      const handle = await realOpen(...args);
      const realRead = handle.read.bind(handle) as (...a: unknown[]) => Promise<unknown>;
      const fileSize = (await handle.stat()).size;
      (handle as unknown as { read: unknown }).read = (buffer: Uint8Array, ...rest: unknown[]) => {
        largest = Math.max(largest, buffer.byteLength);
        excess = Math.max(excess, buffer.byteLength - fileSize);
        return realRead(buffer, ...rest);
      };
      return handle;
    });
  return { largest: () => largest, excess: () => excess, restore: () => spy.mockRestore() };
}

/**
 * Notes every 'uncaughtException' and 'unhandledRejection' while installed. recoverState used
 * to destroy its piscina pool under tasks still running when it rejected, and a late answer
 * made piscina emit 'error' on a pool nobody listened to: an uncaught exception in the
 * caller's process. The fuzz tests install this around their runs and require it to stay empty.
 */
export function watchUncaught(): { seen: () => string[]; restore: () => void } {
  const seen: string[] = [];
  const note = (kind: string) => (e: unknown) => {
    seen.push(`${kind}: ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)}`);
  };
  const onException = note('uncaughtException');
  const onRejection = note('unhandledRejection');
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return {
    seen: () => seen,
    restore: () => {
      process.off('uncaughtException', onException);
      process.off('unhandledRejection', onRejection);
    },
  };
}
