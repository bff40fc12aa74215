/**
 * The one `process.on('exit')` hook for every open log that wants it: `process.exit()` right
 * after appending must lose nothing, so the hook blocks in each log's `flushSync()` (bounded
 * by its `flushTimeoutMs`). Exit handlers may block; the writer threads keep running meanwhile.
 */

interface Flushable {
  readonly dir: string;
  flushSync(): void;
}

const logs = new Set<Flushable>();
let installed = false;

function flushAll(): void {
  for (const log of logs) {
    try {
      log.flushSync();
    } catch (e) {
      process.stderr.write(`ringwal: flush on exit failed for ${log.dir}: ${(e as Error).message}\n`);
    }
  }
}

export function flushAtExit(log: Flushable): void {
  logs.add(log);
  if (!installed) {
    process.on('exit', flushAll);
    installed = true;
  }
}

export function stopFlushingAtExit(log: Flushable): void {
  logs.delete(log);
}
