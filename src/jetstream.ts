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
 * `@nats-io/jetstream` and `@nats-io/transport-node` are optional peer dependencies: importing
 * `ringwal` never loads them; only this subpath does.
 */
import { ErrorCode, WalError } from './errors.js';
import { checkShipOptions, type ShipOptions } from './jetstream/options.js';
import { type Shipper, type ShipSource, startShipper } from './jetstream/shipper.js';
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

/**
 * Starts shipping `source` (an open `Wal`, or the directory of a log another process may
 * hold and append to) to `options.stream` on `options.subject`. Resolves once connected and
 * the stream is checked (or created); rejects with WAL_INVALID_OPTION for bad options, a
 * stream that does not exist (without `createStream`) or does not take the subject, and with
 * the connection's error when no server can be reached at all. From then on, lost servers are
 * retried forever; `shipper.closed` reports what stops it.
 */
export async function shipToJetStream(source: Wal | string, options: ShipOptions): Promise<Shipper> {
  const filled = checkShipOptions(options);
  let shipSource: ShipSource;
  if (source instanceof Wal) {
    if (source.error !== null) throw source.error;
    const wal = source;
    shipSource = { logId: wal.logId, wal, follow: (o) => wal.tailRaw(o) };
  } else if (typeof source === 'string' && source !== '') {
    if (filled.checkpoint) {
      throw new WalError(
        ErrorCode.INVALID_OPTION,
        'shipToJetStream: options.checkpoint needs an open Wal as the source; for a directory, let the process that holds the log checkpoint (onShipped tells the LSN)',
      );
    }
    const dir = source;
    shipSource = { logId: await readLogId(dir), wal: null, follow: (o) => followRaw(dir, o) };
  } else {
    throw new WalError(
      ErrorCode.INVALID_OPTION,
      `shipToJetStream: the source must be an open Wal or a log directory; got ${typeof source === 'string' ? '""' : String(source)}`,
    );
  }
  return startShipper(shipSource, filled);
}
