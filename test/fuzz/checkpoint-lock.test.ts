/**
 * Fuzzed CHECKPOINT and LOCK files (issue #5, item 6), next to a healthy log written by
 * openWal. Formats: src/segment/checkpoint.ts (24 bytes: magic, version, LSN as f64, CRC32C)
 * and src/lock.ts (JSON { pid, start, token }).
 *
 * CHECKPOINT: random bytes, the real encoding of any double (CRC fixed up: NaN, negatives,
 * fractions, huge values, LSNs past the end of the log), a real file with flipped bytes,
 * truncated or extended, a leftover CHECKPOINT.tmp. openWal (with and without
 * checkpoint-gated retention) must open with a safe-integer checkpoint (a valid one as
 * written, lowered to the log's last LSN if past it) or fail with WAL_CORRUPT, and
 * checkpoint-gated retention must keep everything above it; readWal and recoverState ignore
 * the file and read every entry. A valid checkpoint past the log's last entry is lowered to it
 * in every recovery mode but 'strict', which refuses it (WAL_CORRUPT); a damaged file is
 * WAL_CORRUPT in every mode.
 *
 * LOCK: random bytes, random JSON, owner records with any pid / start / token, leftovers
 * (LOCK.new-*, LOCK.stale-*). openWal must open (taking a stale lock over) or fail with
 * WAL_LOCKED: it must fail when the record names this very process (same start time, or
 * none recorded), and must take the lock over when it names no existing process or is not
 * an owner record at all. After close the lock is released. Nothing is lost either way.
 *
 * Both run in every recovery mode (the log itself is healthy, so the mode changes only how a
 * checkpoint past the end is treated), with no uncaught exception or unhandled rejection.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/index.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import {
  buildTemplate,
  crc32c,
  MODES,
  openAppendClose,
  outcome,
  perMode,
  readEntries,
  recover,
  replayState,
  seedFor,
  type Template,
  watchUncaught,
} from './fuzz-helpers.js';

/** Cases per mode (four modes); each opens the log once (a writer thread). The lock does not depend on the mode: fewer. */
const RUNS = perMode(10);
const LOCK_RUNS = perMode(6);

/** The CHECKPOINT encoding of `lsn` (docs/FORMAT.md "Checkpoint file"), whatever the number. */
function encodeCheckpoint(lsn: number, version = 1): Uint8Array {
  const bytes = new Uint8Array(24);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 0x4b435752, true);
  view.setUint16(4, version, true);
  view.setFloat64(8, lsn, true);
  view.setUint32(16, crc32c(bytes, 0, 16), true);
  return bytes;
}

type CheckpointCase =
  | { kind: 'random'; bytes: Uint8Array }
  | { kind: 'lsn'; lsn: number }
  | { kind: 'version'; version: number }
  | { kind: 'flip'; at: number; xor: number }
  | { kind: 'truncate'; length: number }
  | { kind: 'extend'; bytes: Uint8Array }
  | { kind: 'leftover-tmp'; bytes: Uint8Array };

const checkpointCaseArb: fc.Arbitrary<CheckpointCase> = fc.oneof(
  fc.record({ kind: fc.constant('random' as const), bytes: fc.uint8Array({ maxLength: 64 }) }),
  fc.record({
    kind: fc.constant('lsn' as const),
    lsn: fc.oneof(
      fc.double(),
      fc.integer({ min: 0, max: 400 }),
      fc.constantFrom(0, -1, 0.5, 2 ** 53, 2 ** 48, Number.NaN, Number.POSITIVE_INFINITY, -0),
    ),
  }),
  fc.record({ kind: fc.constant('version' as const), version: fc.integer({ min: 0, max: 0xffff }) }),
  fc.record({
    kind: fc.constant('flip' as const),
    at: fc.nat({ max: 23 }),
    xor: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), length: fc.nat({ max: 23 }) }),
  fc.record({ kind: fc.constant('extend' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('leftover-tmp' as const), bytes: fc.uint8Array({ maxLength: 40 }) }),
);

