/**
 * The shipping process SIGKILLed at random moments while it appends (a real nats-server, one
 * stream): the stream ends up holding every acknowledged entry exactly once, in LSN order, and
 * retention driven by the shipper (`checkpoint: true` + `retention.requireCheckpoint`) never
 * deletes an entry the stream does not hold, checked after every kill. Runs alternate between one
 * entry per message and packed messages (`entriesPerMessage`), so one stream holds both, and
 * every other pair of runs ships from a worker thread (`thread: true`; the checkpoints are then
 * taken by the main thread from what the worker reports) rather than from the log's thread.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { unpack } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openWal } from '../../src/index.js';
// @ts-expect-error a plain .mjs fixture, shared with the child processes
import { valueFor } from '../fixtures/entry-value.mjs';
import { exited, lines, startFixture, stderrOf } from '../helpers/child.js';
import {
  connectTo,
  lastLsnOn,
  type NatsServers,
  natsSkipReason,
  readStream,
  type StoredEntry,
  startNatsServer,
} from '../helpers/nats.js';
import { readAll } from '../helpers/read.js';
import { tempDirs } from '../helpers/tmp.js';

const KILLS = 20;
const DIR_KILLS = 6;
const skip = natsSkipReason();
const temp = tempDirs();
let servers: NatsServers;

beforeAll(async () => {
  if (skip) return;
  servers = await startNatsServer();
  const nc = await connectTo(servers.urls);
  const jsm = await jetstreamManager(nc);
  for (const name of ['KILL', 'KILLDIR']) {
    await jsm.streams.add({ name, subjects: [`${name.toLowerCase()}.log`], duplicate_window: 120e9 });
  }
  await nc.close();
});
afterAll(async () => {
  await servers?.destroy();
  temp.removeAll();
});

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

interface Child {
  acked: number;
  shipped: number;
  drained: number;
  retries: string[];
  ready: Promise<void>;
  stderr: () => string;
  kill: () => Promise<void>;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the fixture; `perMessage` above 1 packs entries (`entriesPerMessage`). */
function start(mode: string, dir: string, stream: string, perMessage: number, extra: string[] = []): Child {
  const child = startFixture('jetstream-shipper.mjs', [
    mode,
    dir,
    servers.urls.join(','),
    stream,
    `${stream.toLowerCase()}.log`,
    String(perMessage),
    ...extra,
  ]);
  let onReady = (): void => {};
  const ready = new Promise<void>((resolve) => {
    onReady = resolve;
  });
  const state: Child = {
    acked: 0,
    shipped: 0,
    drained: 0,
    retries: [],
    ready,
    stderr: stderrOf(child),
    done: exited(child),
    kill: async () => {
      child.kill('SIGKILL');
      await exited(child);
    },
  };
  lines(child, (line) => {
    const [what, value] = line.split(' ');
    if (what === 'ack') state.acked = Math.max(state.acked, Number(value));
    else if (what === 'shipped') state.shipped = Math.max(state.shipped, Number(value));
    else if (what === 'drained') state.drained = Number(value);
    else if (what === 'retry') state.retries.push(line);
    else if (what === 'ready') onReady();
  });
  void state.done.then(() => onReady());
  return state;
}

/** The stream holds LSNs 1..n, each once, in order, each this log's and with its value. */
function checkStream(stored: StoredEntry[], atLeast: number): void {
  const lsns = stored.map((m) => m.lsn);
  const wrong = lsns.findIndex((lsn, i) => lsn !== i + 1);
  expect(wrong, `LSN ${lsns[wrong]} at position ${wrong}`).toBe(-1);
  expect(lsns.length).toBeGreaterThanOrEqual(atLeast);
  expect(new Set(stored.map((m) => m.log)).size).toBe(1);
  for (const m of stored) {
    if (m.lsn % 97 === 0 || m.lsn > lsns.length - 50) expect(unpack(m.data)).toEqual(valueFor(m.lsn));
  }
}

