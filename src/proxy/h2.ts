import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { PassThrough, type Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { sendStreamError } from './errors.js';
import { nextBackend, type ProxyContext } from './exchange.js';
import { httpsLocation, normaliseAddress, rewriteRequestHeaders } from './forwarded.js';
import { forwardH2ToH2c } from './h2-backend.js';
import { H2Exchange } from './h2-exchange.js';
import { h2cRequestHeaders, rawRequestHeaders, wantsTrailers } from './h2-headers.js';

/**
 * A reset or failed client stream: node reports it as an 'error' on the stream, which would crash
 * the process without a listener. The exchange learns of it from 'close'.
 */
function ignoreStreamError(): void {}

/**
 * The HTTP/2 stream path (h2 over TLS, h2c), core API: pseudo-headers -> method, path and Host
 * (`:authority`, else the host header), then the same route lookup, redirects and error codes
 * as HTTP/1.1. HTTP/1.1 backends get the request through undici with the stream as its body;
 * h2c backends through their shared session.
 */
export function createH2StreamHandler(ctx: ProxyContext): (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void {
  const { tables, upstreams, metrics, logger, trusted } = ctx;

  return (stream, headers) => {
    stream.on('error', ignoreStreamError);
    const method = headers[':method'] ?? 'GET';
    if (method === 'CONNECT') {
      sendStreamError(stream, 'upgrade-not-supported', metrics, 'CONNECT is not supported');
      return;
    }
    const session = stream.session;
    const encrypted = session?.encrypted === true;
    const client = normaliseAddress(session?.socket.remoteAddress);
    const exchange = new H2Exchange(stream, ctx);
    const flat = rewriteRequestHeaders(rawRequestHeaders(headers), client, trusted.has(client), exchange, encrypted ? 'https' : 'http');
    const path = headers[':path'] ?? '/';
    const route = tables.current.lookupHttp(exchange.host, path);
    if (route === undefined) {
      sendStreamError(stream, 'no-route', metrics, `no route for host "${exchange.host}"`);
      return;
    }
    if (route.redirectToHttps && !encrypted) {
      stream.respond({ ':status': 301, location: httpsLocation(exchange.host, path), 'content-length': 0 }, { endStream: true });
      return;
    }
    const backend = nextBackend(route);
    if (backend === undefined) {
      sendStreamError(stream, 'no-healthy-backend', metrics);
      return;
    }
    const address = backend.address;
    const hsts = encrypted && route.hsts;
    if (route.backendProtocol === 'h2c') {
      forwardH2ToH2c(ctx, stream, address, hsts, h2cRequestHeaders(flat, method, path, wantsTrailers(headers.te)));
      return;
    }
    exchange.address = address;
    exchange.hsts = hsts;
    let upstream: Dispatcher;
    try {
      upstream = upstreams.get(address);
    } catch (err) {
      logger.error({ err, backend: address }, 'cannot create a pool for backend');
      sendStreamError(stream, 'upstream-connect', metrics);
      return;
    }
    exchange.attach();
    // END_STREAM on the headers: no body. Otherwise the body is piped through a PassThrough:
    // undici destroys a stream body when done with it, and destroying the HTTP/2 stream itself
    // would end the response before it began. Without content-length, undici sends it chunked.
    let body: Readable | null = null;
    if (!stream.endAfterHeaders) body = stream.pipe(new PassThrough());
    upstream.dispatch({ method, path, headers: flat, body }, exchange);
  };
}
