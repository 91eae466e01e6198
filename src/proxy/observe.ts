import type { Socket } from 'node:net';
import type { AccessLog } from '../observability/access-log.js';
import type { Metrics } from '../observability/metrics.js';
import { CONN, statusClass, type RouteStatsTable } from '../observability/route-stats.js';
import type { Backend } from '../routing/types.js';
import { PROXY_ERRORS, type ProxyErrorCode } from './errors.js';
import { normaliseAddress } from './forwarded.js';

/**
 * Where the data path reports every request, tunnel and UDP flow when it ends: its route's
 * metrics and the access log. Built once (DataPath) and shared by every protocol.
 */
export interface Observe {
  /** Per-route metrics; null records none (the benchmark of their cost runs with it off). */
  readonly routes: RouteStatsTable | null;
  /** null when the access log is off. */
  readonly accessLog: AccessLog | null;
}

/** Per-route metrics into `metrics`, no access log: what a data path built without DataPath records. */
export function metricsOnly(metrics: Metrics): Observe {
  return { routes: metrics.routeStats, accessLog: null };
}

/**
 * What a request keeps for its record while it runs, filled in by whoever forwards it (the
 * exchange itself, or an h2c call on its behalf).
 */
export interface RequestRecord {
  /** The backend of the last attempt. */
  backend: Backend | null;
  /** Request body bytes sent on to the backend. */
  bytesIn: number;
  /** Response body bytes written to the client. */
  bytesOut: number;
  /** The error the request ended with (answered with, or a response broken by). */
  error: ProxyErrorCode | undefined;
}

/** The request target without its query string (queries carry API keys). */
export function pathOnly(target: string): string {
  const query = target.indexOf('?');
  return query === -1 ? target : target.slice(0, query);
}

/** Milliseconds to three decimals, for the log. */
export function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** A connection that baton closed or answered itself, before any backend was tried. */
export interface Unforwarded {
  readonly route: { readonly id: string; readonly appIds: readonly string[] } | undefined;
  readonly protocol: 'tcp' | 'tls-passthrough' | 'websocket';
  /** Why (a WebSocket upgrade redirected to https has none). */
  readonly code: ProxyErrorCode | undefined;
  /** TLS passthrough: the SNI name; WebSocket: the Host header. */
  readonly host?: string;
  /** WebSocket: the request's method and target, and the status it was answered with. */
  readonly method?: string;
  readonly target?: string;
  readonly status?: number;
}

/**
 * Records a connection closed or answered before any backend was tried (no route, no backend,
 * an upgrade refused or redirected), at once, for its route or `unmatched`, with no duration or
 * bytes. A WebSocket upgrade got an HTTP answer and counts by its status; the others as connections.
 */
export function recordUnforwarded(observe: Observe, client: Socket, what: Unforwarded): void {
  const { routes, accessLog } = observe;
  const { code } = what;
  const status = what.protocol !== 'websocket' ? undefined : (what.status ?? (code === undefined ? undefined : PROXY_ERRORS[code].status));
  if (routes !== null) {
    const stats = what.route === undefined ? routes.unmatched : routes.of(what.route.id);
    stats.done(status === undefined ? CONN : statusClass(status), 0, 0, 0);
  }
  if (accessLog === null || !accessLog.wants(code !== undefined)) return;
  accessLog.write({
    route: what.route?.id,
    app: what.route?.appIds[0],
    backend: undefined,
    method: what.method,
    host: what.host,
    path: what.target === undefined ? undefined : pathOnly(what.target),
    protocol: what.protocol,
    status,
    durationMs: 0,
    bytesIn: 0,
    bytesOut: 0,
    error: code,
    client: normaliseAddress(client.remoteAddress),
  });
}
