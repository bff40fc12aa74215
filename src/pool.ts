/**
 * The piscina pools that read segments (the parallel reader's range tasks, recoverState's
 * replay tasks), both sides: `TaskPool` on the main side, `segmentTask` around each worker
 * task's body (workers/read-range.ts, workers/replay.ts). Tasks get a path, never data, and
 * send their buffers back transferred, not copied.
 *
 * A WalError thrown in a worker reaches the main thread as a plain Error without its code, so
 * a task answers `{ error }` instead, and `TaskPool.run` throws it again as a WalError.
 */
import { move, Piscina, transferableSymbol, valueSymbol } from 'piscina';
import { fromWire, segmentReadError, toWire, WalError, type WireError } from './errors.js';
import { workerUrl } from './worker-path.js';

/** What a task sends back: its result, or the WalError that stopped it, as data. */
export type TaskAnswer<Result> = Result | { error: WireError };

export class TaskPool<Task, Result extends object> {
  private readonly pool: Piscina;
  /** Tasks not yet answered, for `close` to wait for. */
  private readonly running = new Set<Promise<unknown>>();

  constructor(worker: 'read-range' | 'replay', threads: number) {
    this.pool = new Piscina({
      filename: workerUrl(worker).href,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 1000,
      // A task's live set is small (one range, or one segment's keys) but its garbage is not
      // (a little per entry): a small young generation collects it sooner, at no measured cost.
      resourceLimits: { maxYoungGenerationSizeMb: 4 },
    });
  }

  /**
   * Runs a task; its result, or its WalError thrown. A task read ahead may never be awaited
   * (the read ended first): its failure is then dropped, not an unhandled rejection.
   */
  run(task: Task): Promise<Result> {
    const answer = this.pool.run(task) as Promise<TaskAnswer<Result>>;
    this.running.add(answer);
    const settled = () => this.running.delete(answer);
    answer.then(settled, settled);
    const result = answer.then(unwrap);
    result.catch(() => {});
    return result;
  }

  /**
   * Lets the tasks still running finish, then destroys the pool: destroying it under them
   * makes piscina emit 'error' for their late answers, with nobody listening.
   */
  async close(): Promise<void> {
    await Promise.allSettled([...this.running]);
    await this.pool.destroy();
  }
}

function unwrap<Result extends object>(answer: TaskAnswer<Result>): Result {
  if ('error' in answer) throw fromWire(answer.error as WireError);
  return answer;
}

/**
 * A worker task's body made into the task piscina runs: its result is moved to the main
 * thread with the buffers `transfer` names; an error reading the segment becomes an answer
 * (`segmentReadError`: a vanished file is WAL_SEGMENT_DELETED, another file-system error
 * WAL_IO_ERROR); anything else (a bug) is thrown as it is.
 */
export function segmentTask<Task extends { path: string }, Result extends object>(
  body: (task: Task) => Result,
  transfer: (result: Result) => ArrayBufferLike[],
): (task: Task) => unknown {
  return (task) => {
    let result: Result;
    try {
      result = body(task);
    } catch (e) {
      const error = segmentReadError(task.path, e);
      if (error instanceof WalError) return { error: toWire(error) };
      throw error;
    }
    return move({ [transferableSymbol]: transfer(result), [valueSymbol]: result });
  };
}
