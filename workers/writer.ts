/**
 * The writer thread: a thin shell around LogWriter. It recovers the directory, reports
 * where the log stands, then runs the group-commit loop until told to close.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ErrorCode, ioError, toWire, WalError } from '../src/errors.js';
import { DEFAULT_FILE_MODE, type FileSystem, nodeFileSystem } from '../src/fs.js';
import { LogWriter } from '../src/writer/log-writer.js';
import type { WriterData, WriterMessage } from '../src/writer/messages.js';

const { sab, config, faultFs } = workerData as WriterData;
const base = nodeFileSystem(config.fileMode ?? DEFAULT_FILE_MODE);
let fsys: FileSystem = base;
if (faultFs) {
  const { wrapFs } = (await import(faultFs.module)) as {
    wrapFs: (fs: FileSystem, plan: unknown) => FileSystem;
  };
  fsys = wrapFs(base, faultFs.plan);
}
const writer = new LogWriter(fsys, sab, config);
let ready: WriterMessage;
try {
  const state = writer.open();
  ready = {
    type: 'ready',
    lastLsn: state.lastLsn,
    corruptions: state.corruptions,
    segment: writer.segmentPath,
    logId: writer.logId,
  };
} catch (cause) {
  const error =
    cause instanceof WalError
      ? cause
      : (cause as NodeJS.ErrnoException)?.code
        ? ioError(cause, 'open')
        : new WalError(ErrorCode.WRITER_CRASHED, `the writer failed to open the log: ${String(cause)}`);
  parentPort!.postMessage({ type: 'open-failed', error: toWire(error) } satisfies WriterMessage);
  process.exit(0);
}
parentPort!.postMessage(ready);
writer.run();
