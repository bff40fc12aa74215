/**
 * `ringwal/jetstream` against one real nats-server with JetStream (nothing mocked): every
 * entry once, in LSN order, with its bytes and headers; resuming after a stop; the stream
 * checks; options refused with typed errors.
 */
import * as fs from 'node:fs';
import { jetstreamManager } from '@nats-io/jetstream';
import { unpack } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openWal, type Wal } from '../../src/index.js';
import { subjectMatches } from '../../src/jetstream/stream.js';
import {
  type JetStreamShipper,
  messageId,
  type ShipOptions,
  Shipper,
  shipToJetStream,
  ThreadShipper,
} from '../../src/jetstream.js';
import { exited, lines, startFixture, stderrOf } from '../helpers/child.js';
import {
  connectTo,
  type NatsServers,
  natsSkipReason,
  readStream,
  type StoredEntry,
  startNatsServer,
} from '../helpers/nats.js';
import { tempDirs } from '../helpers/tmp.js';

const skip = natsSkipReason();
const temp = tempDirs();
let servers: NatsServers;

beforeAll(async () => {
  if (!skip) servers = await startNatsServer();
});
afterAll(async () => {
  await servers?.destroy();
  temp.removeAll();
});

let streams = 0;
function nextNames(): { stream: string; subject: string } {
  streams++;
  return { stream: `S${streams}`, subject: `wal.s${streams}` };
}

function entryValue(i: number): unknown {
  return { op: 'set', key: `k${i}`, value: { n: i, s: 'x'.repeat(i % 50) }, ts: i };
}

async function appendMany(wal: Wal, from: number, count: number): Promise<number> {
  const lsns = await Promise.all(Array.from({ length: count }, (_, i) => wal.append(entryValue(from + i))));
  return lsns.at(-1)!;
}

