import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { Metrics } from '../observability/metrics.js';
import type { Backend, TableSource } from '../routing/types.js';
import type { UpstreamRegistry } from '../upstream/registry.js';
import { createClientErrorHandler } from './client-errors.js';
import { sendProxyError } from './errors.js';
import { Exchange, onResponseClose, ProxyResponse, type ExchangeContext } from './exchange.js';
import { normaliseAddress, rewriteRequestHeaders } from './forwarded.js';

export interface HttpProxyLimits {
  /** Time for a client to send the request headers. Default 10000 ms. */
  readonly headersTimeoutMs?: number;
  /** Time for a client to send the whole request. Default 60000 ms. */
  readonly requestTimeoutMs?: number;
  /** Largest request head accepted. Default 16384 bytes. */
  readonly maxHeaderSize?: number;
  /** Idle time after which a client keep-alive connection is closed. Default 5000 ms. */
  readonly keepAliveTimeoutMs?: number;
}

export interface HttpProxyOptions {
  readonly tables: TableSource;
  readonly upstreams: UpstreamRegistry;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Client IPs whose X-Forwarded-Proto / X-Forwarded-Host are kept. */
  readonly trustedProxies?: ReadonlySet<string>;
  readonly limits?: HttpProxyLimits;
}

/**
 * The HTTP/1.1 proxy server (not listening; the caller listens). Per request: Host and path ->
 * route -> next backend round robin -> undici dispatch, both bodies streamed with backpressure.
 *
 * Requests with `Upgrade` (WebSocket) are not special-cased yet: with no 'upgrade' listener,
 * node hands them to the request handler as plain requests, and they are forwarded without the
 * hop-by-hop Upgrade/Connection headers.
 */
export function createHttpProxy(opts: HttpProxyOptions): Server {
  const { tables, upstreams, metrics, logger } = opts;
  const trusted = opts.trustedProxies ?? new Set<string>();
  const context: ExchangeContext = { metrics, logger };
  const limits = opts.limits ?? {};

  const onRequest = (req: IncomingMessage, response: ServerResponse): void => {
    // The server is built with `ServerResponse: ProxyResponse` below.
    const res = response as ProxyResponse;
    const exchange = new Exchange(res, context);
    const client = normaliseAddress(req.socket.remoteAddress);
    const headers = rewriteRequestHeaders(req.rawHeaders, client, trusted.has(client), exchange);
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
    const backends = route.backends;
    if (backends.length === 0) {
      sendProxyError(res, 'no-healthy-backend', metrics);
      return;
    }
    const index = route.cursor % backends.length;
    route.cursor = index + 1;
    const { address } = backends[index] as Backend;
    exchange.address = address;
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

  const server = createServer<typeof IncomingMessage, typeof ServerResponse>(
    {
      ServerResponse: ProxyResponse,
      headersTimeout: limits.headersTimeoutMs ?? 10_000,
      requestTimeout: limits.requestTimeoutMs ?? 60_000,
      maxHeaderSize: limits.maxHeaderSize ?? 16_384,
      keepAliveTimeout: limits.keepAliveTimeoutMs ?? 5000,
      // How often node checks the two timeouts above (default 30 s): a slow client is cut off
      // within a second of its limit.
      connectionsCheckingInterval: 1000,
      noDelay: true,
    },
    onRequest,
  );
  server.on('clientError', createClientErrorHandler(metrics, logger));
  return server;
}