describe.skipIf(skip !== null)(`shipping under SIGKILL${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it(`keeps every acknowledged entry, once and in order, across ${KILLS} SIGKILLs of the shipping process`, async () => {
    const dir = temp.dir('ringwal-jskill-');
    const random = rng(Number(process.env.RINGWAL_SEED ?? 0x5eed));
    let ackedFloor = 0;
    let deletedSome = false;
    let retries = 0;
    const report: string[] = [];
    for (let kill = 1; kill <= KILLS; kill++) {
      // Every other run packs entries: one stream holds both kinds of message, cut at kills;
      // runs 1, 2, 5, 6, ... ship from a worker thread, 3, 4, 7, 8, ... from the log's thread.
      const inThread = kill % 4 === 1 || kill % 4 === 2;
      const child = start('wal', dir, 'KILL', kill % 2 === 0 ? 16 : 1, [
        inThread ? '--thread' : '--in-process',
      ]);
      await child.ready;
      await new Promise((r) => setTimeout(r, 50 + random() * 500));
      await child.kill();
      expect(child.stderr()).toBe('');
      ackedFloor = Math.max(ackedFloor, child.acked);
      retries += child.retries.length;

      // Whatever the stream does not hold is still in a local segment, and the checkpoint the
      // shipper took is at most what the stream holds.
      const streamLast = await lastLsnOn(servers.urls, 'KILL', 'kill.log');
      const wal = await openWal(dir);
      const checkpoint = wal.checkpointLsn;
      const lastLsn = wal.lastLsn;
      await wal.close();
      const local = await readAll(dir);
      // A kill before the first append leaves no entry: the oldest local one is then the next.
      const oldest = local[0]?.lsn ?? lastLsn + 1;
      expect(checkpoint).toBeLessThanOrEqual(streamLast);
      expect(oldest).toBeLessThanOrEqual(streamLast + 1);
      expect(lastLsn).toBeGreaterThanOrEqual(ackedFloor);
      if (oldest > 1) deletedSome = true;
      report.push(
        `kill ${kill} (${inThread ? 'thread' : 'in process'}): acked ${child.acked}, stream ${streamLast}, checkpoint ${checkpoint}, oldest local ${oldest}`,
      );
    }
    const drain = start('drain', dir, 'KILL', 16, ['--thread']);
    const end = await drain.done;
    expect(drain.stderr()).toBe('');
    expect(end.code).toBe(0);
    expect(drain.drained).toBeGreaterThanOrEqual(ackedFloor);

    const stored = await readStream(servers.urls, 'KILL');
    checkStream(stored, ackedFloor);
    expect(stored.length).toBe(drain.drained);
    expect(stored.some((m) => m.entries > 1)).toBe(true);
    expect(stored.some((m) => m.entries === 1)).toBe(true);
    console.log(
      `${KILLS} SIGKILLs of the shipping process: acknowledged up to ${ackedFloor}, stream holds ${stored.length} (1..${stored.length}, once each), retention deleted segments: ${deletedSome}, retries seen: ${retries}\n${report.join('\n')}`,
    );
    expect(deletedSome).toBe(true);
  }, 120_000);

  it(`ships from the directory while another process appends, across ${DIR_KILLS} SIGKILLs of the shipper`, async () => {
    const dir = temp.dir('ringwal-jskilldir-');
    const random = rng(Number(process.env.RINGWAL_SEED ?? 0xd1c));
    const appender = start('append', dir, 'KILLDIR', 1);
    await appender.ready;
    try {
      for (let kill = 1; kill <= DIR_KILLS; kill++) {
        const child = start('dir', dir, 'KILLDIR', kill % 2 === 0 ? 1 : 64);
        await child.ready;
        await new Promise((r) => setTimeout(r, 100 + random() * 500));
        await child.kill();
        expect(child.stderr()).toBe('');
      }
    } finally {
      await appender.kill();
    }
    expect(appender.stderr()).toBe('');
    const acked = appender.acked;
    const last = start('dir', dir, 'KILLDIR', 64, [String(acked)]);
    const end = await last.done;
    expect(last.stderr()).toBe('');
    expect(end.code).toBe(0);
    const stored = await readStream(servers.urls, 'KILLDIR');
    checkStream(stored, acked);
    console.log(
      `${DIR_KILLS} SIGKILLs of a directory shipper: appended up to ${acked}, stream holds 1..${stored.length}`,
    );
  }, 90_000);
});
