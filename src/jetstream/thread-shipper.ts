/**
 * A `Wal` shipped from a worker thread (`thread: true`, the default for a `Wal` source): the
 * follower's reads and CRC checks, the packing, the NATS client and the acknowledgements run
 * in workers/shipper.ts, so the application's main thread keeps only a notice now and then,
 * the checkpoints and the callbacks. Same surface as `Shipper`.
 *
 *   main thread                        shared memory                  shipper worker
 *   ───────────                        ─────────────                  ──────────────
 *   wal (appends) ──► writer ──► ring: DURABLE_LSN, WRITER_STATE ──► DurableSource (polled)
 *                                                                     Shipper ──► NATS
 *   shippedLsn, metrics() ◄────── status: SHIPPED_LSN, metrics ◄──── each acknowledgement
 *   onShipped, checkpoint ◄────── 'shipped' notice (one pending at most)
 *   onRetry, closed       ◄────── 'retry', 'closed' messages
 *   stop()                ──────► 'stop'
 */
import { Worker } from 'node:worker_threads';
import { ErrorCode, WalError } from '../errors.js';
import type { Wal } from '../wal.js';
import { workerUrl } from '../worker-path.js';
import { ShipCheckpointer } from './checkpointer.js';
import type { ShipperMetrics } from './metrics.js';
import type { FilledShipOptions } from './options.js';
import {
  createStatus,
  errorFromThread,
  errorToThread,
  type ShipperThreadCommand,
  type ShipperThreadData,
  type ShipperThreadMessage,
  StatusReader,
} from './thread-status.js';

/** How often the main thread looks whether its log failed without the writer saying so (it died). */
const WATCH_LOG_MS = 100;

export class ThreadShipper {
  /** As `Shipper.closed`. */
  readonly closed: Promise<void>;
  /** The log's identity: message ids are `<logId>:<lsn>`. */
  readonly logId: string;

  private readonly status: StatusReader;
  private readonly checkpointer: ShipCheckpointer | null;
  private reported = 0;
  private stopped = false;
  private stopping = false;
  private readonly watchLog: NodeJS.Timeout;
  /** Settles once the worker is connected and the stream checked (or failed to). */
  private readonly started: Promise<void>;

  /** @internal Use `shipToJetStream`. */
  constructor(
    private readonly wal: Wal,
    private readonly options: FilledShipOptions,
    private readonly worker: Worker,
    status: SharedArrayBuffer,
  ) {
    this.logId = wal.logId;
    this.status = new StatusReader(status);
    this.checkpointer = options.checkpoint
      ? new ShipCheckpointer(wal, options.checkpointIntervalMs, (e) => options.onRetry?.(e))
      : null;
    // A writer that died stores no error: tell the worker, whose follower would wait forever.
    this.watchLog = setInterval(() => {
      const error = wal.error;
      if (error && error.code !== ErrorCode.CLOSED)
        this.command({ type: 'source-failed', error: errorToThread(error) });
    }, WATCH_LOG_MS).unref();
    let onStarted: (error: Error | null) => void = () => {};
    this.started = new Promise<void>((resolve, reject) => {
      onStarted = (error) => (error ? reject(error) : resolve());
    });
    this.closed = new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = async (error: Error | null): Promise<void> => {
        if (settled) return;
        settled = true;
        onStarted(error ?? shipperCrashed(new Error('it ended before it started')));
        clearInterval(this.watchLog);
        this.stopped = true;
        await worker.terminate().catch(() => {});
        this.noticeShipped();
        await this.checkpointer?.finish();
        if (error) reject(error);
        else resolve();
      };
      worker.on('message', (message: ShipperThreadMessage) => {
        if (message.type === 'started') onStarted(null);
        else if (message.type === 'start-failed') {
          onStarted(errorFromThread(message.error));
          void settle(errorFromThread(message.error));
        } else if (message.type === 'shipped') this.noticeShipped();
        else if (message.type === 'retry') options.onRetry?.(errorFromThread(message.error));
        else if (message.type === 'closed')
          void settle(message.error ? errorFromThread(message.error) : null);
      });
      worker.on('error', (e) => void settle(shipperCrashed(e)));
      worker.on('exit', (code) => void settle(shipperCrashed(new Error(`it exited with code ${code}`))));
    });
  }

  /** @internal Resolves once started; rejects (and the worker is gone) if it could not start. */
  async whenStarted(): Promise<this> {
    try {
      await this.started;
    } catch (e) {
      this.closed.catch(() => {}); // the start's error is the one to report
      await this.closed.catch(() => {});
      throw e;
    }
    return this;
  }

  /** Highest LSN the stream has acknowledged (or held when shipping last resumed). */
  get shippedLsn(): number {
    return this.status.shippedLsn();
  }

  /** As `Shipper.metrics()`: the worker's last figures (refreshed at each acknowledgement), the log's and the checkpoints' from here. */
  metrics(): ShipperMetrics {
    const fromWorker = this.status.metrics();
    const shippedLsn = fromWorker.shippedLsn;
    const sourceLsn = Math.max(this.wal.durableLsn, shippedLsn);
    return {
      ...fromWorker,
      sourceLsn,
      lagEntries: sourceLsn - shippedLsn,
      checkpoints: this.checkpointer?.checkpoints ?? 0,
      checkpointLsn: this.checkpointer?.checkpointLsn ?? 0,
      state: this.stopped ? 'stopped' : fromWorker.state,
    };
  }

  /** As `Shipper.stop()`: the worker stops reading, lets publishes settle and exits; a last checkpoint here. */
  async stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      this.command({ type: 'stop' });
    }
    await this.closed.catch(() => {});
  }

  private command(command: ShipperThreadCommand): void {
    if (!this.stopped) this.worker.postMessage(command);
  }

  /** Reads the shipped LSN the worker stored: onShipped and the checkpointer hear of a new one. */
  private noticeShipped(): void {
    const lsn = this.status.takeNotice();
    if (lsn <= this.reported) return;
    this.reported = lsn;
    this.checkpointer?.shipped(lsn);
    this.options.onShipped?.(lsn);
  }
}

/**
 * Starts the worker and waits until it is connected and the stream checked; rejects as
 * `startShipper` does (its error crossed the thread with its code).
 */
export async function startThreadShipper(
  wal: Wal,
  options: FilledShipOptions,
  ring: SharedArrayBuffer,
): Promise<ThreadShipper> {
  const status = createStatus();
  const { onShipped: _onShipped, onRetry: _onRetry, ...cloneable } = options;
  const workerData: ShipperThreadData = {
    ring,
    status,
    dir: wal.dir,
    logId: wal.logId,
    options: cloneable,
    nice: options.threadNice,
  };
  const worker = new Worker(workerUrl('shipper'), { workerData, name: 'ringwal-shipper' });
  return new ThreadShipper(wal, options, worker, status).whenStarted();
}

function shipperCrashed(cause: Error): WalError {
  return new WalError(
    ErrorCode.WRITER_CRASHED,
    `shipToJetStream: the shipper's worker thread failed: ${cause.message}`,
    {},
    { cause },
  );
}
