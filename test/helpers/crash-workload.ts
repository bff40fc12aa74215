/**
 * Crash-point exploration. A workload drives the real writer class (LogWriter, the code the
 * writer thread runs) in-process, one deterministic step at a time, on the journaling file
 * system of test/fixtures/page-cache-fs.mjs. Then, for every call it made (or every Nth), the
 * explorer rebuilds what a power cut just before that call would have left on disk (the
 * model of test/helpers/crash-model.ts), once per unsynced-data outcome, writes that
 * directory out for real, recovers it with the real recovery code and checks it against what
 * the log had acknowledged at that moment.
 *
 * The workload, three phases on one directory:
 *  0. (before the journal starts, so taken as durable) five entries, then garbage after the
 *     last one: a torn tail left by an earlier crash, which phase 1's open repairs (copy
 *     aside, directory fsync, truncate, fdatasync);
 *  1. open; rounds of 1-6 entries (20-320 bytes, some of 20 KiB, written as two fragments),
 *     each round one group commit; idle steps (preallocation of the segment and of the next
 *     one); rotation at segmentBytes = 4 KiB and on request; retention maxSegments = 3; close;
 *  2. reopen (no preallocation, segmentBytes = 8 KiB, retention requireCheckpoint); rounds,
 *     checkpoints at acknowledged LSNs (each lets retention delete), rotations; close;
 *  3. reopen with sync 'none' (batches are written but synced only by sync() requests,
 *     rotation and close, so unsynced data spans several batches and pages), preallocation.
 *     What counts as acknowledged stays the durable LSN: what survives a power cut in any mode.
 *
 * Checks for each crash point and outcome (acknowledged = the durable LSN the writer had
 * published when the call was issued; a real caller could have been told no more):
 *  - the directory opens (recovery succeeds) and accepts an append, which reads back;
 *  - recovered LSNs are gapless from the first one present; LSNs never repeat: the recovered
 *    last LSN is at least the acknowledged one;
 *  - every acknowledged entry that the running log still held (at or above its oldest
 *    segment at that moment: retention may have deleted older ones) is recovered, with its
 *    exact value; no entry appears that was not appended by then, or with another value;
 *  - the checkpoint is at least the acknowledged one and at most the highest requested;
 *  - with requireCheckpoint, nothing above the recovered checkpoint was deleted.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { encode } from '../../src/encoding.js';
import { type FileSystem, nodeFs } from '../../src/fs.js';
import { openWal } from '../../src/index.js';
import type { FilledRetention } from '../../src/options.js';
import type { OpenState } from '../../src/recovery/open-scan.js';
import {
  ACTIVE_SEGMENT_BYTES,
  CHECKPOINT_LSN,
  CHECKPOINT_REQUEST,
  CHECKPOINT_TARGET,
  COMMAND,
  COMMAND_CLOSE,
  createRing,
  DURABLE_LSN,
  ERROR_BYTES,
  ERROR_SET,
  ERROR_STATE,
  type RingViews,
  ROTATE_REQUEST,
  ringViews,
  SYNC_REQUEST,
} from '../../src/ring/layout.js';
import { RingProducer } from '../../src/ring/producer.js';
import { readCheckpoint } from '../../src/segment/checkpoint.js';
import { LogWriter, type WriterConfig } from '../../src/writer/log-writer.js';
import { type FaultRule, type JournalEntry, pageCacheFs } from '../fixtures/page-cache-fs.mjs';
import { type DataOutcome, DiskModel, describeEntry, imageKey, materialize } from './crash-model.js';
import { intactPrefix } from './raw-scan.js';
import { readAll } from './read.js';

const NO_RETENTION: FilledRetention = {
  maxSegments: Number.POSITIVE_INFINITY,
  maxBytes: Number.POSITIVE_INFINITY,
  maxAgeMs: Number.POSITIVE_INFINITY,
  requireCheckpoint: false,
};

const RING_BYTES = 64 * 1024;

/** A writer configuration like the one `openWal` builds for a 64 KiB ring. */
export function writerConfig(dir: string, overrides: Partial<WriterConfig> = {}): WriterConfig {
  return {
    dir,
    sync: 'always',
    syncIntervalMs: 100,
    segmentBytes: 4096,
    maxEntryBytes: 1024 * 1024,
    maxRecordBytes: RING_BYTES / 4 - 24,
    maxBatchBytes: RING_BYTES / 2,
    idleWaitMs: 0,
    rotateIntervalMs: 0,
    preallocate: false,
    retention: NO_RETENTION,
    ...overrides,
  };
}

