/**
 * --store none: the state in memory and nothing else, the ceiling of the load benchmark (all
 * the HTTP work, none of the durability). A restart loses everything.
 */
import { KvState } from '../kv-state.js';

export function openMemoryStore() {
  const state = new KvState();
  let lastLsn = 0;
  const write = (op, key, value) => {
    const lsn = ++lastLsn;
    state.apply(lsn, op, key, value);
    return Promise.resolve(lsn);
  };
  return {
    set: (key, value) => write('set', key, value),
    delete: (key) => write('delete', key),
    get: (key) => state.get(key),
    failure: () => null,
    close: () => Promise.resolve(),
  };
}
