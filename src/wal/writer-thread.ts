/**
 * The writer thread's lifecycle, seen from the main thread: starting the Worker and the
 * handshake (it recovers the directory, then says `ready` or `open-failed`), noticing it fail
 * or exit, keeping the process alive while someone waits for it, and waiting for it to stop.
 * Everything else between the threads goes through shared memory (src/ring/control-client.ts).
 */
import { Worker } from 'node:worker_threads';
import { fromWire, WalError, writerCrashed } from '../errors.js';
import type { FilledOptions } from '../options.js';
import { createRing, maxFragmentPayload } from '../ring/layout.js';
import { workerUrl } from '../worker-path.js';
import type { WriterConfig } from '../writer/log-writer.js';
import type { WriterData, WriterMessage } from '../writer/messages.js';

export type WriterReady = Extract<WriterMessage, { type: 'ready' }>;

export class WriterThread {
  /** The ring shared with the thread. */
  readonly sab: SharedArrayBuffer;
  /** Resolves once the thread has exited, for whatever reason. */
  readonly exited: Promise<void>;
  /** The thread's exit code once it has exited; null while it runs. */
  exitCode: number | null = null;
  private readonly worker: Worker;
  private refed = true;
  private onExit: ((code: number) => void) | null = null;

  private constructor(sab: SharedArrayBuffer, worker: Worker) {
    this.sab = sab;
    this.worker = worker;
    this.exited = new Promise<void>((resolve) => {
      worker.once('exit', (code) => {
        this.exitCode = code;
        this.onExit?.(code);
        resolve();
      });
    });
  }

  /**
   * Starts the writer on a new ring and waits until it has recovered `dir`. Rejects with the
   * writer's error if it could not open the log (it has exited by then), or WAL_WRITER_CRASHED.
   */
  static async start(
    dir: string,
    options: FilledOptions,
    internals: Pick<WriterData, 'faultFs'>,
  ): Promise<{ thread: WriterThread; ready: WriterReady }> {
    const sab = createRing(options.ringBytes);
    const workerData: WriterData = { sab, config: writerConfig(dir, options), ...internals };
    const worker = new Worker(workerUrl('writer'), { workerData, name: 'ringwal-writer' });
    const thread = new WriterThread(sab, worker);
    const message = await new Promise<WriterMessage>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      thread.exited.then(() => reject(writerCrashed('the writer thread exited while opening the log')));
    }).catch((e: unknown) => {
      throw e instanceof WalError
        ? e
        : writerCrashed(`the writer thread failed to start: ${(e as Error).message}`);
    });
    if (message.type === 'open-failed') {
      await thread.exited;
      throw fromWire(message.error);
    }
    return { thread, ready: message };
  }

  /**
   * Once the log is open: an error thrown in the thread goes to `onError`, its exit to
   * `onExit`, and the thread stops keeping the process alive by itself (`keepAlive`).
   */
  watch(onError: (error: WalError) => void, onExit: (code: number) => void): void {
    this.worker.on('error', (e) => onError(writerCrashed(`the writer thread failed: ${e.message}`)));
    this.onExit = onExit;
    this.worker.unref();
    this.refed = false;
  }

  /**
   * Keeps the process alive while something waits for the writer: Atomics.waitAsync does not
   * (nodejs/node#44729), the worker does.
   */
  keepAlive(): void {
    if (!this.refed) {
      this.worker.ref();
      this.refed = true;
    }
  }

  /** Lets the process exit while nothing waits for the writer. */
  allowExit(): void {
    if (this.refed) {
      this.worker.unref();
      this.refed = false;
    }
  }

  /** Waits for the thread to exit (once asked to close), keeping the process alive until then. */
  stopped(): Promise<void> {
    this.worker.ref();
    this.refed = true;
    return this.exited;
  }
}

/** What the writer is told about the log at start. */
function writerConfig(dir: string, options: FilledOptions): WriterConfig {
  return {
    dir,
    sync: options.sync,
    syncIntervalMs: options.syncIntervalMs,
    segmentBytes: options.segmentBytes,
    maxEntryBytes: options.maxEntryBytes,
    maxRecordBytes: Math.min(maxFragmentPayload(options.ringBytes), options.maxEntryBytes),
    maxBatchBytes: Math.min(options.ringBytes / 2, 8 * 1024 * 1024),
    idleWaitMs: 1000,
    rotateIntervalMs: options.rotateIntervalMs,
    preallocate: options.preallocate,
    retention: options.retention,
    recovery: options.recovery,
    fileMode: options.fileMode,
  };
}