/** The writer class with the main thread's side played by hand: append, step, read the counters. */
export class InProcessLog {
  readonly ring: RingViews;
  readonly writer: LogWriter;
  private readonly producer: RingProducer;
  private nextLsn = 1;
  private rotations = 0;
  private checkpoints = 0;
  private syncs = 0;

  constructor(
    fsys: FileSystem,
    config: WriterConfig,
    private readonly appended: Map<number, unknown> = new Map(),
    now: () => number = Date.now,
  ) {
    const sab = createRing(RING_BYTES);
    this.ring = ringViews(sab);
    this.writer = new LogWriter(fsys, sab, config, now);
    this.producer = new RingProducer(sab);
  }

  open(): OpenState {
    const state = this.writer.open();
    this.nextLsn = state.lastLsn + 1;
    return state;
  }

  /** Puts entries in the ring and publishes them; returns their LSNs. */
  append(...values: unknown[]): number[] {
    const lsns: number[] = [];
    for (const value of values) {
      const e = encode(value);
      const lsn = this.nextLsn++;
      const end = this.producer.write(e, e.start, e.end, e.start, lsn);
      if (end !== e.end) throw new Error('the test ring is full: step between appends');
      this.appended.set(lsn, value);
      lsns.push(lsn);
    }
    this.producer.publish();
    return lsns;
  }

  step(waitMs = 0): boolean {
    return this.writer.step(waitMs);
  }

  rotate(): void {
    Atomics.store(this.ring.control, ROTATE_REQUEST, ++this.rotations);
    this.step();
  }

  /** A sync() request: fdatasync everything published so far. */
  sync(): void {
    Atomics.store(this.ring.control, SYNC_REQUEST, ++this.syncs);
    this.step();
  }

  checkpoint(lsn: number): void {
    Atomics.store(this.ring.lsns, CHECKPOINT_TARGET, BigInt(lsn));
    Atomics.store(this.ring.control, CHECKPOINT_REQUEST, ++this.checkpoints);
    this.step();
  }

  close(): void {
    Atomics.or(this.ring.control, COMMAND, COMMAND_CLOSE);
    for (let i = 0; i < 1000 && this.step(); i++) {
      // until stopped
    }
  }

  get lastLsn(): number {
    return this.nextLsn - 1;
  }

  get durable(): number {
    return Number(Atomics.load(this.ring.lsns, DURABLE_LSN));
  }

  get checkpointLsn(): number {
    return Number(Atomics.load(this.ring.lsns, CHECKPOINT_LSN));
  }

  /** Where the next record goes in the segment being written. */
  get segmentOffset(): number {
    return Number(Atomics.load(this.ring.lsns, ACTIVE_SEGMENT_BYTES));
  }

  /** The sticky error the writer published, or null. */
  get error(): { code: string; errno?: string; message: string } | null {
    if (Atomics.load(this.ring.control, ERROR_STATE) !== ERROR_SET) return null;
    const length = Atomics.load(this.ring.control, ERROR_BYTES);
    return JSON.parse(new TextDecoder().decode(this.ring.errorArea.slice(0, length)));
  }
}

