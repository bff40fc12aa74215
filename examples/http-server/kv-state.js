/**
 * The in-memory key-value state GET serves: rebuilt when the server starts, then updated as
 * each write is acknowledged. A key remembers the position (LSN) of the write that set it, and
 * a write older than that is ignored: ringwal acknowledges in LSN order, but the naive store's
 * fdatasyncs may finish out of order, and then the later write must stay.
 */
export class KvState {
  /** @type {Map<string, { lsn: number, value: unknown }>} */
  #entries = new Map();
  /** Position of the last delete of each key still absent, so an older set cannot revive it. */
  #deletedAt = new Map();

  /** Starts from `map` (key -> value, e.g. from ringwal's recoverState): older than any new write. */
  static from(map) {
    const state = new KvState();
    for (const [key, value] of map) state.#entries.set(key, { lsn: 0, value });
    return state;
  }

  /** Records write `lsn` ({ op: 'set' | 'delete', key, value }) unless a later one of `key` is already in. */
  apply(lsn, op, key, value) {
    const newest = Math.max(this.#entries.get(key)?.lsn ?? -1, this.#deletedAt.get(key) ?? -1);
    if (lsn <= newest) return;
    if (op === 'set') {
      this.#entries.set(key, { lsn, value });
      this.#deletedAt.delete(key);
    } else {
      this.#entries.delete(key);
      this.#deletedAt.set(key, lsn);
    }
  }

  /** `{ found: true, value }`, or `{ found: false }` for a key never set or deleted last. */
  get(key) {
    const entry = this.#entries.get(key);
    return entry ? { found: true, value: entry.value } : { found: false };
  }

  get size() {
    return this.#entries.size;
  }
}
