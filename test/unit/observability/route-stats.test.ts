import { AggregatorRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../../src/observability/metrics.js';
import { CONN, statusClass } from '../../../src/observability/route-stats.js';

describe('per-route and per-backend collectors', () => {
  it('export counters, a cumulative histogram and a gauge as Prometheus text', async () => {
    const metrics = createMetrics();
    const stats = metrics.routeStats.of('/web:0');
    stats.done(statusClass(200), 0.003, 10, 20);
    stats.done(statusClass(204), 0.2, 0, 0);
    stats.done(statusClass(503), 45, 1, 2);
    stats.active = 2;
    metrics.routeStats.unmatched.done(statusClass(404), 0, 0, 30);

    const text = await metrics.registry.metrics();
    expect(text).toContain('# TYPE baton_route_requests_total counter');
    expect(text).toContain('baton_route_requests_total{route="/web:0",class="2xx"} 2');
    expect(text).toContain('baton_route_requests_total{route="/web:0",class="5xx"} 1');
    expect(text).toContain('baton_route_requests_total{route="unmatched",class="4xx"} 1');
    expect(text).toContain('# TYPE baton_route_request_duration_seconds histogram');
    expect(text).toContain('baton_route_request_duration_seconds_bucket{route="/web:0",le="0.001"} 0');
    expect(text).toContain('baton_route_request_duration_seconds_bucket{route="/web:0",le="0.005"} 1');
    expect(text).toContain('baton_route_request_duration_seconds_bucket{route="/web:0",le="0.25"} 2');
    expect(text).toContain('baton_route_request_duration_seconds_bucket{route="/web:0",le="30"} 2');
    expect(text).toContain('baton_route_request_duration_seconds_bucket{route="/web:0",le="+Inf"} 3');
    expect(text).toContain('baton_route_request_duration_seconds_count{route="/web:0"} 3');
    expect(text).toContain('baton_route_received_bytes_total{route="/web:0"} 11');
    expect(text).toContain('baton_route_sent_bytes_total{route="unmatched"} 30');
    expect(text).toContain('baton_route_active{route="/web:0"} 2');
  });

  it('drop the series of routes and backends that left', async () => {
    const metrics = createMetrics();
    metrics.routeStats.of('/gone:0').done(CONN, 1, 1, 1);
    metrics.routeStats.of('/kept:0').done(CONN, 1, 1, 1);
    metrics.backendStats.retain(new Map([['10.0.0.1:80', '/gone'], ['10.0.0.2:80', '/kept']]));
    metrics.backendStats.failed('10.0.0.1:80', 'upstream-reset');

    metrics.routeStats.retain(new Set(['/kept:0']));
    metrics.backendStats.retain(new Map([['10.0.0.2:80', '/kept']]));
    // What a backend no longer in the table does is not recorded.
    metrics.backendStats.failed('10.0.0.1:80', 'upstream-reset');

    const text = await metrics.registry.metrics();
    expect(text).not.toContain('/gone');
    expect(text).toContain('baton_route_requests_total{route="/kept:0",class="conn"} 1');
    expect(text).toContain('baton_backend_breaker_state{app="/kept",backend="10.0.0.2:80"} 0');
  });

  it('aggregate across workers: counters and histograms summed, the breaker state the worst', async () => {
    const workers = [createMetrics(), createMetrics()];
    for (const [i, metrics] of workers.entries()) {
      const stats = metrics.routeStats.of('/web:0');
      stats.done(statusClass(200), 0.01, 100, 1000);
      stats.active = i + 1;
      metrics.backendStats.retain(new Map([['10.0.0.1:80', '/web']]));
      metrics.backendStats.failed('10.0.0.1:80', 'upstream-connect');
      metrics.backendStats.breaker('10.0.0.1:80', i === 0 ? 2 : 0);
    }
    const aggregated = AggregatorRegistry.aggregate(await Promise.all(workers.map((m) => m.registry.getMetricsAsJSON())));
    const text = await aggregated.metrics();
    expect(text).toContain('baton_route_requests_total{route="/web:0",class="2xx"} 2');
    expect(text).toContain('baton_route_request_duration_seconds_bucket{route="/web:0",le="0.01"} 2');
    expect(text).toContain('baton_route_request_duration_seconds_count{route="/web:0"} 2');
    expect(text).toContain('baton_route_received_bytes_total{route="/web:0"} 200');
    expect(text).toContain('baton_route_active{route="/web:0"} 3');
    expect(text).toContain('baton_backend_errors_total{app="/web",backend="10.0.0.1:80",code="upstream-connect"} 2');
    expect(text).toContain('baton_backend_breaker_state{app="/web",backend="10.0.0.1:80"} 2');
  });
});