/** A deterministic stream of numbers for the workload's shape. */
function lcg(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

export type Mutation =
  /** The writer publishes the durable LSN before its fdatasync (acknowledges too early). */
  | 'ack-before-fdatasync'
  /** The directory fsync after a new segment is renamed into place does not happen. */
  | 'skip-dir-fsync-after-create'
  /** Segment fdatasyncs do nothing (a disk that ignores flushes). */
  | 'fdatasync-lies';

export interface Workload {
  dir: string;
  journal: JournalEntry[];
  /** Every entry ever appended, by LSN. */
  appended: Map<number, unknown>;
  /** Journal index where phase 2 (requireCheckpoint) starts. */
  phase2At: number;
}

export interface WorkloadOptions {
  rounds?: number;
  mutation?: Mutation;
  seed?: number;
}

export function valueFor(phase: number, lsn: number, padBytes: number): unknown {
  return { phase, lsn, pad: 'x'.repeat(padBytes) };
}

export function runWorkload(dir: string, options: WorkloadOptions = {}): Workload {
  const rounds = options.rounds ?? 40;
  const rand = lcg(options.seed ?? 7);
  const appended = new Map<number, unknown>();
  let clock = Date.UTC(2026, 10, 25, 8, 0, 0);
  const now = () => (clock += 1000);

  // Phase 0: a log with a torn tail, made on the real file system before the journal starts.
  {
    const log = new InProcessLog(nodeFs, writerConfig(dir), appended, now);
    log.open();
    for (let i = 0; i < 5; i++) log.append(valueFor(0, i + 1, 30 + i * 7));
    log.step();
    log.close();
    const tail = fs
      .readdirSync(dir)
      .filter((n) => n.endsWith('.log'))
      .sort()
      .at(-1)!;
    fs.appendFileSync(
      path.join(dir, tail),
      Buffer.from(Array.from({ length: 100 }, (_, i) => (i * 37 + 11) & 255)),
    );
  }

  // What the log had told its callers, as each call is issued.
  let current: InProcessLog | null = null;
  let acked = 5;
  let checkpoint = 0;
  let requested = 0;
  const observe = () => {
    if (current) {
      acked = Math.max(acked, current.durable);
      checkpoint = Math.max(checkpoint, current.checkpointLsn);
    }
    return { acked, checkpoint, appended: appended.size, requested };
  };
  const fsys = pageCacheFs(nodeFs, { dir, observe, realSync: false });
  const undo = applyMutation(fsys, options.mutation);
  try {
    const roundOf = (log: InProcessLog, phase: number, round: number) => {
      const n = 1 + rand(6);
      const values: unknown[] = [];
      for (let i = 0; i < n; i++) {
        const lsn = log.lastLsn + 1 + i;
        const big = round % 9 === 4 && i === 0;
        values.push(valueFor(phase, lsn, big ? 20_000 : 20 + rand(300)));
      }
      // A big entry goes alone, so the 64 KiB ring never has to wait.
      if ((values[0] as { pad: string }).pad.length > 1000) {
        log.append(values[0]);
        log.step();
        values.shift();
      }
      if (values.length > 0) log.append(...values);
      log.step();
    };

    // Phase 1: preallocation, size rotation, rotate(), retention by count.
    const one = new InProcessLog(
      fsys,
      writerConfig(dir, {
        preallocate: true,
        retention: { ...NO_RETENTION, maxSegments: 3 },
      }),
      appended,
      now,
    );
    current = one;
    fsys.mark('phase 1');
    one.open();
    for (let round = 0; round < rounds; round++) {
      roundOf(one, 1, round);
      if (round % 4 === 3) {
        one.step(); // idle: housekeeping (preallocation, the next segment's draft)
        one.step();
      }
      if (round % 7 === 6) one.rotate();
    }
    one.close();

    // Phase 2: checkpoints, retention that requires them, rotation; no preallocation.
    fsys.mark('phase 2');
    const phase2At = fsys.journal.length - 1;
    const two = new InProcessLog(
      fsys,
      writerConfig(dir, {
        segmentBytes: 8192,
        retention: { ...NO_RETENTION, requireCheckpoint: true },
      }),
      appended,
      now,
    );
    current = two;
    two.open();
    for (let round = 0; round < rounds; round++) {
      roundOf(two, 2, round);
      if (round % 5 === 4) {
        requested = Math.max(requested, two.durable - 2);
        two.checkpoint(two.durable - 2);
      }
      if (round % 6 === 5) two.rotate();
    }
    two.close();

    // Phase 3: sync 'none' (written, not synced, until sync() or rotation), so unsynced
    // data spans several batches and pages; preallocation again.
    fsys.mark('phase 3');
    const three = new InProcessLog(
      fsys,
      writerConfig(dir, { sync: 'none', preallocate: true, segmentBytes: 8192 }),
      appended,
      now,
    );
    current = three;
    three.open();
    for (let round = 0; round < rounds; round++) {
      roundOf(three, 3, round);
      if (round % 3 === 2) three.sync();
    }
    three.close();
    observe();
    fsys.mark('end');
    return { dir, journal: fsys.journal, appended, phase2At };
  } finally {
    undo();
  }
}

/** Breaks the writer on purpose, to show the exploration notices (see the mutation test). */
function applyMutation(fsys: { inject(rule: FaultRule): void }, mutation: Mutation | undefined): () => void {
  if (mutation === 'fdatasync-lies') {
    fsys.inject({ op: 'fdatasync', file: '.log', lie: true, times: Number.POSITIVE_INFINITY });
  } else if (mutation === 'skip-dir-fsync-after-create') {
    fsys.inject({
      op: 'fsync',
      dir: true,
      lie: true,
      times: Number.POSITIVE_INFINITY,
      // The first directory fsync after a segment is renamed into place.
      when: (_entry, journal) => {
        for (let i = journal.length - 1; i >= 0; i--) {
          const e = journal[i];
          if (e.op === 'fsync' && e.dir === true) return false;
          if (e.op === 'rename' && e.to?.endsWith('.log')) return true;
        }
        return false;
      },
    });
  } else if (mutation === 'ack-before-fdatasync') {
    // The writer's private method, patched on the prototype: publish, then sync.
    const proto = LogWriter.prototype as unknown as Record<string, (this: Record<string, unknown>) => void>;
    const original = proto.syncAndPublish;
    proto.syncAndPublish = function (this: Record<string, unknown>) {
      this.durableLsn = this.writtenLsn;
      (this.publishLsns as () => void).call(this);
      original.call(this);
    };
    return () => {
      proto.syncAndPublish = original;
    };
  }
  return () => {};
}

/** What recovering one crash image gave. */
export interface Recovery {
  opened: boolean;
  error?: string;
  /** First and last recovered LSN (first = last + 1 when there is none). */
  first: number;
  last: number;
  checkpoint: number;
  /** Problems that do not depend on the crash point: gaps, unknown values, a failed append. */
  problems: string[];
  /** When it would not open: what readWal could still read. */
  readable?: Recovery;
}

/** The first words of a violation where open refused an image from which nothing acknowledged was lost. */
export const REFUSED_INTACT = 'refused to open, acknowledged data intact';

const noSync: FileSystem = { ...nodeFs, fdatasyncSync: () => {}, fsyncSync: () => {} };

/**
 * Recovers a directory with the writer's own open (recovery, torn-tail repair), appends one
 * entry, closes, and reads everything back with readWal. Syncs are skipped: nothing crashes
 * here, and they cost ~3 ms each on this disk.
 */
export async function recoverInProcess(dir: string, appended: Map<number, unknown>): Promise<Recovery> {
  const log = new InProcessLog(noSync, writerConfig(dir));
  let state: OpenState;
  try {
    state = log.open();
  } catch (e) {
    return refused(dir, appended, e);
  }
  const checkpoint = log.checkpointLsn;
  const probe = { probe: state.lastLsn + 1 };
  log.append(probe);
  log.step();
  const problems: string[] = [];
  if (log.error) problems.push(`append after recovery failed: ${log.error.code} ${log.error.message}`);
  else if (log.durable !== state.lastLsn + 1)
    problems.push(`append after recovery not durable (${log.durable})`);
  log.close();
  return judgeEntries(dir, appended, state.lastLsn, checkpoint, probe, problems);
}

/** The same through the public API: openWal (writer thread), checkpointLsn, append, close, readWal. */
export async function recoverPublic(dir: string, appended: Map<number, unknown>): Promise<Recovery> {
  let wal: Awaited<ReturnType<typeof openWal>>;
  try {
    wal = await openWal(dir, { flushOnExit: false, ringBytes: RING_BYTES, maxEntryBytes: 1024 * 1024 });
  } catch (e) {
    return refused(dir, appended, e);
  }
  const lastLsn = wal.lastLsn;
  const checkpoint = wal.checkpointLsn;
  const probe = { probe: lastLsn + 1 };
  const problems: string[] = [];
  try {
    const lsn = await wal.append(probe);
    if (lsn !== lastLsn + 1) problems.push(`append after recovery got LSN ${lsn}, expected ${lastLsn + 1}`);
    await wal.close();
  } catch (e) {
    problems.push(`append after recovery failed: ${(e as { code?: string }).code} ${(e as Error).message}`);
    await wal.close().catch(() => {});
  }
  return judgeEntries(dir, appended, lastLsn, checkpoint, probe, problems);
}

/**
 * An image that would not open: what an independent reader (test/helpers/raw-scan.ts) still
 * finds in it tells a refusal that loses nothing from one that does.
 */
async function refused(dir: string, appended: Map<number, unknown>, e: unknown): Promise<Recovery> {
  const err = e as { code?: string; message?: string };
  const error = `${err.code ?? 'throw'}: ${err.message?.replace(`${dir}/`, '')}`;
  let checkpoint = 0;
  try {
    checkpoint = readCheckpoint(nodeFs, dir);
  } catch {
    // judged as 0
  }
  const entries = intactPrefix(dir);
  const problems: string[] = [];
  for (const entry of entries) {
    if (!isDeepStrictEqual(entry.value, appended.get(entry.lsn))) {
      problems.push(`LSN ${entry.lsn} reads back with another value`);
      break;
    }
  }
  const first = entries.length > 0 ? entries[0].lsn : 1;
  const last = entries.length > 0 ? entries[entries.length - 1].lsn : 0;
  const readable: Recovery = { opened: true, first, last, checkpoint, problems };
  return { opened: false, error, first: 0, last: 0, checkpoint: 0, problems: [], readable };
}

async function judgeEntries(
  dir: string,
  appended: Map<number, unknown>,
  lastLsn: number,
  checkpoint: number,
  probe: unknown,
  problems: string[],
): Promise<Recovery> {
  let entries: Awaited<ReturnType<typeof readAll>>;
  try {
    entries = await readAll(dir);
  } catch (e) {
    problems.push(`readWal failed: ${(e as { code?: string }).code} ${(e as Error).message}`);
    return { opened: true, first: lastLsn + 1, last: lastLsn, checkpoint, problems };
  }
  const probeEntry = entries.pop();
  if (!probeEntry || probeEntry.lsn !== lastLsn + 1 || !isDeepStrictEqual(probeEntry.value, probe)) {
    problems.push(`the entry appended after recovery did not read back as LSN ${lastLsn + 1}`);
    if (probeEntry && probeEntry.lsn !== lastLsn + 1) entries.push(probeEntry);
  }
  const first = entries.length > 0 ? entries[0].lsn : lastLsn + 1;
  const last = entries.length > 0 ? entries[entries.length - 1].lsn : lastLsn;
  if (last !== lastLsn) problems.push(`open said the last LSN is ${lastLsn}, readWal ends at ${last}`);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (e.lsn !== first + i) {
      problems.push(`gap: LSN ${e.lsn} follows ${entries[i - 1]?.lsn}`);
      break;
    }
    if (!appended.has(e.lsn)) {
      problems.push(`LSN ${e.lsn} was never appended`);
      break;
    }
    if (!isDeepStrictEqual(e.value, appended.get(e.lsn))) {
      problems.push(`LSN ${e.lsn} reads back with another value`);
      break;
    }
  }
  return { opened: true, first, last, checkpoint, problems };
}

