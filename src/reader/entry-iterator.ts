/**
 * `readWal`'s iterator: one entry per `next()`, taken from batches the readers produce
 * (src/reader/read-wal.ts, src/reader/parallel-read.ts).
 *
 * An async generator that yields each entry costs several promise turns per entry: about
 * 190 ns here, a fifth of what decoding the standard entry costs (docs/BENCHMARKS.md
 * "Session 8"). This object answers `next()` from the batch it holds with an already
 * resolved promise (about 60 ns, the least `for await` needs) and awaits the batch generator
 * only when the batch runs out. It behaves as an async generator does: calls made before
 * earlier ones settle are answered in order; `return()` and `throw()` end it and let the
 * batch generator release its file and pool; after an error or the end, `next()` says done.
 */

function noop(): void {}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });

export class EntryIterator<T> implements AsyncGenerator<T, void, undefined> {
  private batch: T[] = [];
  private i = 0;
  private finished = false;
  /** Calls queued and not yet finished; while any is, later calls wait their turn. */
  private pending = 0;
  /** Settles when the last call queued has finished. */
  private last: Promise<unknown> = Promise.resolve();

  constructor(private readonly batches: AsyncGenerator<T[], void, undefined>) {}

  next(): Promise<IteratorResult<T, void>> {
    if (this.pending === 0) {
      if (this.i < this.batch.length) return Promise.resolve({ value: this.take(), done: false });
      if (this.finished) return Promise.resolve(DONE);
    }
    return this.queue(() => this.refill());
  }

  return(): Promise<IteratorResult<T, void>> {
    return this.queue(async () => {
      await this.end();
      return DONE;
    });
  }

  throw(error: unknown): Promise<IteratorResult<T, void>> {
    return this.queue(async () => {
      await this.end();
      throw error;
    });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private take(): T {
    const value = this.batch[this.i];
    this.batch[this.i++] = undefined as T; // not kept alive by the iterator once handed out
    return value;
  }

  private async refill(): Promise<IteratorResult<T, void>> {
    while (this.i >= this.batch.length) {
      if (this.finished) return DONE;
      let step: IteratorResult<T[], void>;
      try {
        step = await this.batches.next();
      } catch (error) {
        this.finished = true;
        throw error;
      }
      if (step.done) {
        this.finished = true;
        return DONE;
      }
      this.batch = step.value;
      this.i = 0;
    }
    return { value: this.take(), done: false };
  }

  /** Ends the iteration early: the batch generator runs its `finally` blocks. */
  private async end(): Promise<void> {
    this.batch = [];
    this.i = 0;
    if (this.finished) return;
    this.finished = true;
    await this.batches.return(undefined);
  }

  /**
   * Runs `call` once every call queued before it has finished. The count drops as soon as a
   * call finishes, so the caller's next `next()` takes the fast path again.
   */
  private queue<R>(call: () => Promise<R>): Promise<R> {
    const run = async (): Promise<R> => {
      try {
        return await call();
      } finally {
        this.pending--;
      }
    };
    const result = ++this.pending === 1 ? run() : this.last.then(run, run);
    this.last = result.then(noop, noop);
    return result;
  }
}
