/**
 * The server's command-line flags, checked once at start. An error names the flag; the
 * server prints it with the usage and exits 2.
 */

export const USAGE = `usage: node examples/http-server/server.js --dir DIR [--port PORT] [options]

  --dir DIR                where the store keeps its files (a ringwal log directory for --store ringwal)
  --port PORT              TCP port on 127.0.0.1; 0 takes a free one (default 8080)
  --store NAME             ringwal (default) | none (memory only) | naive (appendFile + fdatasync
                           per request) | sqlite (better-sqlite3 from bench/peers)
  --sync MODE              ringwal's sync mode: always (default) | interval | none
  --max-body-bytes N       largest request body; larger ones get 413 (default 65536)
  --ring-bytes N           ringwal's ringBytes      (default: ringwal's, 4 MiB)
  --max-entry-bytes N      ringwal's maxEntryBytes  (default: ringwal's, 64 MiB)
  --max-pending-bytes N    ringwal's maxPendingBytes (default: ringwal's, 64 MiB; never below maxEntryBytes)`;

const STORES = ['ringwal', 'none', 'naive', 'sqlite'];
const SYNC_MODES = ['always', 'interval', 'none'];

/** The flags' values, with their defaults. */
const DEFAULTS = {
  dir: undefined,
  port: 8080,
  store: 'ringwal',
  sync: 'always',
  maxBodyBytes: 64 * 1024,
  ringBytes: undefined,
  maxEntryBytes: undefined,
  maxPendingBytes: undefined,
};

const NUMERIC = {
  '--port': ['port', 0, 65535],
  '--max-body-bytes': ['maxBodyBytes', 0, 2 ** 31],
  '--ring-bytes': ['ringBytes', 0, 2 ** 40],
  '--max-entry-bytes': ['maxEntryBytes', 1, 2 ** 40],
  '--max-pending-bytes': ['maxPendingBytes', 0, 2 ** 40],
};

export class FlagError extends Error {}

/** Parses `argv` (without node and the script); throws FlagError naming the flag at fault. */
export function parseFlags(argv) {
  const flags = { ...DEFAULTS };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i];
    if (name === '--help' || name === '-h') return { ...flags, help: true };
    const value = argv[i + 1];
    if (value === undefined || value.startsWith('--')) throw new FlagError(`${name} needs a value`);
    i++;
    if (name in NUMERIC) {
      const [key, min, max] = NUMERIC[name];
      const n = Number(value);
      if (!Number.isSafeInteger(n) || n < min || n > max) {
        throw new FlagError(`${name} must be an integer from ${min} to ${max}; got ${value}`);
      }
      flags[key] = n;
    } else if (name === '--dir') {
      flags.dir = value;
    } else if (name === '--store') {
      if (!STORES.includes(value)) {
        throw new FlagError(`--store must be one of ${STORES.join(', ')}; got ${value}`);
      }
      flags.store = value;
    } else if (name === '--sync') {
      if (!SYNC_MODES.includes(value)) {
        throw new FlagError(`--sync must be one of ${SYNC_MODES.join(', ')}; got ${value}`);
      }
      flags.sync = value;
    } else {
      throw new FlagError(`unknown flag ${name}`);
    }
  }
  if (flags.dir === undefined && flags.store !== 'none') throw new FlagError('--dir is required');
  return flags;
}
