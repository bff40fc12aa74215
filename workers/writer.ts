/**
 * The writer thread: a thin shell around LogWriter. It recovers the directory, reports
 * where the log stands, then runs the group-commit loop until told to close.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ErrorCode, ioError, toWire, WalError } from '../src/errors.js';
import { nodeFs } from '../src/fs.js';
import { LogWriter, type WriterConfig } from '../src/writer/log-writer.js';

export interface WriterData {
  sab: SharedArrayBuffer;
  config: WriterConfig;
}

export type WriterMessage =
  | { type: 'ready'; lastLsn: number; repairs: unknown[]; segment: string | null }
  | { type: 'open-failed'; error: ReturnType<typeof toWire> };

const { sab, config } = workerData as WriterData;
const writer = new LogWriter(nodeFs, sab, config);
let ready: WriterMessage;
try {
  const state = writer.open();
  ready = { type: 'ready', lastLsn: state.lastLsn, repairs: state.repairs, segment: writer.segmentPath };
} catch (cause) {
  const error =
    cause instanceof WalError
      ? cause
      : cause && (cause as NodeJS.ErrnoException).code
        ? ioError(cause, 'open')
        : null;
  parentPort!.postMessage({
    type: 'open-failed',
    error: toWire(error ?? new WalError(ErrorCode.WRITER_CRASHED, `writer failed to open: ${String(cause)}`)),
  } satisfies WriterMessage);
  process.exit(0);
}
parentPort!.postMessage(ready);
writer.run();
