/**
 * Reads a request body up to a limit. A body past the limit is refused before it is all read
 * (a declared Content-Length at once, a chunked body as soon as it grows past it), so a client
 * cannot make the server buffer more than the limit.
 */

export class BodyTooLarge extends Error {
  constructor(limitBytes) {
    super(`the body is larger than ${limitBytes} bytes`);
    this.limitBytes = limitBytes;
  }
}

/** Resolves with the body as a string; rejects with BodyTooLarge, or an Error if the client went away. */
export function readBody(req, limitBytes) {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (declared > limitBytes) {
      reject(new BodyTooLarge(limitBytes));
      return;
    }
    const chunks = [];
    let bytes = 0;
    const onData = (chunk) => {
      bytes += chunk.length;
      if (bytes > limitBytes) {
        req.off('data', onData);
        reject(new BodyTooLarge(limitBytes));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    // A client that goes away mid-body ('aborted' on Node 20, 'error' with ECONNRESET later):
    // the write is dropped before it reaches the store.
    req.on('aborted', () => reject(new Error('the client closed the request before the body ended')));
    req.on('error', reject);
  });
}
