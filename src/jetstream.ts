/**
 * `ringwal/jetstream`: ships a log to a NATS JetStream stream, each entry one message (or runs
 * of entries packed into one, `entriesPerMessage`), in LSN order, exactly once, resuming after
 * whatever the stream holds (docs/JETSTREAM.md). `shippedEntries(msg)` reads either back.
 *
 *   import { openWal } from 'ringwal';
 *   import { shipToJetStream } from 'ringwal/jetstream';
 *   const wal = await openWal('./wal', { retention: { requireCheckpoint: true, maxSegments: 4 } });
 *   const shipper = await shipToJetStream(wal, {
 *     servers: ['nats://n1:4222', 'nats://n2:4222', 'nats://n3:4222'],
 *     stream: 'ORDERS_WAL', subject: 'wal.orders',
 *     checkpoint: true, // retention deletes only what the stream acknowledged
 *   });
 *   shipper.closed.catch((error) => { ... }); // a fatal error: a wrong stream, a deleted segment
 *
 * A `Wal` is shipped from a worker thread by default (`thread`; src/jetstream/thread-shipper.ts),
 * so that reading the log back and publishing it take nothing from the thread that appends
 * but a notice now and then; `thread: false` runs the same shipper in the log's thread.
 *
 * `@nats-io/jetstream` and `@nats-io/transport-node` are optional peer dependencies: importing
 * `ringwal` never loads them; only this subpath does (and the shipper's worker it starts).
 */
import { ErrorCode, WalError } from './errors.js';
import { ShipCheckpointer } from './jetstream/checkpointer.js';
import { checkShipOptions, type FilledShipOptions, type ShipOptions } from './jetstream/options.js';
import { type Shipper, type ShipSource, startShipper } from './jetstream/shipper.js';
import { startThreadShipper, type ThreadShipper } from './jetstream/thread-shipper.js';
import { followRaw } from './reader/follow.js';
import { readLogId } from './segment/log-id.js';
import { Wal } from './wal.js';

export {
  HEADER_ENTRIES,
  HEADER_LOG,
  HEADER_LSN,
  HEADER_TS,
  messageId,
  type ShippedEntry,
  type ShippedMessage,
  shippedEntries,
} from './jetstream/message.js';
export type { ShipperMetrics, ShipperState } from './jetstream/metrics.js';
export type { CreateStreamOptions, ShipOptions } from './jetstream/options.js';
export { Shipper } from './jetstream/shipper.js';
export { ThreadShipper } from './jetstream/thread-shipper.js';

/** What `shipToJetStream` returns: the shipper in this thread, or the handle of one in a worker thread (`thread`). */
export type JetStreamShipper = Shipper | ThreadShipper;

/**
 * Starts shipping `source` (an open `Wal`, or the directory of a log another process may
 * hold and append to) to `options.stream` on `options.subject`. Resolves once connected and
 * the stream is checked (or created); rejects with WAL_INVALID_OPTION for bad options, a
 * stream that does not exist (without `createStream`) or does not take the subject, and with
 * the connection's error when no server can be reached at all. From then on, lost servers are
 * retried forever; `shipper.closed` reports what stops it.
 */
export async function shipToJetStream(source: Wal | string, options: ShipOptions): Promise<JetStreamShipper> {
  const filled = checkShipOptions(options);
  let shipSource: ShipSource;
  if (source instanceof Wal) {
    if (source.error !== null) throw source.error;
    const wal = source;
    if (inThread(filled)) return startThreadShipper(wal, filled, wal.sharedRing());
    shipSource = {
      logId: wal.logId,
      follow: (o) => wal.tailRaw(o),
      durableLsn: () => wal.durableLsn,
      ended: () => wal.error?.code === ErrorCode.CLOSED,
      progress: filled.checkpoint
        ? new ShipCheckpointer(wal, filled.checkpointIntervalMs, (e) => filled.onRetry?.(e))
        : null,
    };
  } else if (typeof source === 'string' && source !== '') {
    if (filled.checkpoint) {
      throw new WalError(
        ErrorCode.INVALID_OPTION,
        'shipToJetStream: options.checkpoint needs an open Wal as the source; for a directory, let the process that holds the log checkpoint (onShipped tells the LSN)',
      );
    }
    if (filled.thread === true) {
      throw new WalError(
        ErrorCode.INVALID_OPTION,
        'shipToJetStream: options.thread needs an open Wal as the source; a directory is best shipped from a process of its own (at a lower priority: nice)',
      );
    }
    const dir = source;
    shipSource = {
      logId: await readLogId(dir),
      follow: (o) => followRaw(dir, o),
      durableLsn: null,
      ended: () => false,
      progress: null,
    };
  } else {
    throw new WalError(
      ErrorCode.INVALID_OPTION,
      `shipToJetStream: the source must be an open Wal or a log directory; got ${typeof source === 'string' ? '""' : String(source)}`,
    );
  }
  return startShipper(shipSource, filled);
}

/**
 * Whether a `Wal` is shipped from a worker thread: as asked, by default when the connection
 * options can be sent to one. What cannot be cloned (a function: an authenticator, a
 * reconnect delay handler) stays usable by falling back to this thread when `thread` was not
 * asked for; asked for, it is WAL_INVALID_OPTION.
 */
function inThread(options: FilledShipOptions): boolean {
  if (options.thread === false) return false;
  try {
    structuredClone(options.connection);
    return true;
  } catch (e) {
    if (options.thread === undefined) return false;
    throw new WalError(
      ErrorCode.INVALID_OPTION,
      `shipToJetStream: options.connection cannot be sent to the shipper's worker thread (options.thread: true): ${(e as Error).message}; pass thread: false to ship from this thread`,
    );
  }
}
