import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { BackendStatsTable } from './backend-stats.js';
import type { Collector } from './collector.js';
import { RouteStatsTable } from './route-stats.js';

/**
 * Every counter baton keeps, in one prom-client registry per process (no global default
 * registry, so tests can build several). Label values are bounded: event types Marathon
 * defines, error codes baton defines, never a raw Host header.
 */
export interface Metrics {
  readonly registry: Registry;
  /** Marathon events received, by `eventType`. */
  readonly marathonEvents: Counter<'type'>;
  /** Marathon input baton could not use: `event` (malformed event), `app` (malformed app in a snapshot), `snapshot`. */
  readonly marathonRejects: Counter<'kind'>;
  readonly marathonResyncs: Counter<'reason'>;
  readonly marathonReconnects: Counter;
  readonly marathonConnected: Gauge;
  /** Proxy error responses by `x-baton-error` code. */
  readonly proxyErrors: Counter<'code'>;
  readonly tableSwaps: Counter;
  readonly tableVersion: Gauge;
  /** Connections (TCP, TLS passthrough, WebSocket, HTTP/2 sessions) and UDP flows accepted, by protocol. */
  readonly connections: Counter<'protocol'>;
  /** Connections or flows that failed or were refused, by protocol and a reason from a fixed set. */
  readonly connectionErrors: Counter<'protocol' | 'reason'>;
  /** Service-port listeners that could not be opened, by protocol. */
  readonly listenerErrors: Counter<'protocol'>;
  /** UDP client flows currently tracked. */
  readonly udpFlows: Gauge;
  /** Routes a bad label or a conflict disabled in the live table. */
  readonly tableDisabledRoutes: Gauge;
  /** Backend circuit breakers not closed (open, or half-open waiting for their probe). */
  readonly backendBreakersOpen: Gauge;
  /** Breaker transitions, by the state entered: `open`, `half-open`, `closed`. */
  readonly backendBreakerTransitions: Counter<'to'>;
  /** Requests and connections sent to another backend after a failure, by `reason`: `connect` or `reset`. */
  readonly upstreamRetries: Counter<'reason'>;
  /**
   * Per route, for the data path to add to: requests by status class, latency, bytes, active.
   * Exported as `baton_route_*` (see route-stats.ts); `route` is the route id `appId:portIndex`,
   * or `unmatched` for requests no route took.
   */
  readonly routeStats: RouteStatsTable;
  /** Requests by status `class` (`1xx`..`5xx`; `conn` for TCP/TLS/WebSocket tunnels and UDP flows). */
  readonly routeRequests: Collector<'route' | 'class'>;
  /** Time from the first byte of a request to the last of its answer (tunnels and flows: lifetime). */
  readonly routeDuration: Collector<'route' | 'le'>;
  /** Body bytes read from clients (tunnels and flows: every byte), per route. */
  readonly routeBytesIn: Collector<'route'>;
  /** Body bytes sent to clients (tunnels and flows: every byte), per route. */
  readonly routeBytesOut: Collector<'route'>;
  /** Requests in flight plus open tunnels (TCP, TLS passthrough, WebSocket) and UDP flows, per route. */
  readonly routeActive: Collector<'route'>;
  /** Per backend of the live table: failed attempts by error code, breaker state (see backend-stats.ts). */
  readonly backendStats: BackendStatsTable;
  /** Failed attempts on a backend by `x-baton-error` code; `backend` is its address, `app` its app id. */
  readonly backendErrors: Collector<'app' | 'backend' | 'code'>;
  /** 0 closed, 1 half-open, 2 open; series of backends that left the table are removed. */
  readonly backendBreakerState: Collector<'app' | 'backend'>;
  /** Unix time (seconds) of the last Marathon event; `time() - this` is its age. */
  readonly marathonLastEventAt: Gauge;
  /** Time to build a routing table from the cluster state. */
  readonly tableBuildSeconds: Histogram;
  /** Routes in the live table, by kind: `http`, `tcp`, `udp`, `tls`. */
  readonly tableRoutes: Gauge<'kind'>;
  /** Routable backends in the live table (a task counted once per route it serves). */
  readonly tableBackends: Gauge;
  /** Tasks out of service for maintenance (Mesos DRAINING/DOWN or an operator's mark). */
  readonly maintenanceOutOfService: Gauge;
}

