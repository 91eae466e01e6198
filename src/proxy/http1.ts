import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Dispatcher } from 'undici';
import { sendProxyError } from './errors.js';
import { Exchange, nextBackend, onResponseClose, type ProxyContext, type ProxyResponse } from './exchange.js';
import { httpsLocation, normaliseAddress, rewriteRequestHeaders } from './forwarded.js';
import { forwardH1ToH2c } from './h2-backend.js';
import { h2cRequestHeaders, wantsTrailers } from './h2-headers.js';

/**
 * The HTTP/1.1 request path (the server must use `ProxyResponse`). Per request: Host and path ->
 * route -> next backend round robin -> undici dispatch, both bodies streamed with backpressure.
 * Plain-HTTP requests to a route that redirects to https get a 301 without a backend; routes
 * with an h2c backend go through its HTTP/2 session instead of undici.
 */
export function createHttp1RequestHandler(ctx: ProxyContext): (req: IncomingMessage, res: ServerResponse) => void {
  const { tables, upstreams, metrics, logger, trusted } = ctx;

  return (req, response) => {
    // The server is built with `ServerResponse: ProxyResponse`.
    const res = response as ProxyResponse;
    const exchange = new Exchange(res, ctx);
    const client = normaliseAddress(req.socket.remoteAddress);
    const encrypted = (req.socket as TLSSocket).encrypted === true;
    const headers = rewriteRequestHeaders(req.rawHeaders, client, trusted.has(client), exchange, encrypted ? 'https' : 'http');
    if (exchange.duplicateHost) {
      sendProxyError(res, 'bad-request', metrics, 'more than one Host header');
      return;
    }
    const path = req.url ?? '/';
    const route = tables.current.lookupHttp(exchange.host, path);
    if (route === undefined) {
      sendProxyError(res, 'no-route', metrics, `no route for host "${exchange.host}"`);
      return;
    }
    if (route.redirectToHttps && !encrypted) {
      // node's parser has refused any byte a Location value may not hold (tested).
      res.writeHead(301, { location: httpsLocation(exchange.host, path), 'content-length': 0 });
      res.end();
      return;
    }
    const backend = nextBackend(route);
    if (backend === undefined) {
      sendProxyError(res, 'no-healthy-backend', metrics);
      return;
    }
    const address = backend.address;
    exchange.address = address;
    exchange.hsts = encrypted && route.hsts;
    if (route.backendProtocol === 'h2c') {
      const h2Headers = h2cRequestHeaders(headers, req.method ?? 'GET', path, wantsTrailers(req.headers.te));
      forwardH1ToH2c(ctx, req, res, address, exchange.hsts, h2Headers, exchange.hasBody);
      return;
    }
    let upstream: Dispatcher;
    try {
      upstream = upstreams.get(address);
    } catch (err) {
      // Only an address undici cannot parse gets here: a table bug, not the client's fault.
      logger.error({ err, backend: address }, 'cannot create a pool for backend');
      sendProxyError(res, 'upstream-connect', metrics);
      return;
    }
    res.exchange = exchange;
    res.on('close', onResponseClose);
    // dispatch() reports every failure, synchronous ones included, to exchange.onError.
    upstream.dispatch({ method: req.method ?? 'GET', path, headers, body: exchange.hasBody ? req : null }, exchange);
  };
}
