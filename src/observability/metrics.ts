import { Counter, Gauge, Registry } from 'prom-client';

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
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  const registers = [registry];
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
  };
}