/** The checkpoint a case's file holds when it is valid, or null when it is damaged. */
function writeCheckpointCase(dir: string, c: CheckpointCase, real: Uint8Array): number | null | 'real' {
  const file = path.join(dir, 'CHECKPOINT');
  switch (c.kind) {
    case 'random':
      fs.writeFileSync(file, c.bytes);
      return null;
    case 'lsn':
      fs.writeFileSync(file, encodeCheckpoint(c.lsn));
      return Number.isSafeInteger(c.lsn) && c.lsn >= 0 ? c.lsn : null;
    case 'version':
      fs.writeFileSync(file, encodeCheckpoint(100, c.version));
      return c.version === 1 ? 100 : null;
    case 'flip': {
      const bytes = real.slice();
      bytes[c.at] ^= c.xor;
      fs.writeFileSync(file, bytes);
      // Bytes 20-23 are reserved and outside the CRC (docs/FORMAT.md "Checkpoint file"), and
      // src/segment/checkpoint.ts does not read them: the file still holds the real checkpoint.
      return c.at >= 20 ? 'real' : null;
    }
    case 'truncate':
      fs.writeFileSync(file, real.subarray(0, c.length));
      return null;
    case 'extend': {
      const bytes = new Uint8Array(24 + c.bytes.length);
      bytes.set(real);
      bytes.set(c.bytes, 24);
      fs.writeFileSync(file, bytes);
      return null;
    }
    case 'leftover-tmp':
      fs.writeFileSync(`${file}.tmp`, c.bytes);
      return 'real';
  }
}

/** This process's start time in clock ticks, as src/lock.ts records it. */
function ownStart(): string {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
}

/** A pid that no process has (checked when the case is written). */
function deadPid(): number {
  for (let pid = 4_000_000; ; pid--) {
    try {
      process.kill(pid, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') return pid;
    }
  }
}

type LockCase = {
  content:
    | { kind: 'bytes'; bytes: Uint8Array }
    | { kind: 'json'; value: unknown }
    | {
        kind: 'owner';
        pid: 'self' | 'dead' | 'init' | number | string | null;
        start: 'self' | 'empty' | string | number;
        token: string;
      }
    | { kind: 'truncated-self'; length: number };
  leftovers: { name: 'new' | 'stale'; suffix: string; bytes: Uint8Array }[];
};

const lockCaseArb: fc.Arbitrary<LockCase> = fc.record({
  content: fc.oneof(
    fc.record({ kind: fc.constant('bytes' as const), bytes: fc.uint8Array({ maxLength: 80 }) }),
    fc.record({ kind: fc.constant('json' as const), value: fc.jsonValue({ maxDepth: 2 }) }),
    fc.record({
      kind: fc.constant('owner' as const),
      pid: fc.oneof(
        fc.constantFrom('self' as const, 'dead' as const, 'init' as const),
        fc.integer(),
        fc.double(),
        fc.string({ maxLength: 8 }),
        fc.constant(null),
        fc.constantFrom(0, -1, 2 ** 31, 2 ** 53 + 2, 1e20),
      ),
      start: fc.oneof(
        fc.constantFrom('self' as const, 'empty' as const),
        fc.string({ maxLength: 12 }),
        fc.integer(),
      ),
      token: fc.string({ maxLength: 20 }),
    }),
    fc.record({ kind: fc.constant('truncated-self' as const), length: fc.nat({ max: 60 }) }),
  ),
  leftovers: fc.array(
    fc.record({
      name: fc.constantFrom('new' as const, 'stale' as const),
      suffix: fc.stringMatching(/^[0-9a-f]{1,12}$/),
      bytes: fc.uint8Array({ maxLength: 40 }),
    }),
    { maxLength: 2 },
  ),
});

/**
 * Writes the case's LOCK. Returns what openWal must do: 'refuse' when it names this very
 * process (its pid, and its start time or none), 'take over' when it names no process that
 * exists (or is not an owner record at all), 'either' when it names some other live process
 * (whether that owner counts as alive depends on its recorded start time; src/lock.ts).
 */
function writeLockCase(dir: string, c: LockCase, start: string): 'refuse' | 'take over' | 'either' {
  const file = path.join(dir, 'LOCK');
  for (const l of c.leftovers) fs.writeFileSync(`${file}.${l.name}-${l.suffix}`, l.bytes);
  const content = c.content;
  let text: string;
  switch (content.kind) {
    case 'bytes':
      text = Buffer.from(content.bytes).toString('latin1');
      fs.writeFileSync(file, content.bytes);
      break;
    case 'json':
      text = JSON.stringify(content.value) ?? '';
      fs.writeFileSync(file, text);
      break;
    case 'truncated-self': {
      const whole = JSON.stringify({ pid: process.pid, start, token: 'abc' });
      text = whole.slice(0, content.length);
      fs.writeFileSync(file, text);
      break;
    }
    case 'owner': {
      const pid =
        content.pid === 'self'
          ? process.pid
          : content.pid === 'dead'
            ? deadPid()
            : content.pid === 'init'
              ? 1
              : content.pid;
      const ownerStart = content.start === 'self' ? start : content.start === 'empty' ? '' : content.start;
      text = JSON.stringify({ pid, start: ownerStart, token: content.token });
      fs.writeFileSync(file, text);
      break;
    }
  }
  let owner: { pid?: unknown; start?: unknown } | null = null;
  try {
    owner = JSON.parse(text);
  } catch {
    return 'take over';
  }
  if (owner === null || typeof owner !== 'object') return 'take over';
  const pid = owner.pid;
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0 || !fs.existsSync(`/proc/${pid}`)) {
    return 'take over';
  }
  if (pid === process.pid && (owner.start === start || owner.start === '')) return 'refuse';
  return 'either';
}

