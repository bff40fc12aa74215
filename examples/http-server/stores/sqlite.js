/**
 * --store sqlite: better-sqlite3 in WAL mode with synchronous=FULL, one autocommitted INSERT per
 * write into a table used as a log; the state is rebuilt from it at start. better-sqlite3 is
 * synchronous: each INSERT holds the event loop through its fsync, as it would in any server
 * using it. It is not a dependency of ringwal: it is loaded from bench/peers
 * (npm ci --prefix bench/peers), and only when this store is chosen.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KvState } from '../kv-state.js';

const PEERS = fileURLToPath(new URL('../../../bench/peers/package.json', import.meta.url));

function loadBetterSqlite3() {
  try {
    return createRequire(PEERS)('better-sqlite3');
  } catch (e) {
    throw new Error(
      `--store sqlite needs better-sqlite3, which is not installed (${e.code ?? e.message}): run npm ci --prefix bench/peers`,
    );
  }
}

export function openSqliteStore(flags) {
  const Database = loadBetterSqlite3();
  fs.mkdirSync(flags.dir, { recursive: true });
  const db = new Database(path.join(flags.dir, 'kv.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(
    'CREATE TABLE IF NOT EXISTS log (lsn INTEGER PRIMARY KEY, op TEXT NOT NULL, key TEXT NOT NULL, value TEXT)',
  );
  const state = new KvState();
  for (const row of db.prepare('SELECT lsn, op, key, value FROM log ORDER BY lsn').iterate()) {
    state.apply(row.lsn, row.op, row.key, row.value === null ? undefined : JSON.parse(row.value));
  }
  const insert = db.prepare('INSERT INTO log (op, key, value) VALUES (?, ?, ?)');
  let failed = null;

  const write = (op, key, value) => {
    if (failed) return Promise.reject(failed);
    let lsn;
    try {
      lsn = Number(insert.run(op, key, value === undefined ? null : JSON.stringify(value)).lastInsertRowid);
    } catch (e) {
      // SQLite rolls back a failed commit, but after a failed fsync we stop acknowledging, as the other stores do.
      failed = e;
      return Promise.reject(e);
    }
    state.apply(lsn, op, key, value);
    return Promise.resolve(lsn);
  };
  return {
    set: (key, value) => write('set', key, value),
    delete: (key) => write('delete', key),
    get: (key) => state.get(key),
    failure: () => (failed ? { code: failed.code ?? 'SQLITE_ERROR', message: failed.message } : null),
    close: () => {
      db.close();
      return Promise.resolve();
    },
  };
}
