/**
 * --store ringwal: every write is a ringwal entry ({ op, key, value, ts } through wal.set and
 * wal.delete), acknowledged once durable by --sync's rule. The state is rebuilt at start with
 * recoverState, after openWal has taken the directory's lock and recovered the log (so no
 * other process writes it, and a torn tail is already set aside).
 */
import { openWal, recoverState } from 'ringwal';
import { KvState } from '../kv-state.js';

export async function openRingwalStore(flags) {
  const options = { sync: flags.sync };
  if (flags.ringBytes !== undefined) options.ringBytes = flags.ringBytes;
  if (flags.maxEntryBytes !== undefined) options.maxEntryBytes = flags.maxEntryBytes;
  if (flags.maxPendingBytes !== undefined) options.maxPendingBytes = flags.maxPendingBytes;
  const wal = await openWal(flags.dir, options);
  let state;
  try {
    state = KvState.from(await recoverState(flags.dir));
  } catch (e) {
    await wal.close().catch(() => {});
    throw e;
  }
  // Acknowledgements arrive in LSN order, so applying each as it resolves replays the log's order.
  const applied = (op, key, value) => (lsn) => {
    state.apply(lsn, op, key, value);
    return lsn;
  };
  return {
    set: (key, value) => wal.set(key, value).then(applied('set', key, value)),
    delete: (key) => wal.delete(key).then(applied('delete', key)),
    get: (key) => state.get(key),
    failure: () => (wal.error ? { code: wal.error.code, message: wal.error.message } : null),
    close: () => wal.close(),
  };
}
