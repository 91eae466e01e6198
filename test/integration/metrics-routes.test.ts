/**
 * Per-route metrics after real traffic through a DataPath, read from the Prometheus text as a
 * scrape sees it: requests by status class, the latency histogram, body bytes, requests in
 * flight, for HTTP/1.1 and h2c clients; and the series of a route that left the table.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { h2Connect, h2Request, route, send, startBackend, startH2cBackend, waitFor } from './proxy-harness.js';
import { scrape, startDataPath, stopAll, tableOf, valueIn } from './metrics-harness.js';

afterEach(stopAll);

const ROUTE = '/app.test:0';
const HOST = { host: 'app.test' };

async function backendForRoutes() {
  return startBackend((req, res) => {
    let received = 0;
    req.on('data', (c: Buffer) => (received += c.length));
    req.on('end', () => {
      if (req.url === '/fail') res.writeHead(503).end('down');
      else if (req.method === 'POST') res.end('x'.repeat(1000));
      else res.end(`got ${received}`);
    });
  });
}

describe('per-route metrics', () => {
  it('counts HTTP/1.1 requests by status class, with a latency histogram and body bytes each way', async () => {
    const backend = await backendForRoutes();
    const { metrics, port } = await startDataPath(tableOf([route('app.test', [backend.address])]));

    expect((await send(port, { method: 'POST', headers: HOST, body: Buffer.alloc(5000, 1) })).body.length).toBe(1000);
    expect((await send(port, { headers: HOST })).body.toString()).toBe('got 0');
    expect((await send(port, { path: '/fail', headers: HOST })).status).toBe(503);
    const unmatched = await send(port, { headers: { host: 'nobody.test' } });
    expect(unmatched.status).toBe(404);

    const samples = await scrape(metrics.registry);
    expect(valueIn(samples, 'baton_route_requests_total', { route: ROUTE, class: '2xx' })).toBe(2);
    expect(valueIn(samples, 'baton_route_requests_total', { route: ROUTE, class: '5xx' })).toBe(1);
    expect(valueIn(samples, 'baton_route_requests_total', { route: ROUTE, class: '4xx' })).toBeUndefined();
    expect(valueIn(samples, 'baton_route_requests_total', { route: 'unmatched', class: '4xx' })).toBe(1);
    expect(valueIn(samples, 'baton_route_request_duration_seconds_count', { route: ROUTE })).toBe(3);
    expect(valueIn(samples, 'baton_route_request_duration_seconds_bucket', { route: ROUTE, le: '+Inf' })).toBe(3);
    // A request on the loopback takes well under 30 s: all three are in the largest finite bucket.
    expect(valueIn(samples, 'baton_route_request_duration_seconds_bucket', { route: ROUTE, le: '30' })).toBe(3);
    expect(valueIn(samples, 'baton_route_request_duration_seconds_sum', { route: ROUTE })).toBeGreaterThan(0);
    expect(valueIn(samples, 'baton_route_received_bytes_total', { route: ROUTE })).toBe(5000);
    expect(valueIn(samples, 'baton_route_sent_bytes_total', { route: ROUTE })).toBe(1000 + 'got 0'.length + 'down'.length);
    // baton's own error body counts as sent.
    expect(valueIn(samples, 'baton_route_sent_bytes_total', { route: 'unmatched' })).toBe(unmatched.body.length);
    expect(valueIn(samples, 'baton_route_active', { route: ROUTE })).toBe(0);
  });

  it('counts h2c requests and their body bytes', async () => {
    const backend = await backendForRoutes();
    const { metrics, port } = await startDataPath(tableOf([route('app.test', [backend.address])]));
    const session = h2Connect(port);

    const posted = await h2Request(session, { ':method': 'POST', ':authority': 'app.test' }, Buffer.alloc(3000, 2));
    expect(posted.body.length).toBe(1000);
    expect((await h2Request(session, { ':authority': 'app.test', ':path': '/fail' })).status).toBe(503);

    const samples = await scrape(metrics.registry);
    expect(valueIn(samples, 'baton_route_requests_total', { route: ROUTE, class: '2xx' })).toBe(1);
    expect(valueIn(samples, 'baton_route_requests_total', { route: ROUTE, class: '5xx' })).toBe(1);
    expect(valueIn(samples, 'baton_route_received_bytes_total', { route: ROUTE })).toBe(3000);
    expect(valueIn(samples, 'baton_route_sent_bytes_total', { route: ROUTE })).toBe(1000 + 'down'.length);
  });

  it('counts the body bytes of requests to an h2c backend, from HTTP/1.1 and h2c clients', async () => {
    const backend = await startH2cBackend((stream) => {
      let received = 0;
      stream.on('data', (c: Buffer) => (received += c.length));
      stream.on('end', () => {
        stream.respond({ ':status': 200 });
        stream.end('y'.repeat(received * 2));
      });
    });
    const { metrics, port } = await startDataPath(tableOf([route('app.test', [backend.address], { backendProtocol: 'h2c' })]));

    expect((await send(port, { method: 'POST', headers: HOST, body: Buffer.alloc(700, 1) })).body.length).toBe(1400);
    const session = h2Connect(port);
    expect((await h2Request(session, { ':method': 'POST', ':authority': 'app.test' }, Buffer.alloc(300, 1))).body.length).toBe(600);

    const samples = await scrape(metrics.registry);
    expect(valueIn(samples, 'baton_route_requests_total', { route: ROUTE, class: '2xx' })).toBe(2);
    expect(valueIn(samples, 'baton_route_received_bytes_total', { route: ROUTE })).toBe(1000);
    expect(valueIn(samples, 'baton_route_sent_bytes_total', { route: ROUTE })).toBe(2000);
  });

  it('counts a slow request as active while it runs, and 0 once it is answered', async () => {
    let release: (() => void) | undefined;
    const backend = await startBackend((req, res) => {
      req.resume();
      release = () => res.end('late');
    });
    const { metrics, port } = await startDataPath(tableOf([route('app.test', [backend.address])]));
    const active = async () => valueIn(await scrape(metrics.registry), 'baton_route_active', { route: ROUTE });

    const reply = send(port, { headers: HOST });
    await waitFor(() => release !== undefined, 'the request to reach the backend');
    expect(await active()).toBe(1);
    release?.();
    expect((await reply).body.toString()).toBe('late');
    await waitFor(async () => (await active()) === 0, 'the request to leave the active count');
    expect(valueIn(await scrape(metrics.registry), 'baton_route_requests_total', { route: ROUTE, class: '2xx' })).toBe(1);
  });

  it('drops the series of a route that left the table, and keeps the others', async () => {
    const backend = await backendForRoutes();
    const kept = route('kept.test', [backend.address]);
    const { metrics, port, swap } = await startDataPath(tableOf([route('app.test', [backend.address]), kept]));
    await send(port, { headers: HOST });
    await send(port, { headers: { host: 'kept.test' } });
    expect(valueIn(await scrape(metrics.registry), 'baton_route_requests_total', { route: ROUTE, class: '2xx' })).toBe(1);

    swap(tableOf([kept]));

    const samples = await scrape(metrics.registry);
    expect(samples.filter((s) => s.labels.route === ROUTE)).toEqual([]);
    expect(valueIn(samples, 'baton_route_requests_total', { route: '/kept.test:0', class: '2xx' })).toBe(1);
  });

  it('records nothing per route when recording is switched off', async () => {
    const backend = await backendForRoutes();
    const { metrics, port } = await startDataPath(tableOf([route('app.test', [backend.address])]), {}, { recordRouteMetrics: false });
    expect((await send(port, { headers: HOST })).status).toBe(200);
    expect((await scrape(metrics.registry)).filter((s) => s.name.startsWith('baton_route_'))).toEqual([]);
  });
});
