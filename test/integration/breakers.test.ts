/**
 * Circuit breakers on the HTTP path, with real backends that fail in each way a backend fails:
 * the breaker opens within its volume, traffic shifts, the half-open probe recovers it, an
 * all-open route answers at once, and a breaker's state survives table swaps.
 */
import type http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { BackendPolicy, HttpRoute } from '../../src/routing/types.js';
import { backendPolicies } from '../../src/upstream/registry.js';
import { buildTable, closeAll, closedAddress, route, send, startBackend, startProxy, waitFor, type RunningProxy } from './proxy-harness.js';

afterEach(closeAll);

/** A backend that counts the requests it receives; `behave` decides each answer (default: 200 with its name). */
async function counting(name: string, behave?: (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void) {
  const seen = { name, count: 0, address: '' };
  const backend = await startBackend((req, res) => {
    seen.count += 1;
    if (behave) return behave(req, res, seen.count);
    req.resume();
    res.end(name);
  });
  seen.address = backend.address;
  return seen;
}

const BREAKER: BackendPolicy = { balance: 'roundrobin', sticky: false, breaker: { volumeThreshold: 4, errorThresholdPercentage: 50, resetTimeoutMs: 60_000 } };

/** A table source with one route, as the holder swaps it, and the registry told of each table, as DataPath does. */
function liveTable(proxyRoute: HttpRoute) {
  const tables = { current: buildTable([proxyRoute]) };
  return {
    tables,
    swap(proxy: RunningProxy, next: HttpRoute, version: number): void {
      tables.current = buildTable([next], version);
      proxy.upstreams.retain(backendPolicies(tables.current));
    },
  };
}

async function startWith(routeOf: () => HttpRoute, opts: Parameters<typeof startProxy>[1] = {}) {
  const live = liveTable(routeOf());
  const proxy = await startProxy(live.tables, opts);
  proxy.upstreams.retain(backendPolicies(live.tables.current));
  return { proxy, live };
}

async function get(proxy: RunningProxy, host = 'app.test') {
  const reply = await send(proxy.port, { headers: { host } });
  return { status: reply.status, body: reply.body.toString(), error: reply.headers['x-baton-error'] };
}

describe('circuit breakers: the breaker opens and traffic shifts', () => {
  it('a backend answering 500: opens after volumeThreshold requests, then only the healthy backend is used', async () => {
    const bad = await counting('bad', (req, res) => {
      req.resume();
      res.writeHead(500).end('boom');
    });
    const good = await counting('good');
    const { proxy } = await startWith(() => route('app.test', [bad.address, good.address], { policy: BREAKER }));

    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await get(proxy)).status);
    // The 500s are relayed as they are (a response, not a failed connect), until the breaker opens.
    expect(bad.count).toBe(4);
    expect(statuses.filter((s) => s === 500)).toHaveLength(4);
    expect(good.count).toBe(26);
    expect(proxy.upstreams.state(bad.address)?.breaker).toBe('open');
    expect(proxy.upstreams.state(good.address)?.breaker).toBe('closed');
    expect(await proxy.metrics.backendBreakersOpen.get()).toMatchObject({ values: [{ value: 1 }] });
  });

  it('a backend refusing connections: every request is retried on the healthy one, and the breaker opens', async () => {
    const refused = await closedAddress();
    const good = await counting('good');
    const { proxy } = await startWith(() => route('app.test', [refused, good.address], { policy: BREAKER }));

    for (let i = 0; i < 20; i++) expect(await get(proxy)).toMatchObject({ status: 200, body: 'good' });
    expect(good.count).toBe(20);
    expect(proxy.upstreams.state(refused)?.breaker).toBe('open');
    // Only requests offered to the refusing backend before it opened were retried.
    const retried = (await proxy.metrics.upstreamRetries.get()).values.find((v) => v.labels.reason === 'connect')?.value;
    expect(retried).toBe(4);
  });

  it('a backend resetting connections: idempotent requests are retried on the healthy one, and the breaker opens', async () => {
    const resetting = await counting('reset', (req) => req.socket.destroy());
    const good = await counting('good');
    const { proxy } = await startWith(() => route('app.test', [resetting.address, good.address], { policy: BREAKER }));

    for (let i = 0; i < 20; i++) expect(await get(proxy)).toMatchObject({ status: 200, body: 'good' });
    expect(resetting.count).toBe(4);
    expect(proxy.upstreams.state(resetting.address)?.breaker).toBe('open');
  });

  it('a backend that hangs: requests time out (504), then the breaker opens and the healthy backend answers', async () => {
    const hanging = await counting('hang', (req) => req.resume());
    const good = await counting('good');
    const policy: BackendPolicy = { ...BREAKER, breaker: { ...BREAKER.breaker, volumeThreshold: 2 }, timeouts: { headersMs: 150 } };
    const { proxy } = await startWith(() => route('app.test', [hanging.address, good.address], { policy }));

    const replies = [];
    for (let i = 0; i < 12; i++) replies.push(await get(proxy));
    expect(hanging.count).toBe(2);
    expect(replies.filter((r) => r.error === 'upstream-timeout')).toHaveLength(2);
    expect(replies.filter((r) => r.body === 'good')).toHaveLength(10);
    expect(proxy.upstreams.state(hanging.address)?.breaker).toBe('open');
  });

  it('a slow backend within its timeouts is not a failing one', async () => {
    const slow = await counting('slow', (req, res) => {
      req.resume();
      setTimeout(() => res.end('slow'), 50);
    });
    const { proxy } = await startWith(() => route('app.test', [slow.address], { policy: BREAKER }));
    for (let i = 0; i < 8; i++) expect(await get(proxy)).toMatchObject({ status: 200, body: 'slow' });
    expect(proxy.upstreams.state(slow.address)).toMatchObject({ breaker: 'closed', inFlight: 0 });
    expect(proxy.upstreams.state(slow.address)?.latencyMs).toBeGreaterThanOrEqual(40);
  });

  it('with failOn5xx off, a 500 is an answer like any other', async () => {
    const bad = await counting('bad', (req, res) => {
      req.resume();
      res.writeHead(500).end('boom');
    });
    const policy: BackendPolicy = { ...BREAKER, breaker: { ...BREAKER.breaker, failOn5xx: false } };
    const { proxy } = await startWith(() => route('app.test', [bad.address], { policy }));
    for (let i = 0; i < 10; i++) expect((await get(proxy)).status).toBe(500);
    expect(bad.count).toBe(10);
    expect(proxy.upstreams.state(bad.address)?.breaker).toBe('closed');
  });
});