describe.each(MODES)('fuzzed CHECKPOINT and LOCK files (recovery: %s)', (mode) => {
  let root: string;
  let template: Template;
  let expectedState: Map<string, unknown>;
  let uncaught: ReturnType<typeof watchUncaught>;
  const lastLsn = 160;
  beforeAll(async () => {
    root = tempDir('ringwal-fuzz-ckpt-');
    template = await buildTemplate(path.join(root, 'template'), lastLsn);
    expectedState = replayState(template.values.slice(1).map((value) => ({ value })));
  });
  afterAll(() => removeDir(root));
  beforeEach(() => {
    uncaught = watchUncaught();
  });
  afterEach(async () => {
    await new Promise((resolve) => setImmediate(resolve));
    uncaught.restore();
    expect(uncaught.seen()).toEqual([]);
  });

  function freshCopy(name: string): string {
    const dir = path.join(root, name);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.cpSync(template.dir, dir, { recursive: true });
    return dir;
  }

  it(`CHECKPOINT: opens with a safe-integer checkpoint or fails with WAL_CORRUPT (${RUNS} cases)`, async () => {
    const real = fs.readFileSync(path.join(template.dir, 'CHECKPOINT'));
    const tally = new Map<string, number>();
    const pastEnd: string[] = [];
    let cases = 0;
    await fc.assert(
      fc.asyncProperty(checkpointCaseArb, fc.boolean(), async (c, gated) => {
        const dir = freshCopy('checkpoint');
        const valid = writeCheckpointCase(dir, c, real);
        const what = `CHECKPOINT ${c.kind} ${JSON.stringify(c, (_, v) => (v instanceof Uint8Array ? [...v] : v))}`;

        // Readers ignore CHECKPOINT (recoverState, which costs a thread pool per call, on a few cases).
        const read = await outcome(`readWal [${what}]`, () => readEntries(dir, mode));
        expect(read.ok && read.value.length).toBe(lastLsn);
        if (++cases <= 2) {
          const state = await outcome(`recoverState [${what}]`, () => recover(dir, mode));
          expect(state.ok && state.value).toEqual(expectedState);
        }

        const options = gated ? { retention: { requireCheckpoint: true } } : {};
        const open = await outcome(`openWal [${what}]`, () => openAppendClose(dir, mode, options));
        const key = `${c.kind}: ${open.ok ? 'ok' : open.code}`;
        tally.set(key, (tally.get(key) ?? 0) + 1);
        // A valid checkpoint past the end of the log: 'strict' refuses it, the others lower it.
        const refused = valid === null || (mode === 'strict' && typeof valid === 'number' && valid > lastLsn);
        expect(open.ok ? 'ok' : open.code, what).toBe(refused ? ErrorCode.CORRUPT : 'ok');
        if (!open.ok) return;
        expect(Number.isSafeInteger(open.value.checkpointLsn) && open.value.checkpointLsn >= 0).toBe(true);
        if (valid === 'real') expect(open.value.checkpointLsn).toBe(lastLsn - 20);
        else if (valid !== null) {
          // A checkpoint past the log's last entry is lowered to it: new entries take those
          // LSNs, and retention must not treat them as applied.
          expect(open.value.checkpointLsn).toBe(Math.min(valid, lastLsn));
          if (valid > lastLsn) pastEnd.push(`${valid}${gated ? ' (gated retention)' : ''}`);
        }
        expect(open.value.appended).toBe(lastLsn + 1);
        // Nothing above the checkpoint is gone (gated retention deletes only what is at or below it).
        const after = await outcome(`readWal after open [${what}]`, () => readEntries(dir, mode));
        expect(after.ok).toBe(true);
        if (after.ok) {
          expect(after.value.at(-1)!.lsn).toBe(lastLsn + 1);
          if (!gated) expect(after.value.length).toBe(lastLsn + 1);
          else expect(after.value[0].lsn).toBeLessThanOrEqual(open.value.checkpointLsn + 1);
        }
      }),
      // The first case (counted in numRuns) is always a valid checkpoint past the end of the log
      // (refused in 'strict', lowered elsewhere).
      { numRuns: RUNS, seed: seedFor(2, mode), examples: [[{ kind: 'lsn', lsn: lastLsn + 40 }, true]] },
    );
    console.log(
      `fuzz CHECKPOINT (mode ${mode}, seed ${seedFor(2, mode)}): ${cases} cases (the first a fixed one: a valid checkpoint past the end); openWal by kind: ` +
        `${[...tally].map(([k, v]) => `${k} ${v}`).join(', ')}; ` +
        `valid checkpoints past the end of the log (LSN ${lastLsn}), lowered to it: ${pastEnd.length ? pastEnd.join(', ') : 'none'}`,
    );
  }, 60_000);

  it(`LOCK: opens (taking a stale lock over) or fails with WAL_LOCKED, exactly when the owner lives (${LOCK_RUNS} cases)`, async () => {
    const start = ownStart();
    const tally = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(lockCaseArb, async (c) => {
        const dir = freshCopy('lock');
        const expected = writeLockCase(dir, c, start);
        const what = `LOCK ${JSON.stringify(c, (_, v) => (v instanceof Uint8Array ? [...v] : v))}`;

        const read = await outcome(`readWal [${what}]`, () => readEntries(dir, mode));
        expect(read.ok && read.value.length).toBe(lastLsn);

        const open = await outcome(`openWal [${what}]`, () => openAppendClose(dir, mode));
        const key = `${c.content.kind}: ${open.ok ? 'ok' : open.code}`;
        tally.set(key, (tally.get(key) ?? 0) + 1);
        if (!open.ok) {
          expect(open.code).toBe(ErrorCode.LOCKED);
          expect(expected).not.toBe('take over');
          return;
        }
        expect(expected).not.toBe('refuse');
        expect(open.value.appended).toBe(lastLsn + 1);
        expect(fs.existsSync(path.join(dir, 'LOCK'))).toBe(false); // released on close
        const after = await outcome(`readWal after open [${what}]`, () => readEntries(dir, mode));
        expect(after.ok && after.value.length).toBe(lastLsn + 1);
      }),
      { numRuns: LOCK_RUNS, seed: seedFor(3, mode) },
    );
    console.log(
      `fuzz LOCK (mode ${mode}, seed ${seedFor(3, mode)}): ${LOCK_RUNS} cases; openWal by kind: ` +
        `${[...tally].map(([k, v]) => `${k} ${v}`).join(', ')}`,
    );
  }, 60_000);
});
