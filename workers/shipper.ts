/**
 * The worker-thread shipper (`shipToJetStream(wal, { thread: true })`): a thin shell around
 * the same `Shipper` the log's own thread would run, following the log through its ring's
 * durable LSN (src/jetstream/durable-source.ts). It reports through shared memory and a few
 * messages (src/jetstream/thread-status.ts); checkpoints and the callbacks stay on the main
 * thread (src/jetstream/thread-shipper.ts).
 */
import * as os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { ShipProgress } from '../src/jetstream/checkpointer.js';
import { DurableSource } from '../src/jetstream/durable-source.js';
import { type Shipper, startShipper } from '../src/jetstream/shipper.js';
import {
  errorFromThread,
  errorToThread,
  type ShipperThreadCommand,
  type ShipperThreadData,
  type ShipperThreadMessage,
  StatusWriter,
} from '../src/jetstream/thread-status.js';
import { followSource } from '../src/reader/follow.js';

/** How often the metrics the main thread reads are refreshed besides each acknowledgement. */
const STATUS_REFRESH_MS = 20;

const data = workerData as ShipperThreadData;
const port = parentPort!;
const post = (message: ShipperThreadMessage): void => port.postMessage(message);

// On Linux (NPTL), setpriority(PRIO_PROCESS, 0) — what os.setPriority(n) calls — sets the
// calling thread's nice value only; elsewhere it would change the whole process: skip it there.
if (data.nice !== 0 && process.platform === 'linux') {
  try {
    os.setPriority(data.nice);
  } catch {
    // Not allowed (a seccomp profile, say): run at the process's priority.
  }
}

const source = new DurableSource(data.dir, data.ring, Math.max(1, data.options.readIntervalMs));
const status = new StatusWriter(data.status);
let shipper: Shipper | null = null;

function publishStatus(): void {
  if (shipper && status.store(shipper.metrics())) post({ type: 'shipped' });
}

/** The shipper's progress goes to the status words; the main thread checkpoints from them. */
const progress: ShipProgress = {
  shipped: publishStatus,
  finish: async () => publishStatus(),
  checkpoints: 0,
  checkpointLsn: 0,
};

let stopRequested = false;
port.on('message', (command: ShipperThreadCommand) => {
  if (command.type === 'stop') {
    stopRequested = true;
    void shipper?.stop();
  } else if (command.type === 'source-failed') {
    source.fail(errorFromThread(command.error));
  }
});

try {
  shipper = await startShipper(
    {
      logId: data.logId,
      follow: (options) => followSource(source.followSource(), options, 'raw'),
      durableLsn: () => source.durableLsn(),
      ended: () => source.ended(),
      progress,
    },
    {
      ...data.options,
      onShipped: undefined,
      onRetry: (error) => post({ type: 'retry', error: errorToThread(error) }),
    },
  );
} catch (error) {
  post({ type: 'start-failed', error: errorToThread(error) });
  port.close();
}
if (shipper) {
  post({ type: 'started' });
  publishStatus();
  const refresh = setInterval(publishStatus, STATUS_REFRESH_MS);
  if (stopRequested) void shipper.stop();
  let failure: unknown = null;
  await shipper.closed.catch((error: unknown) => {
    failure = error;
  });
  clearInterval(refresh);
  publishStatus();
  post({ type: 'closed', error: failure === null ? null : errorToThread(failure) });
  port.close();
}