/**
 * `processMetrics` adds Node's process metrics (CPU, memory, event loop lag, handles); off in
 * tests that build many registries.
 */
export function createMetrics(opts: { processMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  if (opts.processMetrics) collectDefaultMetrics({ register: registry });
  const routeStats = new RouteStatsTable(registry);
  const backendStats = new BackendStatsTable(registry);
  return {
    registry,
    marathonEvents: new Counter({ name: 'baton_marathon_events_total', help: 'Marathon events received, by type', labelNames: ['type'], registers }),
    marathonRejects: new Counter({ name: 'baton_marathon_rejected_total', help: 'Malformed Marathon input skipped, by kind (event, app, snapshot)', labelNames: ['kind'], registers }),
    marathonResyncs: new Counter({ name: 'baton_marathon_resyncs_total', help: 'Full re-syncs of /v2/apps, by reason', labelNames: ['reason'], registers }),
    marathonReconnects: new Counter({ name: 'baton_marathon_reconnects_total', help: 'Event stream reconnects', registers }),
    marathonConnected: new Gauge({ name: 'baton_marathon_stream_connected', help: '1 while the Marathon event stream is open', registers }),
    proxyErrors: new Counter({ name: 'baton_proxy_errors_total', help: 'Error responses by x-baton-error code', labelNames: ['code'], registers }),
    tableSwaps: new Counter({ name: 'baton_table_swaps_total', help: 'Routing table swaps', registers }),
    tableVersion: new Gauge({ name: 'baton_table_version', help: 'Version of the live routing table', registers }),
    connections: new Counter({ name: 'baton_connections_total', help: 'Connections and UDP flows accepted, by protocol', labelNames: ['protocol'], registers }),
    connectionErrors: new Counter({ name: 'baton_connection_errors_total', help: 'Connections or flows that failed, by protocol and reason', labelNames: ['protocol', 'reason'], registers }),
    listenerErrors: new Counter({ name: 'baton_listener_errors_total', help: 'Service-port listeners that could not be opened', labelNames: ['protocol'], registers }),
    udpFlows: new Gauge({ name: 'baton_udp_flows', help: 'UDP client flows tracked', registers }),
    tableDisabledRoutes: new Gauge({ name: 'baton_table_disabled_routes', help: 'Routes disabled by a bad label or a conflict', registers }),
    backendBreakersOpen: new Gauge({ name: 'baton_backend_breakers_open', help: 'Backend circuit breakers open or half-open', registers }),
    backendBreakerTransitions: new Counter({ name: 'baton_backend_breaker_transitions_total', help: 'Backend circuit breaker transitions, by state entered', labelNames: ['to'], registers }),
    upstreamRetries: new Counter({ name: 'baton_upstream_retries_total', help: 'Requests and connections retried on another backend, by reason (connect, reset)', labelNames: ['reason'], registers }),
    routeStats,
    routeRequests: routeStats.requests,
    routeDuration: routeStats.duration,
    routeBytesIn: routeStats.bytesIn,
    routeBytesOut: routeStats.bytesOut,
    routeActive: routeStats.active,
    backendStats,
    backendErrors: backendStats.errors,
    backendBreakerState: backendStats.breakerState,
    marathonLastEventAt: new Gauge({ name: 'baton_marathon_last_event_timestamp_seconds', help: 'Unix time of the last Marathon event', registers }),
    tableBuildSeconds: new Histogram({ name: 'baton_table_build_seconds', help: 'Time to build a routing table', buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers }),
    tableRoutes: new Gauge({ name: 'baton_table_routes', help: 'Routes in the live table by kind (http, tcp, udp, tls)', labelNames: ['kind'], registers }),
    tableBackends: new Gauge({ name: 'baton_table_backends', help: 'Routable backends in the live table', registers }),
    maintenanceOutOfService: new Gauge({ name: 'baton_maintenance_out_of_service', help: 'Tasks out of service for maintenance', registers }),
  };
}
