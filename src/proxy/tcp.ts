import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import { RateLimitedLog } from '../observability/rate-limited-log.js';
import type { PortRoute, TableSource } from '../routing/types.js';
import type { UpstreamRegistry } from '../upstream/registry.js';
import { dial, type DialHooks } from './dial.js';
import { normaliseAddress } from './forwarded.js';
import { metricsOnly, recordUnforwarded, type Observe } from './observe.js';
import { tunnel } from './tunnel.js';
import { TunnelBuffers } from './tunnel-buffers.js';

export interface TcpHandlerOptions {
  readonly tables: TableSource;
  readonly upstreams: UpstreamRegistry;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Time a backend has to accept the connection before the next backend is tried (a route's `policy.timeouts.connectMs` overrides it). */
  readonly connectTimeoutMs: number;
  /** A connection with no traffic either way for this long is closed; 0 = never (a route's `policy.timeouts.tunnelIdleMs` overrides it). */
  readonly idleTimeoutMs: number;
  /** Where connections are recorded; default: per-route metrics into `metrics`, no access log. */
  readonly observe?: Observe;
}

/** Takes a client connection accepted on TCP service port `port`. */
export type TcpHandler = (socket: Socket, port: number) => void;

/**
 * Raw TCP: each connection on a service port goes to the backend the route's picker chooses
 * (breakers, balance); a backend that refuses or does not answer in time is skipped for another,
 * up to the registry's retries. Once connected, bytes are relayed both ways with half-close, and
 * the backend connection is tracked in the registry (in flight until it closes, drained when the
 * backend leaves). Every backend's breaker open: the client is closed, counted as
 * `all-backends-open`.
 *
 * The client socket should allow half-open; it is paused until a backend is connected, so a
 * client cannot make baton buffer while it dials.
 */
export function createTcpHandler(opts: TcpHandlerOptions): TcpHandler {
  const { tables, metrics, upstreams, connectTimeoutMs, idleTimeoutMs } = opts;
  const observe = opts.observe ?? metricsOnly(metrics);
  const log = new RateLimitedLog(opts.logger);
  const connected = metrics.connections.labels({ protocol: 'tcp' });
  const refused = metrics.connectionErrors.labels({ protocol: 'tcp', reason: 'upstream-connect' });
  const timedOut = metrics.connectionErrors.labels({ protocol: 'tcp', reason: 'upstream-timeout' });
  const unreachable = metrics.connectionErrors.labels({ protocol: 'tcp', reason: 'upstream-unreachable' });
  const allOpen = metrics.connectionErrors.labels({ protocol: 'tcp', reason: 'all-backends-open' });
  const noRoute = metrics.connectionErrors.labels({ protocol: 'tcp', reason: 'no-route' });
  const noBackend = metrics.connectionErrors.labels({ protocol: 'tcp', reason: 'no-healthy-backend' });
  const buffers = new TunnelBuffers();

  const hooks: DialHooks<PortRoute> = {
    upstreams,
    connectTimeoutMs,
    observe,
    protocol: 'tcp',
    connected(client, upstream, _backend, route) {
      connected.inc();
      tunnel(client, upstream, route.policy.timeouts?.tunnelIdleMs ?? idleTimeoutMs, undefined, buffers);
    },
    failed(backend, err, route) {
      (err === undefined ? timedOut : refused).inc();
      log.warn(
        'tcp-upstream-connect',
        { port: route.port, backend: backend.address, err: err?.message ?? 'connect timeout' },
        'TCP backend could not be reached; trying another',
      );
    },
    exhausted(client, route, tried, last) {
      if (tried === 0) {
        allOpen.inc();
        log.warn('tcp-all-backends-open', { port: route.port, route: route.id }, 'every TCP backend of the route has its circuit breaker open; client closed');
      } else {
        unreachable.inc();
        log.warn('tcp-upstream-unreachable', { port: route.port, tried, last }, 'no TCP backend could be reached; client closed');
      }
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
      recordUnforwarded(observe, client, { route, protocol: 'tcp', code: route === undefined ? 'no-route' : 'no-healthy-backend' });
      client.destroy();
      return;
    }
    // The client's address costs a system call: asked for only when the picker hashes it or the access log writes it.
    const address = observe.accessLog !== null || route.policy.balance === 'source' ? normaliseAddress(client.remoteAddress) : '';
    dial(hooks, client, route, address, route);
  };
}
