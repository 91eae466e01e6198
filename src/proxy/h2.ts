import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { PassThrough, type Readable } from 'node:stream';
import { readStickyCookie } from '../upstream/sticky.js';
import { httpsLocation, normaliseAddress, rewriteRequestHeaders } from './forwarded.js';
import { forwardH2ToH2c } from './h2-backend.js';
import { H2Exchange } from './h2-exchange.js';
import { h2cRequestHeaders, rawRequestHeaders, wantsTrailers } from './h2-headers.js';
import type { ProxyContext } from './upstream-exchange.js';

/**
 * A reset or failed client stream: node reports it as an 'error' on the stream, which would crash
 * the process without a listener. The exchange learns of it from 'close'.
 */
function ignoreStreamError(): void {}

/** HTTP/2 may split the cookie header into several fields (RFC 9113 8.2.3). */
function cookieHeader(headers: IncomingHttpHeaders): string | undefined {
  const cookie = headers.cookie as string | string[] | undefined;
  return Array.isArray(cookie) ? cookie.join('; ') : cookie;
}

/**
 * The HTTP/2 stream path (h2 over TLS, h2c), core API: pseudo-headers -> method, path and Host
 * (`:authority`, else the host header), then the same route lookup, redirects, backend choice,
 * retries and error codes as HTTP/1.1. HTTP/1.1 backends get the request through baton's HTTP/1.1 pool with the
 * stream as its body; h2c backends through their shared session.
 */
export function createH2StreamHandler(ctx: ProxyContext): (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void {
  const { tables, trusted } = ctx;

  return (stream, headers) => {
    stream.on('error', ignoreStreamError);
    const exchange = new H2Exchange(stream, ctx);
    const session = stream.session;
    const encrypted = session?.encrypted === true;
    const client = normaliseAddress(session?.socket.remoteAddress);
    const method = headers[':method'] ?? 'GET';
    const path = headers[':path'] ?? '/';
    exchange.client = client;
    exchange.encrypted = encrypted;
    exchange.method = method;
    exchange.target = path;
    if (method === 'CONNECT') {
      exchange.reject('upgrade-not-supported', 'CONNECT is not supported');
      return;
    }
    const flat = rewriteRequestHeaders(rawRequestHeaders(headers), client, trusted.has(client), exchange, encrypted ? 'https' : 'http');
    const route = tables.current.lookupHttp(exchange.host, path);
    if (route === undefined) {
      exchange.reject('no-route', `no route for host "${exchange.host}"`);
      return;
    }
    exchange.routed(route);
    if (route.redirectToHttps && !encrypted) {
      stream.respond({ ':status': 301, location: httpsLocation(exchange.host, path), 'content-length': 0 }, { endStream: true });
      return;
    }
    if (route.backends.length === 0) {
      exchange.reject('no-healthy-backend');
      return;
    }
    const stickyId = route.policy.sticky ? readStickyCookie(cookieHeader(headers)) : undefined;
    const hsts = encrypted && route.hsts;
    if (route.backendProtocol === 'h2c') {
      forwardH2ToH2c(ctx, exchange, stream, route, client, stickyId, encrypted, hsts, h2cRequestHeaders(flat, method, path, wantsTrailers(headers.te)));
      return;
    }
    exchange.hsts = hsts;
    // END_STREAM on the headers: no body. Otherwise the body is piped through a PassThrough, so
    // that what is done to the body stream never touches the HTTP/2 stream the response goes
    // out on. Without content-length, the pool sends it chunked. Until the pool reads it (once
    // connected), the PassThrough holds what arrived, so a failed connect can still send the
    // body to another backend.
    let body: Readable | null = null;
    if (!stream.endAfterHeaders) body = stream.pipe(new PassThrough());
    exchange.forward(stickyId, flat, body);
  };
}
