import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import { RateLimitedLog } from '../observability/rate-limited-log.js';
import type { PortRoute, TableSource } from '../routing/types.js';
import type { UpstreamRegistry } from '../upstream/registry.js';
import { dial, type DialHooks } from './dial.js';
import { tunnel } from './tunnel.js';

export interface TcpHandlerOptions {
  readonly tables: TableSource;
  readonly upstreams: UpstreamRegistry;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Time a backend has to accept the connection before the next backend is tried. */
  readonly connectTimeoutMs: number;
  /** A connection with no traffic either way for this long is closed; 0 = never. */
  readonly idleTimeoutMs: number;
}

/** Takes a client connection accepted on TCP service port `port`. */
export type TcpHandler = (socket: Socket, port: number) => void;

/**
 * Raw TCP: each connection on a service port goes to the route's next backend (round robin);
 * a backend that refuses or does not answer in time is skipped for the next, each tried at most
 * once. Once connected, bytes are relayed both ways with half-close, and the backend connection
 * is tracked in the registry so that it drains when the backend leaves.
 *
 * The client socket should allow half-open; it is paused until a backend is connected, so a
 * client cannot make baton buffer while it dials.
 */
export function createTcpHandler(opts: TcpHandlerOptions): TcpHandler {
  const { tables, metrics, upstreams, connectTimeoutMs, idleTimeoutMs } = opts;
  const log = new RateLimitedLog(opts.logger);
  const connected = metrics.connections.labels({ protocol: 'tcp' });
  const refused = metrics.connectionErrors.labels({ protocol: 'tcp', reason: 'upstream-connect' });
  const timedOut = metrics.connectionErrors.labels({ protocol: 'tcp', reason: 'upstream-timeout' });
  const unreachable = metrics.connectionErrors.labels({ protocol: 'tcp', reason: 'upstream-unreachable' });
  const noRoute = metrics.connectionErrors.labels({ protocol: 'tcp', reason: 'no-route' });
  const noBackend = metrics.connectionErrors.labels({ protocol: 'tcp', reason: 'no-healthy-backend' });

  const hooks: DialHooks<PortRoute> = {
    connectTimeoutMs,
    connected(client, upstream, backend) {
      connected.inc();
      upstreams.track(backend.address, upstream);
      tunnel(client, upstream, idleTimeoutMs);
    },
    failed(backend, err, route) {
      (err === undefined ? timedOut : refused).inc();
      log.warn(
        'tcp-upstream-connect',
        { port: route.port, backend: backend.address, err: err?.message ?? `no connection within ${connectTimeoutMs} ms` },
        'TCP backend could not be reached; trying the next',
      );
    },
    exhausted(client, route, tried) {
      unreachable.inc();
      log.warn('tcp-upstream-unreachable', { port: route.port, tried }, 'no TCP backend could be reached; client closed');
      client.destroy();
    },
  };

  return (client, port) => {
    const route = tables.current.lookupPort('tcp', port);
    if (route === undefined || route.backends.length === 0) {
      if (route === undefined) {
        noRoute.inc();
        log.warn('tcp-no-route', { port, client: client.remoteAddress }, 'TCP connection on a port with no route; closed');
      } else {
        noBackend.inc();
        log.warn('tcp-no-healthy-backend', { port, route: route.id }, 'TCP connection for a route with no backend; closed');
      }
      client.destroy();
      return;
    }
    const first = route.cursor % route.backends.length;
    route.cursor = first + 1;
    dial(hooks, client, route.backends, first, route);
  };
}