/** What the log had promised at a crash point. */
export interface Promised {
  acked: number;
  checkpoint: number;
  /** Highest LSN appended (handed to the ring) by then. */
  appended: number;
  /** Highest checkpoint requested by then. */
  requested: number;
  /** Oldest first LSN among the segments the running log had (Infinity: none). */
  liveFloor: number;
  /** With requireCheckpoint: the oldest segment when that phase began (deletions before it are not its doing). */
  checkpointFloor: number | null;
}

export function violations(r: Recovery, p: Promised): string[] {
  if (!r.opened) {
    const loss = r.readable ? violations(r.readable, p) : ['unreadable'];
    return loss.length === 0 ? [`${REFUSED_INTACT}: ${r.error}`] : [`reopen failed: ${r.error}`, ...loss];
  }
  const out = [...r.problems];
  if (r.last < p.acked)
    out.push(`recovered up to LSN ${r.last}, below the acknowledged ${p.acked} (LSNs would repeat)`);
  const from = Math.max(1, p.liveFloor);
  if (p.acked >= from && r.first > from) {
    out.push(`acknowledged entries ${from}..${Math.min(p.acked, r.first - 1)} are gone`);
  }
  if (r.last > p.appended) out.push(`LSN ${r.last} recovered, but only ${p.appended} had been appended`);
  if (r.checkpoint < p.checkpoint) out.push(`checkpoint went back from ${p.checkpoint} to ${r.checkpoint}`);
  if (r.checkpoint > p.requested)
    out.push(`checkpoint ${r.checkpoint} was never requested (max ${p.requested})`);
  if (p.checkpointFloor !== null && r.first > Math.max(r.checkpoint + 1, p.checkpointFloor)) {
    out.push(
      `entries from ${Math.max(r.checkpoint + 1, p.checkpointFloor)} deleted above the checkpoint ${r.checkpoint}`,
    );
  }
  return out;
}

