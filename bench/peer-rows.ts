/**
 * The rows of `npm run bench:peers` (bench/peers.ts): each system as `append(i) => Promise`,
 * resolved when the system acknowledges entry i, and `batch(from, n)`, its own way of
 * committing n entries at once (or n appends awaited together where it has none). Every row
 * writes the standard entry (bench/entry.ts): as a value (ringwal, lmdb), as its MessagePack
 * bytes (the group commit, SQLite, LevelDB) or as a pino log line (JSON).
 *
 * Synchronous APIs (better-sqlite3, pino) cannot have writes in flight: a call is done when
 * it returns. Their appends are acknowledged at the next turn of the event loop, all the calls
 * of one turn together, so a closed loop of N in flight makes N calls per turn, as a server
 * answering N requests per turn would, and the event loop turns between them.
 *
 * The peers come from bench/peers (`npm ci --prefix bench/peers`); a peer that is missing or
 * fails to load makes `open` return null and the row says so.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { Packr } from 'msgpackr';
import { openWal, type WalOptions } from '../src/index.js';
import { MainThreadGroupCommit } from './baseline.js';
import { requirePeer } from './child-run.js';
import { standardEntry } from './entry.js';
import type { Append, Batch } from './peer-measure.js';

export type CaseId = 'c1' | 'c64' | 'c1024' | 'all' | 'batch';

export interface Opened {
  append: Append;
  batch: Batch;
  /** The fast path: a closed loop runs bursts (`batch`) instead of single appends. */
  bursts?: boolean;
  /** Runs inside the timed span after the last acknowledgement (pino: its flush). */
  finish(): Promise<void>;
  close(): Promise<void>;
}

export interface System {
  name: string;
  /** Is an acknowledged entry on disk (survives power loss)? 'yes ...' or 'no: why'. */
  durable: string;
  /** What its batch-of-1000 case does. */
  batchIs: string;
  /** The peer package it needs, for the "not installed" row. */
  peer?: string;
  /** Entries of its all-at-once case (200,000 unless it is too slow for that). */
  allAtOnce?: number;
  /** The cases it runs (all of them by default). */
  cases?: CaseId[];
  open(dir: string): Promise<Opened | null>;
}

const noop = async (): Promise<void> => {};
const packr = new Packr({ useRecords: false });

/** n appends awaited together: the batch of a system with no batch API. */
const together =
  (append: Append): Batch =>
  (from, n) => {
    const acks = new Array<Promise<unknown>>(n);
    for (let k = 0; k < n; k++) acks[k] = append(from + k);
    return Promise.all(acks);
  };

let turn: Promise<void> | null = null;
/** Settles at the next turn of the event loop; every caller in this turn shares it. */
function nextTurn(): Promise<void> {
  turn ??= new Promise((resolve) =>
    setImmediate(() => {
      turn = null;
      resolve();
    }),
  );
  return turn;
}

/** A log key that sorts in append order (LevelDB keeps keys sorted; an append log's are). */
const key = (i: number): string => `k${String(i).padStart(12, '0')}`;

function ringwal(name: string, durable: string, options: WalOptions): System {
  return {
    name,
    durable,
    batchIs: '1000 `append` awaited together',
    async open(dir) {
      const wal = await openWal(path.join(dir, 'wal'), options);
      const append: Append = (i) => wal.append(standardEntry(i));
      return { append, batch: together(append), finish: noop, close: () => wal.close() };
    },
  };
}

interface SqliteDatabase {
  pragma(text: string): unknown;
  exec(sql: string): void;
  prepare(sql: string): { run(...values: unknown[]): unknown };
  transaction<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void;
  close(): void;
}

