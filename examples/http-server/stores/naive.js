/**
 * --store naive: what a server does without a log library. One file, opened once in append
 * mode; per request, append the write as a JSON line, fdatasync, then answer. Concurrent
 * requests each pay their own fdatasync (the file system may merge some of them: that is the
 * kernel's doing, not this store's). A failed write or sync is sticky, as in ringwal: after a
 * failed fdatasync the kernel may have dropped the dirty pages, so nothing is acknowledged again.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KvState } from '../kv-state.js';

const FILE = 'kv.jsonl';

export async function openNaiveStore(flags) {
  fs.mkdirSync(flags.dir, { recursive: true });
  const file = path.join(flags.dir, FILE);
  const { state, lastLsn } = replay(file);
  let nextLsn = lastLsn + 1;
  const handle = await fs.promises.open(file, 'a');
  let failed = null;

  const write = async (op, key, value) => {
    if (failed) throw failed;
    const lsn = nextLsn++;
    try {
      const line = Buffer.from(`${JSON.stringify({ lsn, op, key, value })}\n`);
      const { bytesWritten } = await handle.write(line);
      // On a nearly full disk a write can be short without an error; a sync after it would
      // acknowledge bytes that are not there.
      if (bytesWritten !== line.length) throw Object.assign(new Error('short write'), { code: 'ENOSPC' });
      await handle.datasync();
    } catch (e) {
      failed ??= Object.assign(new Error(`${FILE}: ${e.message}`), { code: e.code ?? 'EIO' });
      throw failed;
    }
    state.apply(lsn, op, key, value);
    return lsn;
  };
  return {
    set: (key, value) => write('set', key, value),
    delete: (key) => write('delete', key),
    get: (key) => state.get(key),
    failure: () => (failed ? { code: failed.code, message: failed.message } : null),
    close: () => handle.close(),
  };
}

/**
 * The state the file describes. Lines may be out of LSN order (concurrent appends); a line cut
 * short by a crash is skipped, and ended with a newline so the next append starts a line of its own.
 */
function replay(file) {
  const state = new KvState();
  let lastLsn = 0;
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if (e.code === 'ENOENT') return { state, lastLsn };
    throw e;
  }
  for (const line of text.split('\n')) {
    let write;
    try {
      write = JSON.parse(line);
    } catch {
      continue;
    }
    state.apply(write.lsn, write.op, write.key, write.value);
    lastLsn = Math.max(lastLsn, write.lsn);
  }
  if (text.length > 0 && !text.endsWith('\n')) fs.appendFileSync(file, '\n');
  return { state, lastLsn };
}
