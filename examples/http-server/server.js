/**
 * A key-value HTTP server on ringwal, with node:http and nothing else: a POST is answered 201
 * only once its write is durable. See README.md beside this file.
 *
 *   npm run build && node examples/http-server/server.js --dir ./data --port 8080
 *
 * The first line on stdout is `listening on http://127.0.0.1:PORT` (with --port 0, the port
 * the system chose). On SIGTERM or SIGINT it stops accepting connections, answers the
 * requests already received, closes the store (ringwal: drains, syncs, releases the lock) and
 * exits 0; it exits 1 if the store could not be closed cleanly (a failed log).
 */
import * as http from 'node:http';
import { FlagError, parseFlags, USAGE } from './flags.js';
import { createRoutes } from './routes.js';
import { openStore } from './stores/index.js';

/** How long a shutdown waits for requests in flight before it cuts their connections. */
const DRAIN_TIMEOUT_MS = 10_000;
const HOST = '127.0.0.1';

function fail(message, exitCode) {
  process.stderr.write(`http-server: ${message}\n`);
  process.exit(exitCode);
}

let flags;
try {
  flags = parseFlags(process.argv.slice(2));
} catch (e) {
  if (!(e instanceof FlagError)) throw e;
  fail(`${e.message}\n${USAGE}`, 2);
}
if (flags.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

let store;
try {
  store = await openStore(flags);
} catch (e) {
  fail(`cannot open the ${flags.store} store in ${flags.dir}: ${e.code ? `${e.code}: ` : ''}${e.message}`, 1);
}

let shuttingDown = false;
/** Responses not yet sent: on shutdown each is told to close its connection. */
const inFlight = new Set();
const routes = createRoutes(store, { maxBodyBytes: flags.maxBodyBytes });
const server = http.createServer((req, res) => {
  if (shuttingDown) res.setHeader('connection', 'close');
  inFlight.add(res);
  res.once('close', () => inFlight.delete(res));
  routes(req, res);
});
server.on('error', (e) => fail(`cannot listen on ${HOST}:${flags.port}: ${e.message}`, 1));
server.listen(flags.port, HOST, () => {
  process.stdout.write(`listening on http://${HOST}:${server.address().port}\n`);
});

async function shutdown(signal) {
  if (shuttingDown) return;
  shuttingDown = true;
  // close() stops accepting at once and closes idle keep-alive connections; busy ones end
  // after their response, which says `connection: close` (else a keep-alive client would hold
  // the shutdown open until its idle timeout).
  const drained = new Promise((resolve) => server.close(resolve));
  server.closeIdleConnections();
  for (const res of inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
  process.stdout.write(`${signal}: draining ${inFlight.size} requests in flight\n`);
  const deadline = setTimeout(() => server.closeAllConnections(), DRAIN_TIMEOUT_MS);
  await drained;
  clearTimeout(deadline);
  try {
    await store.close();
  } catch (e) {
    fail(`the store did not close cleanly: ${e.code ? `${e.code}: ` : ''}${e.message}`, 1);
  }
  process.stdout.write('closed\n');
  process.exit(0);
}
process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));