async function openSqlite(dir: string): Promise<{ db: SqliteDatabase; insert: (i: number) => void } | null> {
  const Database = requirePeer<new (file: string) => SqliteDatabase>('better-sqlite3');
  if (!Database) return null;
  const db = new Database(path.join(dir, 'log.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE log (lsn INTEGER PRIMARY KEY, value BLOB NOT NULL)');
  const statement = db.prepare('INSERT INTO log (value) VALUES (?)');
  return { db, insert: (i) => statement.run(packr.pack(standardEntry(i))) };
}

interface ClassicLevel {
  open(): Promise<void>;
  put(key: string, value: Uint8Array, options: { sync: boolean }): Promise<void>;
  batch(ops: { type: 'put'; key: string; value: Uint8Array }[], options: { sync: boolean }): Promise<void>;
  close(): Promise<void>;
}
type ClassicLevelClass = new (location: string, options: object) => ClassicLevel;

async function openLevel(dir: string): Promise<ClassicLevel | null> {
  const mod = requirePeer<{ ClassicLevel: ClassicLevelClass }>('classic-level');
  if (!mod) return null;
  const db = new mod.ClassicLevel(path.join(dir, 'level'), { keyEncoding: 'utf8', valueEncoding: 'view' });
  await db.open();
  return db;
}

interface LmdbPut extends Promise<boolean> {
  /** With `separateFlushed`: resolves once the transaction holding the put is synced. */
  flushed?: Promise<void>;
}
interface LmdbDatabase {
  put(key: number, value: unknown): LmdbPut;
  close(): Promise<void>;
}

interface Logger {
  info(obj: object): void;
  flush(cb: (error?: Error | null) => void): void;
}
interface Pino {
  (options: object, stream?: unknown): Logger;
  destination(options: object): unknown;
  transport(options: object): NodeJS.EventEmitter;
}

function loadPino(): Pino | null {
  try {
    return createRequire(import.meta.url)('pino') as Pino;
  } catch {
    return null;
  }
}

function pinoRow(
  name: string,
  durable: string,
  make: (pino: Pino, file: string) => Promise<unknown>,
): System {
  return {
    name,
    durable,
    batchIs: '1000 `logger.info` calls, acknowledged at the next turn',
    peer: 'pino',
    allAtOnce: durable.startsWith('yes') ? 2000 : undefined,
    async open(dir) {
      const pino = loadPino();
      if (!pino) return null;
      const logger = pino({}, await make(pino, path.join(dir, 'app.log')));
      const append: Append = (i) => {
        logger.info(standardEntry(i) as object);
        return nextTurn();
      };
      const finish = () =>
        new Promise<void>((resolve, reject) => logger.flush((error) => (error ? reject(error) : resolve())));
      return { append, batch: together(append), finish, close: noop };
    },
  };
}

export const SYSTEMS: System[] = [
  ringwal('ringwal append, sync always', 'yes: fdatasync before the ack', {}),
  {
    name: 'ringwal appendNoWait + waitFor',
    durable: 'yes: fdatasync before the ack',
    batchIs: '1000 `appendNoWait`, one `waitFor`',
    async open(dir) {
      const wal = await openWal(path.join(dir, 'wal'));
      const batch: Batch = (from, n) => {
        let last = 0;
        for (let k = 0; k < n; k++) last = wal.appendNoWait(standardEntry(from + k));
        return wal.waitFor(last);
      };
      return {
        append: (i) => wal.waitFor(wal.appendNoWait(standardEntry(i))),
        batch,
        bursts: true,
        finish: noop,
        close: () => wal.close(),
      };
    },
  },
  ringwal('ringwal append, sync interval', 'no: in the OS; fdatasync within 100 ms', { sync: 'interval' }),
  ringwal('ringwal append, sync none', 'no: in the OS; never fdatasync’d by itself', { sync: 'none' }),
  {
    name: 'main-thread group commit',
    durable: 'yes: fdatasync before the ack',
    batchIs: '1000 appends awaited together',
    async open(dir) {
      const fd = fs.openSync(path.join(dir, 'group-commit.log'), 'w');
      const log = new MainThreadGroupCommit(fd);
      const append: Append = (i) => log.append(standardEntry(i));
      return { append, batch: together(append), finish: noop, close: async () => fs.closeSync(fd) };
    },
  },
  {
    name: 'lmdb-js put, flushed',
    durable: 'yes: resolves on `flushed` (after fdatasync)',
    batchIs: '1000 `put` in one turn (one transaction), its `flushed`',
    peer: 'lmdb',
    async open(dir) {
      const lmdb = requirePeer<{ open: (options: object) => LmdbDatabase }>('lmdb');
      if (!lmdb) return null;
      // With overlappingSync (the default on Linux) put() resolves at commit, before the
      // sync; separateFlushed hangs the sync's promise on it as `.flushed`.
      const db = lmdb.open({ path: path.join(dir, 'lmdb'), compression: false, separateFlushed: true });
      const durable = (p: LmdbPut): Promise<unknown> => p.flushed ?? p;
      const append: Append = (i) => durable(db.put(i, standardEntry(i)));
      const batch: Batch = (from, n) => {
        let last: LmdbPut | null = null;
        for (let k = 0; k < n; k++) last = db.put(from + k, standardEntry(from + k));
        return durable(last!);
      };
      return { append, batch, finish: noop, close: () => db.close() };
    },
  },
  {
    name: 'better-sqlite3 autocommit',
    durable: 'yes: WAL, synchronous=FULL',
    batchIs: '1000 autocommits, acknowledged at the next turn',
    peer: 'better-sqlite3',
    allAtOnce: 2000,
    async open(dir) {
      const opened = await openSqlite(dir);
      if (!opened) return null;
      const append: Append = (i) => {
        opened.insert(i);
        return nextTurn();
      };
      return { append, batch: together(append), finish: noop, close: async () => opened.db.close() };
    },
  },
  {
    name: 'better-sqlite3 transactions of 1000',
    durable: 'yes: WAL, synchronous=FULL',
    batchIs: 'one transaction of 1000 INSERTs',
    peer: 'better-sqlite3',
    cases: ['batch'],
    async open(dir) {
      const opened = await openSqlite(dir);
      if (!opened) return null;
      const tx = opened.db.transaction((from: number, n: number) => {
        for (let k = 0; k < n; k++) opened.insert(from + k);
      });
      const batch: Batch = (from, n) => {
        tx(from, n);
        return nextTurn();
      };
      return { append: (i) => batch(i, 1), batch, finish: noop, close: async () => opened.db.close() };
    },
  },
  {
    name: 'classic-level put, sync',
    durable: 'yes: `sync: true`',
    batchIs: '1000 `put` with `sync: true` awaited together',
    peer: 'classic-level',
    allAtOnce: 20_000,
    async open(dir) {
      const db = await openLevel(dir);
      if (!db) return null;
      const append: Append = (i) => db.put(key(i), packr.pack(standardEntry(i)), { sync: true });
      return { append, batch: together(append), finish: noop, close: () => db.close() };
    },
  },
  {
    name: 'classic-level batch of 1000, sync',
    durable: 'yes: `sync: true`',
    batchIs: 'one `batch()` of 1000 puts with `sync: true`',
    peer: 'classic-level',
    cases: ['batch'],
    async open(dir) {
      const db = await openLevel(dir);
      if (!db) return null;
      const batch: Batch = (from, n) => {
        const ops = new Array<{ type: 'put'; key: string; value: Uint8Array }>(n);
        for (let k = 0; k < n; k++)
          ops[k] = { type: 'put', key: key(from + k), value: packr.pack(standardEntry(from + k)) };
        return db.batch(ops, { sync: true });
      };
      return { append: (i) => batch(i, 1), batch, finish: noop, close: () => db.close() };
    },
  },
  pinoRow('pino file (sonic-boom, async)', 'no: written, never fsynced', async (pino, file) =>
    pino.destination({ dest: file, sync: false }),
  ),
  pinoRow('pino file, fsync', 'yes: an fsync per line, in the call', async (pino, file) =>
    pino.destination({ dest: file, sync: true, fsync: true }),
  ),
  pinoRow('pino worker transport', 'no: handed to a worker, never fsynced', async (pino, file) => {
    const transport = pino.transport({ target: 'pino/file', options: { destination: file } });
    await new Promise((resolve) => transport.once('ready', resolve));
    return transport;
  }),
];