export interface Violation {
  point: number;
  call: string;
  outcome: string;
  problems: string[];
  image: string;
}

export interface ExploreReport {
  calls: number;
  every: number;
  points: number;
  /** Most outcomes tried at one point, and the total (point, outcome) pairs checked. */
  maxOutcomes: number;
  checks: number;
  /** Distinct crash images, each recovered once in-process. */
  distinctImages: number;
  publicRecoveries: number;
  violations: Violation[];
  /** Violations by their first problem's kind, for a summary. */
  kinds: Map<string, number>;
}

export interface ExploreOptions {
  every?: number;
  /** Recover about this many distinct images through openWal too, spread over the run. */
  publicSample?: number;
  dataOutcomes?: readonly DataOutcome[];
  scratch: string;
  /** Writes each violating image under this directory (RINGWAL_CRASH_DUMP). */
  dumpDir?: string;
  /** Stop after this many violations (the mutation tests need only one). */
  stopAfter?: number;
}

export async function explore(work: Workload, options: ExploreOptions): Promise<ExploreReport> {
  const every = options.every ?? 1;
  const journal = work.journal;
  const model = new DiskModel();
  const cache = new Map<string, Recovery>();
  const report: ExploreReport = {
    calls: journal.filter((e) => e.op !== 'snapshot' && e.op !== 'mark').length,
    every,
    points: 0,
    maxOutcomes: 0,
    checks: 0,
    distinctImages: 0,
    publicRecoveries: 0,
    violations: [],
    kinds: new Map(),
  };
  const sampleEvery = Math.max(1, Math.round(400 / Math.max(1, options.publicSample ?? 0)));
  let checkpointFloor: number | null = null;
  let scratchN = 0;
  model.apply(journal[0]);
  let callIndex = 0;
  for (let p = 1; p < journal.length; p++) {
    const entry = journal[p];
    const isEnd = entry.op === 'mark' && entry.label === 'end';
    if (p === work.phase2At) checkpointFloor = model.liveSegmentFirstLsns()[0] ?? Number.POSITIVE_INFINITY;
    if (entry.op !== 'mark') callIndex++;
    if ((entry.op !== 'mark' && callIndex % every === 0) || isEnd) {
      report.points++;
      const promised: Promised = {
        acked: entry.acked,
        checkpoint: entry.checkpoint,
        appended: entry.appended as number,
        requested: entry.requested as number,
        liveFloor: model.liveSegmentFirstLsns()[0] ?? Number.POSITIVE_INFINITY,
        checkpointFloor,
      };
      const outcomes = model
        .outcomes()
        .filter((o) => !options.dataOutcomes || options.dataOutcomes.includes(o.data));
      report.maxOutcomes = Math.max(report.maxOutcomes, outcomes.length);
      for (let o = 0; o < outcomes.length; o++) {
        const { data, names } = outcomes[o];
        const files = model.crashImage(data, names, p * 131 + o);
        const key = imageKey(files);
        let recovery = cache.get(key);
        if (!recovery) {
          const scratch = path.join(options.scratch, String(scratchN++));
          materialize(files, scratch);
          recovery = await recoverInProcess(scratch, work.appended);
          fs.rmSync(scratch, { recursive: true, force: true });
          if (
            options.publicSample &&
            cache.size % sampleEvery === 0 &&
            report.publicRecoveries < options.publicSample
          ) {
            const again = path.join(options.scratch, String(scratchN++));
            materialize(files, again);
            const viaApi = await recoverPublic(again, work.appended);
            fs.rmSync(again, { recursive: true, force: true });
            report.publicRecoveries++;
            const summary = (r: Recovery) =>
              JSON.stringify([
                r.opened,
                r.first,
                r.last,
                r.checkpoint,
                r.problems,
                r.error?.replace(/\/tmp\/\S+\//g, ''),
              ]);
            if (summary(viaApi) !== summary(recovery)) {
              recovery = {
                ...recovery,
                problems: [
                  ...recovery.problems,
                  `openWal disagrees with the in-process recovery: ${summary(viaApi)} vs ${summary(recovery)}`,
                ],
              };
            }
          }
          cache.set(key, recovery);
        }
        report.checks++;
        const problems = violations(recovery, promised);
        if (problems.length > 0) {
          const v: Violation = {
            point: p,
            call: describeEntry(entry),
            outcome: `${data}/${names}`,
            problems,
            image: key,
          };
          report.violations.push(v);
          const kind = problems[0].replace(/\d+/g, 'N').slice(0, 90);
          report.kinds.set(kind, (report.kinds.get(kind) ?? 0) + 1);
          if (options.dumpDir) materialize(files, path.join(options.dumpDir, `point-${p}-${data}-${names}`));
          if (options.stopAfter && report.violations.length >= options.stopAfter) {
            report.distinctImages = cache.size;
            return report;
          }
        }
      }
    }
    model.apply(entry);
  }
  report.distinctImages = cache.size;
  return report;
}
