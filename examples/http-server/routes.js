/**
 * The routes, and the status code of every outcome. Bad input is answered before anything
 * reaches the store; a write is answered only once the store has acknowledged it.
 *
 *   POST   /kv/:key   body: any JSON      201 { lsn }       the write is durable (by the store's rule)
 *   DELETE /kv/:key                      200 { lsn }       the delete is durable
 *   GET    /kv/:key                      200 <value>, or 404
 *   GET    /healthz                      200 { status: 'ok' }, or 503 { status: 'failed', error, message }
 *
 * Errors are `{ error, message }` with a stable `error` code: 400 INVALID_JSON / BAD_KEY,
 * 404 NOT_FOUND, 405 METHOD_NOT_ALLOWED (with Allow), 413 BODY_TOO_LARGE (or ringwal's
 * WAL_ENTRY_TOO_LARGE), 503 WAL_BACKPRESSURE (with Retry-After), 503 with the store's code once
 * it has failed for good (the write was not acknowledged; it may or may not be in the log).
 */
import { ErrorCode } from 'ringwal';
import { BodyTooLarge, readBody } from './read-body.js';

const KV_PREFIX = '/kv/';
const KV_METHODS = 'GET, HEAD, POST, DELETE';
const HEALTH_METHODS = 'GET, HEAD';
/** Seconds a client should wait after WAL_BACKPRESSURE: the ring drains within a few group commits. */
const RETRY_AFTER_SECONDS = 1;

/** The request listener. */
export function createRoutes(store, { maxBodyBytes }) {
  return async (req, res) => {
    try {
      await route(store, maxBodyBytes, req, res);
    } catch (e) {
      if (!res.headersSent) send(res, 500, { error: 'INTERNAL', message: e.message });
      else res.destroy();
    }
  };
}

async function route(store, maxBodyBytes, req, res) {
  const pathname = req.url.split('?', 1)[0];
  if (pathname === '/healthz') {
    if (req.method !== 'GET' && req.method !== 'HEAD') return methodNotAllowed(res, HEALTH_METHODS);
    const failure = store.failure();
    if (failure) return send(res, 503, { status: 'failed', error: failure.code, message: failure.message });
    return send(res, 200, { status: 'ok' });
  }
  if (!pathname.startsWith(KV_PREFIX) || pathname.length === KV_PREFIX.length) {
    return send(res, 404, { error: 'NOT_FOUND', message: `no route ${pathname}` });
  }
  let key;
  try {
    key = decodeURIComponent(pathname.slice(KV_PREFIX.length));
  } catch {
    return send(res, 400, { error: 'BAD_KEY', message: 'the key is not valid percent-encoding' });
  }

  switch (req.method) {
    case 'GET':
    case 'HEAD': {
      const { found, value } = store.get(key);
      if (!found) return send(res, 404, { error: 'NOT_FOUND', message: `no key ${key}` });
      return send(res, 200, value);
    }
    case 'POST': {
      let text;
      try {
        text = await readBody(req, maxBodyBytes);
      } catch (e) {
        if (!(e instanceof BodyTooLarge)) return res.destroy(); // the client went away: no one to answer
        // The rest of the body is not read: close the connection after answering.
        res.setHeader('connection', 'close');
        return send(res, 413, { error: 'BODY_TOO_LARGE', message: e.message });
      }
      let value;
      try {
        value = JSON.parse(text);
      } catch (e) {
        return send(res, 400, { error: 'INVALID_JSON', message: `the body is not JSON: ${e.message}` });
      }
      return acknowledge(res, store, 201, store.set(key, value));
    }
    case 'DELETE':
      return acknowledge(res, store, 200, store.delete(key));
    default:
      return methodNotAllowed(res, KV_METHODS);
  }
}

/** Answers `status` { lsn } once `write` is acknowledged, or the error it failed with. */
async function acknowledge(res, store, status, write) {
  let lsn;
  try {
    lsn = await write;
  } catch (e) {
    return send(res, ...failureResponse(e, store));
  }
  return send(res, status, { lsn });
}

/** [status, body, headers] for a write the store refused. */
function failureResponse(e, store) {
  const body = { error: e.code ?? 'INTERNAL', message: e.message };
  switch (e.code) {
    case ErrorCode.BACKPRESSURE:
      return [503, body, { 'retry-after': String(RETRY_AFTER_SECONDS) }];
    case ErrorCode.ENTRY_TOO_LARGE:
      return [413, body];
    case ErrorCode.ENCODE_FAILED:
      return [400, body];
    case ErrorCode.CLOSED:
      return [503, body];
    default:
      // A sticky failure (WAL_FSYNC_FAILED, WAL_NO_SPACE, ...): /healthz is red from now on.
      return [store.failure() ? 503 : 500, body];
  }
}

function methodNotAllowed(res, allowed) {
  return send(res, 405, { error: 'METHOD_NOT_ALLOWED', message: `allowed: ${allowed}` }, { allow: allowed });
}

function send(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