describe('circuit breakers: all open, and recovery', () => {
  it('answers 503 all-backends-open at once when every backend of the route is open', async () => {
    const failing = () =>
      counting('bad', (req, res) => {
        req.resume();
        res.writeHead(503).end();
      });
    const [a, b] = [await failing(), await failing()];
    const policy: BackendPolicy = { ...BREAKER, breaker: { ...BREAKER.breaker, volumeThreshold: 1 } };
    const { proxy } = await startWith(() => route('app.test', [a.address, b.address], { policy }));

    await get(proxy);
    await get(proxy);
    expect([a.count, b.count]).toEqual([1, 1]);
    const started = Date.now();
    const reply = await get(proxy);
    expect(reply).toMatchObject({ status: 503, error: 'all-backends-open' });
    // Answered without waiting on any backend (no connect, no timeout): generous for a loaded box.
    expect(Date.now() - started).toBeLessThan(1000);
    expect([a.count, b.count]).toEqual([1, 1]);
    expect(await proxy.errors('all-backends-open')).toBe(1);
  });

  it('half-open lets exactly one probe through; its success closes the breaker and traffic comes back', async () => {
    let mode: 'fail' | 'hold' | 'ok' = 'fail';
    let releaseProbe: (() => void) | undefined;
    const flaky = await counting('flaky', (req, res) => {
      req.resume();
      if (mode === 'fail') res.writeHead(500).end();
      // The probe is held until the test has checked that nothing else gets through meanwhile.
      else if (mode === 'hold') releaseProbe = () => res.end('flaky');
      else res.end('flaky');
    });
    const good = await counting('good');
    const policy: BackendPolicy = { ...BREAKER, breaker: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs: 300 } };
    const { proxy } = await startWith(() => route('app.test', [flaky.address, good.address], { policy }));

    for (let i = 0; i < 4; i++) await get(proxy);
    expect(proxy.upstreams.state(flaky.address)?.breaker).toBe('open');
    expect(flaky.count).toBe(2);
    mode = 'hold';
    await waitFor(() => proxy.upstreams.state(flaky.address)?.breaker === 'half-open');

    // Ten requests at once: one is the probe, held by the backend; the nine others go to the healthy one.
    const goodBefore = good.count;
    const burst = Array.from({ length: 10 }, () => get(proxy));
    await waitFor(() => releaseProbe !== undefined && good.count === goodBefore + 9);
    expect(flaky.count).toBe(3);
    expect(proxy.upstreams.state(flaky.address)?.breaker).toBe('half-open');
    mode = 'ok';
    releaseProbe?.();
    const replies = await Promise.all(burst);
    expect(replies.filter((r) => r.body === 'flaky')).toHaveLength(1);
    expect(replies.every((r) => r.status === 200)).toBe(true);
    expect(proxy.upstreams.state(flaky.address)?.breaker).toBe('closed');

    // Closed again: it takes its turns.
    const next = [];
    for (let i = 0; i < 4; i++) next.push((await get(proxy)).body);
    expect(next.filter((body) => body === 'flaky')).toHaveLength(2);
  });

  it('a failed probe opens the breaker again until the next one', async () => {
    const bad = await counting('bad', (req, res) => {
      req.resume();
      res.writeHead(500).end();
    });
    const good = await counting('good');
    const policy: BackendPolicy = { ...BREAKER, breaker: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs: 200 } };
    const { proxy } = await startWith(() => route('app.test', [bad.address, good.address], { policy }));

    for (let i = 0; i < 4; i++) await get(proxy);
    expect(bad.count).toBe(2);
    await waitFor(() => proxy.upstreams.state(bad.address)?.breaker === 'half-open');
    // The round robin's next turn for it is the probe; it fails: open again.
    for (let i = 0; i < 2; i++) await get(proxy);
    expect(bad.count).toBe(3);
    expect(proxy.upstreams.state(bad.address)?.breaker).toBe('open');
    for (let i = 0; i < 4; i++) expect((await get(proxy)).body).toBe('good');
    expect(bad.count).toBe(3);
  });
});

