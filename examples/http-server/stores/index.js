/**
 * The stores the server can run on, by --store name; each acknowledges a write only once its
 * own durability rule is met, and keeps the KvState that GET serves. A store is
 *   set(key, value) -> Promise<lsn>, delete(key) -> Promise<lsn>   resolve once acknowledged
 *   get(key) -> { found, value }                                    the acknowledged state
 *   failure() -> { code, message } | null                           a sticky failure, or none
 *   close() -> Promise<void>
 * Only the chosen store's module is loaded: better-sqlite3 only for --store sqlite.
 */
export async function openStore(flags) {
  switch (flags.store) {
    case 'ringwal':
      return (await import('./ringwal.js')).openRingwalStore(flags);
    case 'none':
      return (await import('./memory.js')).openMemoryStore();
    case 'naive':
      return (await import('./naive.js')).openNaiveStore(flags);
    case 'sqlite':
      return (await import('./sqlite.js')).openSqliteStore(flags);
    default:
      throw new Error(`no store named ${flags.store}`);
  }
}
