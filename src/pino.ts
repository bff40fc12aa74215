/**
 * `ringwal/pino`: a pino destination that writes each log line as one entry of a ringwal log,
 * so a line is on disk (fdatasync'd) once `flushed()` resolves, and lines logged right before
 * `process.exit()` or an uncaught exception are not lost (the log's `flushOnExit` hook blocks
 * in `process.on('exit')` until they are durable).
 *
 *   import pino from 'pino';
 *   import { ringwalDestination } from 'ringwal/pino';
 *   const logger = pino(await ringwalDestination('./logs'));
 *
 * Each line is stored as the string pino wrote, without its newline: the bytes pino chose,
 * exactly, and the cheapest thing to encode (docs/BENCHMARKS.md, "pino"). Parsing it back into
 * an object would cost the main thread a `JSON.parse` per line and could change the line:
 * integers past 2^53 lose digits, and a key pino writes twice (a mixin and the call's object)
 * keeps one value. `ringwal dump DIR --format lines` prints the lines back, one per line, as
 * pino wrote them (`| pino-pretty` reads them).
 *
 * pino is not imported here (it stays an optional peer dependency): pino only needs a
 * `write(line)` method, and calls `flush(cb)` and `flushSync()` when they exist.
 */
import { EventEmitter } from 'node:events';
import { ErrorCode, WalError } from './errors.js';
import { openWal } from './open.js';
import type { WalOptions } from './options.js';
import type { Wal } from './wal.js';

/** Opens (or creates) the log in `dir` and returns a destination writing to it. */
export async function ringwalDestination(dir: string, options?: WalOptions): Promise<RingwalDestination> {
  return new RingwalDestination(await openWal(dir, options));
}

const decoder = new TextDecoder();

/**
 * A pino destination over an open log. Events, as sonic-boom's: `'error'` when a line cannot be
 * written (a failed or closed log, a line over `maxEntryBytes`), `'drop'` (with the line) when
 * the log pushes back (`WAL_BACKPRESSURE`: the writer is far behind), `'finish'` and `'close'`
 * once `end()` has closed the log. Like any stream, an `'error'` nobody listens to is thrown
 * from `write()`, and so from the `logger.info()` that caused it.
 */
export class RingwalDestination extends EventEmitter {
  /** The log the lines go to (its metrics, `durableLsn`, readers). */
  readonly wal: Wal;
  /** pino (and Node's stream checks) treat an object with `writable: true` as a stream: `pino(dest)` works. */
  readonly writable = true;
  /** Lines refused because the log pushed back (each also emitted as `'drop'`). */
  dropped = 0;
  private ending: Promise<void> | null = null;

  constructor(wal: Wal) {
    super();
    this.wal = wal;
  }

  /**
   * Appends each line of `chunk` (pino writes one line per call, ending in `\n`) as one entry,
   * without its newline; a chunk's last piece is stored even if no newline ends it, since a
   * line held back here would be lost on exit. Returns false if a line was dropped or failed.
   */
  write(chunk: string | Uint8Array): boolean {
    const text = typeof chunk === 'string' ? chunk : decoder.decode(chunk);
    let ok = true;
    let start = 0;
    while (start < text.length) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = text.length;
      if (!this.appendLine(start === 0 && end === text.length ? text : text.slice(start, end))) ok = false;
      start = end + 1;
    }
    return ok;
  }

  /** pino's `logger.flush(cb)`: calls back once every line written so far is fdatasync'd (or with the error). */
  flush(cb?: (error?: Error | null) => void): void {
    this.flushed().then(
      () => cb?.(null),
      (error: Error) => (cb ? cb(error) : this.emit('error', error)),
    );
  }

  /** Resolves once every line written so far is fdatasync'd, in every sync mode of the log. */
  flushed(): Promise<void> {
    return this.wal.sync();
  }

  /** Blocks until every line written so far is fdatasync'd (`wal.flushSync()`; throws on failure or timeout). */
  flushSync(): void {
    this.wal.flushSync();
  }

  /** Closes the log once every line is durable; `'finish'` then `'close'` follow, or `'error'`. */
  end(cb?: () => void): this {
    this.ending ??= this.wal.close().then(
      () => {
        this.emit('finish');
        this.emit('close');
      },
      (error: unknown) => {
        this.emit('error', error);
        this.emit('close');
      },
    );
    if (cb) void this.ending.then(cb, cb);
    return this;
  }

  /** Closes the log (as `end()`); with `error`, emits it first. */
  destroy(error?: Error): this {
    if (error) this.emit('error', error);
    return this.end();
  }

  private appendLine(line: string): boolean {
    try {
      this.wal.appendNoWait(line);
      return true;
    } catch (error) {
      if (error instanceof WalError && error.code === ErrorCode.BACKPRESSURE) {
        this.dropped++;
        this.emit('drop', line);
      } else {
        this.emit('error', error);
      }
      return false;
    }
  }
}