describe('circuit breakers: state lives outside the table', () => {
  it('keeps a failing backend open across 100 table swaps with new table and route objects', async () => {
    const bad = await counting('bad', (req, res) => {
      req.resume();
      res.writeHead(502).end();
    });
    const good = await counting('good');
    const routeOf = () => route('app.test', [bad.address, good.address], { policy: { ...BREAKER, breaker: { ...BREAKER.breaker, volumeThreshold: 3 } } });
    const { proxy, live } = await startWith(routeOf);
    const state = () => proxy.upstreams.backend(bad.address);
    const before = state();

    let failures = 0;
    for (let version = 2; version <= 101; version++) {
      live.swap(proxy, routeOf(), version);
      if ((await get(proxy)).status === 502) failures += 1;
    }
    // Each new table starts its round robin afresh, so the bad backend is offered a turn on every
    // swap; only the first 3 (the volume) reached it.
    expect(bad.count).toBe(3);
    expect(failures).toBe(3);
    expect(good.count).toBe(97);
    expect(state()).toBe(before);
    expect(proxy.upstreams.state(bad.address)?.breaker).toBe('open');
  });

  it('forgets a backend once it left the table and its requests ended', async () => {
    const good = await counting('good');
    const other = await counting('other');
    const { proxy, live } = await startWith(() => route('app.test', [good.address, other.address], { policy: BREAKER }));
    await get(proxy);
    await get(proxy);
    expect(proxy.upstreams.state(other.address)).toBeDefined();

    live.swap(proxy, route('app.test', [good.address], { policy: BREAKER }), 2);
    expect(proxy.upstreams.state(other.address)).toBeUndefined();
    expect(proxy.upstreams.state(good.address)).toBeDefined();
  });
});