/** The nice value in a /proc stat file (field 19). */
function niceOf(statFile: string): number {
  const stat = fs.readFileSync(statFile, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

/** The nice values of this process's threads (those still there when read). */
function threadNiceValues(): number[] {
  const out: number[] = [];
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      out.push(niceOf(`/proc/self/task/${tid}/stat`));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A `Wal` source is shipped from a worker thread by default (`thread`), or from the log's own
 * thread: the cases that hold for both run in both. `ship` passes the mode's option.
 */
const MODES = [
  { name: 'from a worker thread', thread: true, once: true },
  { name: "from the log's thread", thread: false, once: false },
] as const;

describe.skipIf(skip !== null)(`shipToJetStream on one server${skip ? ` (skipped: ${skip})` : ''}`, () => {
  for (const mode of MODES)
    describe(mode.name, () => {
      const ship = (wal: Wal, options: ShipOptions): Promise<JetStreamShipper> =>
        shipToJetStream(wal, { thread: mode.thread, ...options });
      it('ships every entry once, in LSN order, with its stored bytes and headers', async () => {
        const { stream, subject } = nextNames();
        const wal = await openWal(temp.dir('ringwal-js-'));
        const last = await appendMany(wal, 1, 500);
        const shipper = await ship(wal, {
          servers: servers.urls,
          stream,
          subject,
          createStream: true,
        });
        const more = await appendMany(wal, 501, 700);
        await until('everything shipped', () => shipper.shippedLsn === more);
        const metrics = shipper.metrics();
        await shipper.stop();
        await wal.close();
        expect(last).toBe(500);
        expect(metrics.shippedLsn).toBe(1200);
        expect(metrics.lagEntries).toBe(0);
        expect(metrics.published).toBe(1200);
        expect(metrics.duplicates).toBe(0);
        expect(metrics.acknowledged).toBe(1200);
        expect(metrics.publishLatency.reduce((n, b) => n + b.count, 0)).toBe(1200);
        expect(metrics.state).toBe('connected');

        const stored = await readStream(servers.urls, stream);
        expect(stored.map((m) => m.lsn)).toEqual(Array.from({ length: 1200 }, (_, i) => i + 1));
        for (const m of stored) {
          expect(m.subject).toBe(subject);
          expect(m.log).toBe(wal.logId);
          expect(m.msgId).toBe(messageId(wal.logId, m.lsn));
          expect(m.ts).toBeGreaterThan(0);
          expect(unpack(m.data)).toEqual(entryValue(m.lsn));
        }
        expect(shipper.metrics().state).toBe('stopped');
      });

      it('resumes after the last entry the stream holds, from a Wal and from a directory', async () => {
        const { stream, subject } = nextNames();
        const dir = temp.dir('ringwal-js-');
        let wal = await openWal(dir);
        await appendMany(wal, 1, 300);
        let shipper = await ship(wal, { servers: servers.urls, stream, subject, createStream: true });
        await until('300 shipped', () => shipper.shippedLsn === 300);
        await shipper.stop();
        await appendMany(wal, 301, 200);
        await wal.close();

        // A directory source: no process holds the log now.
        const shipped: number[] = [];
        shipper = await shipToJetStream(dir, {
          servers: servers.urls,
          stream,
          subject,
          onShipped: (l) => shipped.push(l),
        });
        await until('500 shipped from the directory', () => shipper.shippedLsn === 500);
        expect(shipper.metrics().published).toBe(200); // resumed after 300: nothing republished
        await shipper.stop();
        expect(shipped.at(-1)).toBe(500);

        wal = await openWal(dir);
        shipper = await ship(wal, { servers: servers.urls, stream, subject });
        await appendMany(wal, 501, 100);
        await until('600 shipped', () => shipper.shippedLsn === 600);
        expect(shipper.metrics().published).toBe(100);
        await shipper.stop();
        await wal.close();
        const stored = await readStream(servers.urls, stream);
        expect(stored.map((m) => m.lsn)).toEqual(Array.from({ length: 600 }, (_, i) => i + 1));
      });

      it.runIf(mode.once)(
        'ships from a directory while another process appends (the source is only read)',
        async () => {
          const { stream, subject } = nextNames();
          const dir = temp.dir('ringwal-js-');
          const wal = await openWal(dir); // stands for the other process: the shipper only reads the directory
          await appendMany(wal, 1, 100);
          const shipper = await shipToJetStream(dir, {
            servers: servers.urls,
            stream,
            subject,
            createStream: true,
            pollMs: 20,
          });
          for (let round = 0; round < 5; round++) await appendMany(wal, 101 + round * 100, 100);
          await until('600 shipped', () => shipper.shippedLsn === 600);
          await shipper.stop();
          await wal.close();
          const stored = await readStream(servers.urls, stream);
          expect(stored.map((m) => m.lsn)).toEqual(Array.from({ length: 600 }, (_, i) => i + 1));
        },
      );

      it('resumes without loss or duplicates when the server is SIGKILLed and restarted mid-run', async () => {
        const { stream, subject } = nextNames();
        const wal = await openWal(temp.dir('ringwal-js-'));
        const retries: string[] = [];
        const shipper = await ship(wal, {
          servers: servers.urls,
          stream,
          subject,
          createStream: true,
          ackTimeoutMs: 1000,
          backoffMaxMs: 300,
          onRetry: (e) => retries.push(e.message),
        });
        let appended = 0;
        for (let round = 0; round < 20; round++) {
          appended = await appendMany(wal, round * 100 + 1, 100);
          if (round === 8) {
            await servers.nodes[0].stop('SIGKILL');
            await new Promise((r) => setTimeout(r, 300));
          }
          if (round === 12) {
            expect(shipper.metrics().state).toBe('disconnected');
            expect(shipper.metrics().lagEntries).toBeGreaterThan(0);
            servers.nodes[0].start();
            await servers.ready();
          }
        }
        await until('everything shipped after the restart', () => shipper.shippedLsn === appended);
        const metrics = shipper.metrics();
        await shipper.stop();
        await wal.close();
        expect(metrics.reconnects).toBeGreaterThanOrEqual(1);
        expect(retries.length).toBeGreaterThan(0);
        const stored = await readStream(servers.urls, stream);
        expect(stored.map((m) => m.lsn)).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
      });

      it('packs runs of entries into messages (entriesPerMessage), read back with shippedEntries; resumes across packed and single messages', async () => {
        const { stream, subject } = nextNames();
        const dir = temp.dir('ringwal-js-');
        const wal = await openWal(dir);
        await appendMany(wal, 1, 500);
        const packed: ShipOptions = {
          servers: servers.urls,
          stream,
          subject,
          createStream: true,
          entriesPerMessage: 64,
          messageBytes: 4096,
        };
        let shipper = await ship(wal, packed);
        await appendMany(wal, 501, 700);
        await until('1200 shipped', () => shipper.shippedLsn === 1200);
        expect(shipper.metrics().published).toBe(1200);
        await shipper.stop();

        // One entry per message again, from where the packed messages end.
        shipper = await ship(wal, { servers: servers.urls, stream, subject });
        await appendMany(wal, 1201, 50);
        await until('1250 shipped', () => shipper.shippedLsn === 1250);
        expect(shipper.metrics().published).toBe(50);
        await shipper.stop();
        // And packed again after single messages.
        shipper = await ship(wal, packed);
        await appendMany(wal, 1251, 300);
        await until('1550 shipped', () => shipper.shippedLsn === 1550);
        expect(shipper.metrics().published).toBe(300);
        await shipper.stop();
        await wal.close();

        const stored = await readStream(servers.urls, stream);
        expect(stored.map((m) => m.lsn)).toEqual(Array.from({ length: 1550 }, (_, i) => i + 1));
        const messages = new Map<number, StoredEntry[]>();
        for (const m of stored) {
          expect(unpack(m.data)).toEqual(entryValue(m.lsn));
          expect(m.log).toBe(wal.logId);
          expect(m.ts).toBeGreaterThan(0);
          messages.set(m.seq, [...(messages.get(m.seq) ?? []), m]);
        }
        let packedMessages = 0;
        for (const entries of messages.values()) {
          const first = entries[0].lsn;
          const last = entries.at(-1)!.lsn;
          expect(entries.length).toBeLessThanOrEqual(64);
          expect(entries[0].msgId).toBe(messageId(wal.logId, first, last));
          const bytes = entries.reduce((n, e) => n + 12 + e.data.length, 0);
          if (entries.length > 1) {
            packedMessages++;
            expect(bytes).toBeLessThanOrEqual(4096);
          }
          if (first > 1200 && last <= 1250) expect(entries.length).toBe(1);
        }
        expect(packedMessages).toBeGreaterThan(0);
        expect(messages.size).toBeLessThan(1550 / 4); // packed, not one message per entry
      });

      it("packs no more than the server's max_payload takes, and stops with WAL_ENTRY_TOO_LARGE for one entry past it", async () => {
        const small = await startNatsServer(['max_payload: 8192']);
        try {
          const { stream, subject } = nextNames();
          const wal = await openWal(temp.dir('ringwal-js-'));
          await appendMany(wal, 1, 2000); // ~140 KiB: many messages of at most 8 KiB
          const shipper = await ship(wal, {
            servers: small.urls,
            stream,
            subject,
            createStream: true,
            entriesPerMessage: 1024,
            messageBytes: 1024 * 1024, // more than the server takes: packing keeps under max_payload
          });
          await until('2000 shipped', () => shipper.shippedLsn === 2000);
          const stored = await readStream(small.urls, stream);
          expect(stored.map((m) => m.lsn)).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
          expect(Math.max(...stored.map((m) => m.entries))).toBeGreaterThan(1);
          // One entry larger than max_payload cannot be shipped at all: a fatal error, not a retry loop.
          await wal.append({ blob: 'x'.repeat(10_000) });
          await expect(shipper.closed).rejects.toMatchObject({ code: 'WAL_ENTRY_TOO_LARGE' });
          expect(shipper.shippedLsn).toBe(2000);
          await shipper.stop();
          await wal.close();
        } finally {
          await small.destroy();
        }
      });

      it('retries publishes no stream answers (503) and ships everything once the stream is back', async () => {
        const { stream, subject } = nextNames();
        const wal = await openWal(temp.dir('ringwal-js-'));
        const retries: string[] = [];
        const shipper = await ship(wal, {
          servers: servers.urls,
          stream,
          subject,
          createStream: true,
          backoffMaxMs: 200,
          onRetry: (e) => retries.push(e.message),
        });
        await appendMany(wal, 1, 200);
        await until('200 shipped', () => shipper.shippedLsn === 200);
        const nc = await connectTo(servers.urls);
        const jsm = await jetstreamManager(nc);
        await jsm.streams.delete(stream); // publishes now reach no stream: the server answers 503
        await appendMany(wal, 201, 100);
        // The shipper retries, creates the stream again (createStream) and ships from the log's start.
        await until('a new stream with all 300', () => retries.length > 0 && shipper.shippedLsn === 300);
        await shipper.stop();
        await wal.close();
        await nc.close();
        expect(retries.some((m) => m.includes('503'))).toBe(true);
        const stored = await readStream(servers.urls, stream);
        expect(stored.map((m) => m.lsn)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
      });

      it('lets the process exit by itself after stop(), and after the log closed', async () => {
        for (const how of ['exit-after-stop', 'exit-after-close']) {
          const { stream, subject } = nextNames();
          const child = startFixture('jetstream-shipper.mjs', [
            how,
            temp.dir('ringwal-js-'),
            servers.urls.join(','),
            stream,
            subject,
            '16',
            mode.thread ? '--thread' : '--in-process',
          ]);
          const said: string[] = [];
          lines(child, (line) => said.push(line));
          const stderr = stderrOf(child);
          const end = await exited(child); // a shipper that kept the process alive would hang here
          expect(stderr()).toBe('');
          expect(end.code).toBe(0);
          expect(said.at(-1)).toBe(`${how === 'exit-after-stop' ? 'stopped' : 'closed'} 100`);
        }
      });

      it('reports a range retention deleted before it was shipped (WAL_SEGMENT_DELETED)', async () => {
        const { stream, subject } = nextNames();
        const wal = await openWal(temp.dir('ringwal-js-'), {
          segmentBytes: 16 * 1024,
          retention: { maxSegments: 2 }, // not gated by a checkpoint
        });
        for (let round = 0; round < 5; round++) {
          await appendMany(wal, round * 200 + 1, 200);
          await wal.rotate();
        }
        expect((await wal.segments())[0].firstLsn).toBeGreaterThan(1);
        const shipper = await ship(wal, {
          servers: servers.urls,
          stream,
          subject,
          createStream: true,
          fromLsn: 1,
        });
        await expect(shipper.closed).rejects.toMatchObject({ code: 'WAL_SEGMENT_DELETED', firstLsn: 1 });
        expect(shipper.metrics().state).toBe('stopped');
        await shipper.stop();
        await wal.close();
      });

      it('ends by itself when its log closes', async () => {
        const { stream, subject } = nextNames();
        const wal = await openWal(temp.dir('ringwal-js-'));
        const shipper = await ship(wal, {
          servers: servers.urls,
          stream,
          subject,
          createStream: true,
        });
        await appendMany(wal, 1, 300);
        await until('300 shipped', () => shipper.shippedLsn === 300);
        await wal.close();
        await shipper.closed; // resolves: the source ended
        expect(shipper.metrics().state).toBe('stopped');
        await shipper.stop(); // and stop() after that is harmless
      });

      it('uses an existing stream as it is; refuses one that does not take the subject, or is missing', async () => {
        const { stream } = nextNames();
        const prefix = `existing${streams}`; // one per mode: two streams may not share subjects
        const subject = `${prefix}.log`;
        const nc = await connectTo(servers.urls);
        const jsm = await jetstreamManager(nc);
        await jsm.streams.add({ name: stream, subjects: [`other${streams}.>`, `${prefix}.>`] });
        const wal = await openWal(temp.dir('ringwal-js-'));
        await appendMany(wal, 1, 10);
        const shipper = await ship(wal, { servers: servers.urls, stream, subject });
        await until('10 shipped', () => shipper.shippedLsn === 10);
        await shipper.stop();
        expect((await jsm.streams.info(stream)).config.subjects).toEqual([
          `other${streams}.>`,
          `${prefix}.>`,
        ]);

        await expect(
          ship(wal, { servers: servers.urls, stream, subject: 'elsewhere.x' }),
        ).rejects.toMatchObject({
          code: 'WAL_INVALID_OPTION',
          message: expect.stringContaining('does not take subject "elsewhere.x"'),
        });
        await expect(ship(wal, { servers: servers.urls, stream: 'NOPE', subject })).rejects.toMatchObject({
          code: 'WAL_INVALID_OPTION',
          message: expect.stringContaining('does not exist'),
        });

        // The subject now holds this log's messages: another log shipping there is refused.
        const other = await openWal(temp.dir('ringwal-js-'));
        await appendMany(other, 1, 5);
        const intruder = await ship(other, { servers: servers.urls, stream, subject });
        await expect(intruder.closed).rejects.toMatchObject({
          code: 'WAL_INVALID_OPTION',
          message: expect.stringContaining('holds messages of another log'),
        });
        await intruder.stop();
        await other.close();
        await wal.close();
        await nc.close();
      });

      it.runIf(mode.once)(
        "ships from the log's thread by default when the connection options cannot go to a worker",
        async () => {
          const { stream, subject } = nextNames();
          const wal = await openWal(temp.dir('ringwal-js-'));
          const delays: number[] = [];
          const options: ShipOptions = {
            servers: servers.urls,
            stream,
            subject,
            createStream: true,
            connection: { reconnectDelayHandler: () => delays.push(1) && 100 },
          };
          const shipper = await shipToJetStream(wal, options);
          expect(shipper).toBeInstanceOf(Shipper);
          await appendMany(wal, 1, 50);
          await until('50 shipped', () => shipper.shippedLsn === 50);
          await shipper.stop();
          const threaded = await shipToJetStream(wal, { ...options, connection: {} });
          expect(threaded).toBeInstanceOf(ThreadShipper);
          await threaded.stop();
          await wal.close();
        },
      );

      it.runIf(mode.once && process.platform === 'linux')(
        'runs the worker thread at threadNice, and only that thread (Linux: per-thread nice values)',
        async () => {
          const { stream, subject } = nextNames();
          const wal = await openWal(temp.dir('ringwal-js-'));
          const before = threadNiceValues();
          const mainNice = niceOf('/proc/self/stat');
          const shipper = await ship(wal, {
            servers: servers.urls,
            stream,
            subject,
            createStream: true,
            threadNice: 19,
          });
          await appendMany(wal, 1, 20);
          await until('20 shipped', () => shipper.shippedLsn === 20);
          const during = threadNiceValues();
          await shipper.stop();
          await wal.close();
          expect(during.filter((n) => n === 19).length - before.filter((n) => n === 19).length).toBe(1);
          expect(niceOf('/proc/self/stat')).toBe(mainNice); // the process (its first thread) is untouched
          expect(threadNiceValues().filter((n) => n === 19).length).toBe(
            before.filter((n) => n === 19).length,
          );
        },
      );

      it.runIf(mode.once)('creates the stream as asked', async () => {
        const { stream, subject } = nextNames();
        const wal = await openWal(temp.dir('ringwal-js-'));
        const shipper = await ship(wal, {
          servers: servers.urls,
          stream,
          subject,
          createStream: { storage: 'file', replicas: 1, duplicateWindowMs: 600_000 },
        });
        await shipper.stop();
        await wal.close();
        const nc = await connectTo(servers.urls);
        const info = await (await jetstreamManager(nc)).streams.info(stream);
        await nc.close();
        expect(info.config.subjects).toEqual([subject]);
        expect(info.config.storage).toBe('file');
        expect(info.config.num_replicas).toBe(1);
        expect(info.config.duplicate_window).toBe(600_000 * 1e6);
      });

      it('checkpoints the log at what the stream acknowledged, so retention deletes only shipped segments', async () => {
        const { stream, subject } = nextNames();
        const dir = temp.dir('ringwal-js-');
        const wal = await openWal(dir, {
          segmentBytes: 16 * 1024,
          retention: { requireCheckpoint: true, maxSegments: 2 },
        });
        const shipper = await ship(wal, {
          servers: servers.urls,
          stream,
          subject,
          createStream: true,
          checkpoint: true,
          checkpointIntervalMs: 10,
        });
        for (let round = 0; round < 10; round++) {
          await appendMany(wal, round * 200 + 1, 200);
          await wal.rotate();
        }
        await until('2000 shipped', () => shipper.shippedLsn === 2000);
        await until('checkpoint 2000', () => wal.checkpointLsn === 2000);
        await wal.rotate(); // retention runs on rotation
        await appendMany(wal, 2001, 1);
        const segments = await wal.segments();
        await shipper.stop();
        await wal.close();
        expect(segments[0].firstLsn).toBeGreaterThan(1); // retention deleted shipped segments
        expect(shipper.metrics().checkpoints).toBeGreaterThan(0);
      });

      it.runIf(mode.once)('refuses bad options with WAL_INVALID_OPTION', async () => {
        const wal = await openWal(temp.dir('ringwal-js-'));
        const good: ShipOptions = { servers: servers.urls, stream: 'S', subject: 'wal.x' };
        const bad: Array<[string, unknown, string]> = [
          ['no servers', { ...good, servers: undefined }, 'options.servers'],
          ['empty servers', { ...good, servers: [] }, 'options.servers'],
          ['no stream', { ...good, stream: undefined }, 'options.stream'],
          ['a stream with a dot', { ...good, stream: 'a.b' }, 'options.stream'],
          ['no subject', { ...good, subject: undefined }, 'options.subject'],
          ['a wildcard subject', { ...good, subject: 'wal.*' }, 'options.subject'],
          ['window 0', { ...good, windowMessages: 0 }, 'options.windowMessages'],
          ['windowBytes 0', { ...good, windowBytes: 0 }, 'options.windowBytes'],
          ['an unknown option', { ...good, speed: 'fast' }, 'options.speed'],
          ['bad createStream', { ...good, createStream: { replicas: 0 } }, 'options.createStream.replicas'],
          ['bad storage', { ...good, createStream: { storage: 'disk' } }, 'options.createStream.storage'],
          ['backoff max under min', { ...good, backoffMinMs: 100, backoffMaxMs: 10 }, 'options.backoffMaxMs'],
          ['onShipped not a function', { ...good, onShipped: 3 }, 'options.onShipped'],
          ['thread not a boolean', { ...good, thread: 'yes' }, 'options.thread'],
          ['threadNice above 19', { ...good, threadNice: 20 }, 'options.threadNice'],
          ['threadNice negative', { ...good, threadNice: -1 }, 'options.threadNice'],
          [
            'thread with a connection a worker cannot receive (a function)',
            { ...good, thread: true, connection: { reconnectDelayHandler: () => 100 } },
            'options.connection cannot be sent',
          ],
        ];
        for (const [what, options, named] of bad) {
          await expect(shipToJetStream(wal, options as ShipOptions), what).rejects.toMatchObject({
            code: 'WAL_INVALID_OPTION',
            message: expect.stringContaining(named),
          });
        }
        await expect(shipToJetStream(wal.dir, { ...good, checkpoint: true })).rejects.toMatchObject({
          code: 'WAL_INVALID_OPTION',
          message: expect.stringContaining('checkpoint needs an open Wal'),
        });
        await expect(shipToJetStream(wal.dir, { ...good, thread: true })).rejects.toMatchObject({
          code: 'WAL_INVALID_OPTION',
          message: expect.stringContaining('options.thread needs an open Wal'),
        });
        await expect(shipToJetStream(42 as unknown as string, good)).rejects.toMatchObject({
          code: 'WAL_INVALID_OPTION',
        });
        await wal.close();
      });
    });
});

describe('stream subjects', () => {
  it('matches a literal subject against a stream subject with wildcards', () => {
    const cases: Array<[string, string, boolean]> = [
      ['wal.a', 'wal.a', true],
      ['wal.*', 'wal.a', true],
      ['wal.*', 'wal.a.b', false],
      ['wal.>', 'wal.a.b', true],
      ['wal.>', 'wal', false],
      ['>', 'x', true],
      ['*.a', 'x.a', true],
      ['wal.b', 'wal.a', false],
      ['wal', 'wal.a', false],
    ];
    for (const [pattern, subject, expected] of cases)
      expect(subjectMatches(pattern, subject), `${pattern} ~ ${subject}`).toBe(expected);
  });
});
