import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { readStickyCookie } from '../upstream/sticky.js';
import { Exchange, type ProxyResponse } from './exchange.js';
import { httpsLocation, normaliseAddress, rewriteRequestHeaders } from './forwarded.js';
import { forwardH1ToH2c } from './h2-backend.js';
import { h2cRequestHeaders, wantsTrailers } from './h2-headers.js';
import type { ProxyContext } from './upstream-exchange.js';

/**
 * The HTTP/1.1 request path (the server must use `ProxyResponse`). Per request: Host and path ->
 * route -> backend from the route's picker (breakers, sticky cookie) -> undici dispatch, both
 * bodies streamed with backpressure, retried on another backend when that is safe. Plain-HTTP
 * requests to a route that redirects to https get a 301 without a backend; routes with an h2c
 * backend go through its HTTP/2 session instead of undici.
 */
export function createHttp1RequestHandler(ctx: ProxyContext): (req: IncomingMessage, res: ServerResponse) => void {
  const { tables, trusted } = ctx;

  return (req, response) => {
    // The server is built with `ServerResponse: ProxyResponse`.
    const res = response as ProxyResponse;
    const exchange = new Exchange(res, ctx);
    const client = normaliseAddress(req.socket.remoteAddress);
    const encrypted = (req.socket as TLSSocket).encrypted === true;
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    exchange.client = client;
    exchange.encrypted = encrypted;
    exchange.method = method;
    exchange.target = path;
    const headers = rewriteRequestHeaders(req.rawHeaders, client, trusted.has(client), exchange, encrypted ? 'https' : 'http');
    if (exchange.duplicateHost) {
      exchange.reject('bad-request', 'more than one Host header');
      return;
    }
    const route = tables.current.lookupHttp(exchange.host, path);
    if (route === undefined) {
      exchange.reject('no-route', `no route for host "${exchange.host}"`);
      return;
    }
    exchange.routed(route);
    if (route.redirectToHttps && !encrypted) {
      // node's parser has refused any byte a Location value may not hold (tested).
      res.writeHead(301, { location: httpsLocation(exchange.host, path), 'content-length': 0 });
      res.end();
      return;
    }
    if (route.backends.length === 0) {
      exchange.reject('no-healthy-backend');
      return;
    }
    const stickyId = route.policy.sticky ? readStickyCookie(req.headers.cookie) : undefined;
    const hsts = encrypted && route.hsts;
    if (route.backendProtocol === 'h2c') {
      const h2Headers = h2cRequestHeaders(headers, method, path, wantsTrailers(req.headers.te));
      forwardH1ToH2c(ctx, exchange, req, res, route, client, stickyId, encrypted, hsts, h2Headers, exchange.hasBody);
      return;
    }
    exchange.hsts = hsts;
    exchange.forward(stickyId, headers, exchange.hasBody ? req : null);
  };
}
