import type { MetricValueWithName, Registry } from 'prom-client';
import { collector, type Collector } from './collector.js';

/** Upper bounds of the request latency buckets, seconds: 1 ms to 30 s. */
export const LATENCY_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The `class` label of each slot of `RouteStats.requests`. */
const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', 'conn'] as const;

/** `RouteStats.requests` slot of TCP, TLS passthrough and WebSocket tunnels and UDP flows. */
export const CONN = 5;

/** `RouteStats.requests` slot of an HTTP status (1xx at 0 ... 5xx at 4). */
export function statusClass(status: number): number {
  const hundreds = Math.floor(status / 100);
  return hundreds < 1 ? 0 : hundreds > 5 ? 4 : hundreds - 1;
}

/**
 * One route's numbers, plain fields and arrays the data path adds to: found once per request
 * (a Map lookup by route id), no label hashing, no allocation. Read by the collectors below on
 * each scrape.
 */
export class RouteStats {
  /** Finished requests by status class (see CLASSES). */
  readonly requests = new Float64Array(CLASSES.length);
  /** Finished requests per latency bucket, not cumulative; the last slot is above the largest bound. */
  readonly buckets = new Float64Array(LATENCY_BUCKETS.length + 1);
  durationSum = 0;
  bytesIn = 0;
  bytesOut = 0;
  /** Requests in flight, open tunnels and UDP flows. */
  active = 0;

  /** A request, tunnel or flow ended: `slot` from `statusClass` or CONN. */
  done(slot: number, seconds: number, bytesIn: number, bytesOut: number): void {
    this.requests[slot] = (this.requests[slot] as number) + 1;
    let bucket = 0;
    while (bucket < LATENCY_BUCKETS.length && seconds > (LATENCY_BUCKETS[bucket] as number)) bucket += 1;
    this.buckets[bucket] = (this.buckets[bucket] as number) + 1;
    this.durationSum += seconds;
    this.bytesIn += bytesIn;
    this.bytesOut += bytesOut;
  }
}

/** The route label of requests no route took. */
const UNMATCHED = 'unmatched';

type Route = 'route';

/**
 * Every route's `RouteStats` by route id (`appId:portIndex`), plus `unmatched`, exported as
 * five metrics (`baton_route_*`). A route's entry is made on its first request and dropped by
 * `retain` when the route leaves the table, so the label sets follow the table. A request still
 * in flight on a dropped entry finishes on it unseen; a route that comes back starts at zero
 * (Prometheus takes that as a counter reset).
 */
export class RouteStatsTable {
  readonly unmatched = new RouteStats();
  private readonly byId = new Map<string, RouteStats>();
  readonly requests: Collector<Route | 'class'>;
  readonly duration: Collector<Route | 'le'>;
  readonly bytesIn: Collector<Route>;
  readonly bytesOut: Collector<Route>;
  readonly active: Collector<Route>;

  constructor(registry: Registry) {
    this.requests = collector(
      registry,
      { name: 'baton_route_requests_total', help: 'Requests by route and status class (conn for TCP/TLS/WebSocket tunnels and UDP flows)', type: 'counter' },
      () => this.values(requestValues),
    );
    this.duration = collector(
      registry,
      { name: 'baton_route_request_duration_seconds', help: 'Request duration, first byte in to last byte out (tunnels and flows: lifetime), by route', type: 'histogram' },
      () => this.values(histogramValues),
    );
    this.bytesIn = collector(
      registry,
      { name: 'baton_route_received_bytes_total', help: 'Bytes received from clients by route (HTTP: bodies; tunnels and flows: every byte)', type: 'counter' },
      () => this.values((route, s, out) => out.push({ labels: { route }, value: s.bytesIn })),
    );
    this.bytesOut = collector(
      registry,
      { name: 'baton_route_sent_bytes_total', help: 'Bytes sent to clients by route (HTTP: bodies; tunnels and flows: every byte)', type: 'counter' },
      () => this.values((route, s, out) => out.push({ labels: { route }, value: s.bytesOut })),
    );
    this.active = collector(
      registry,
      { name: 'baton_route_active', help: 'Requests in flight, open tunnels and UDP flows by route', type: 'gauge' },
      () => this.values((route, s, out) => out.push({ labels: { route }, value: s.active })),
    );
  }

  /** The stats of route `id`, made on first use. */
  of(id: string): RouteStats {
    let stats = this.byId.get(id);
    if (stats === undefined) {
      stats = new RouteStats();
      this.byId.set(id, stats);
    }
    return stats;
  }

  /** Drops the entries of routes not in `ids` (the routes of the new table). */
  retain(ids: ReadonlySet<string>): void {
    for (const id of this.byId.keys()) if (!ids.has(id)) this.byId.delete(id);
  }

  private unmatchedUsed(): boolean {
    return this.unmatched.requests.some((n) => n > 0);
  }

  private values<T extends string>(add: (route: string, stats: RouteStats, out: MetricValueWithName<T>[]) => void): MetricValueWithName<T>[] {
    const out: MetricValueWithName<T>[] = [];
    for (const [route, stats] of this.byId) add(route, stats, out);
    if (this.unmatchedUsed()) add(UNMATCHED, this.unmatched, out);
    return out;
  }
}

/** One value per status class the route has seen. */
function requestValues(route: string, stats: RouteStats, out: MetricValueWithName<Route | 'class'>[]): void {
  stats.requests.forEach((value, i) => {
    if (value > 0) out.push({ labels: { route, class: CLASSES[i] as string }, value });
  });
}

/** Cumulative `_bucket` values with `le`, then `_sum` and `_count`, as prom-client's Histogram exports them. */
function histogramValues(route: string, stats: RouteStats, out: MetricValueWithName<Route | 'le'>[]): void {
  const name = 'baton_route_request_duration_seconds';
  let count = 0;
  LATENCY_BUCKETS.forEach((le, i) => {
    count += stats.buckets[i] as number;
    out.push({ labels: { route, le }, value: count, metricName: `${name}_bucket` });
  });
  count += stats.buckets[LATENCY_BUCKETS.length] as number;
  out.push({ labels: { route, le: '+Inf' }, value: count, metricName: `${name}_bucket` });
  out.push({ labels: { route }, value: stats.durationSum, metricName: `${name}_sum` });
  out.push({ labels: { route }, value: count, metricName: `${name}_count` });
}
