/**
 * The picker on the HTTP path with the registry as its context: in-flight counts and latency
 * steer leastconn and p2c, sticky cookies keep a client on its backend, and a route's timeouts
 * (total, headers) apply to its requests.
 */
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { BackendPolicy } from '../../src/routing/types.js';
import { backendPolicies } from '../../src/upstream/registry.js';
import { closeAll, route, send, startBackend, startH2cBackend, startProxy, tableOf, waitFor, type RunningProxy } from './proxy-harness.js';

afterEach(closeAll);

async function counting(name: string, delayMs = 0) {
  const seen = { name, count: 0, address: '' };
  const backend = await startBackend((req, res) => {
    seen.count += 1;
    req.resume();
    if (delayMs === 0) res.end(name);
    else setTimeout(() => res.end(name), delayMs);
  });
  seen.address = backend.address;
  return seen;
}

/** `total` requests from `concurrency` clients, each sending its next once its last was answered. */
async function load(proxy: RunningProxy, total: number, concurrency: number, headers: http.OutgoingHttpHeaders = { host: 'app.test' }): Promise<string[]> {
  const bodies: string[] = [];
  let sent = 0;
  const worker = async () => {
    while (sent < total) {
      sent += 1;
      bodies.push((await send(proxy.port, { headers })).body.toString());
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return bodies;
}

describe('balancing on in-flight counts and latency', () => {
  for (const balance of ['leastconn', 'p2c'] as const) {
    it(`${balance}: a slow backend gets fewer requests than a fast one`, async () => {
      const slow = await counting('slow', 150);
      const fast = await counting('fast');
      const policy: BackendPolicy = { balance, sticky: false };
      const proxy = await startProxy(tableOf([route('app.test', [slow.address, fast.address], { policy })]));

      await load(proxy, 60, 6);
      expect(slow.count + fast.count).toBe(60);
      // Round robin would give each 30; the slow one mostly has a request in flight and loses.
      expect(slow.count * 3).toBeLessThan(fast.count);
      expect(proxy.upstreams.state(slow.address)?.latencyMs).toBeGreaterThanOrEqual(100);
      expect(proxy.upstreams.state(slow.address)?.inFlight).toBe(0);
      expect(proxy.upstreams.state(fast.address)?.inFlight).toBe(0);
    });
  }

  it('counts a request in flight from its start to the end of its response', async () => {
    let release: (() => void) | undefined;
    const held = await startBackend((req, res) => {
      req.resume();
      res.write('first ');
      release = () => res.end('last');
    });
    const proxy = await startProxy(tableOf([route('app.test', [held.address])]));
    const pending = send(proxy.port, { headers: { host: 'app.test' } });
    await waitFor(() => release !== undefined);
    expect(proxy.upstreams.state(held.address)?.inFlight).toBe(1);
    release?.();
    expect((await pending).body.toString()).toBe('first last');
    await waitFor(() => proxy.upstreams.state(held.address)?.inFlight === 0);
  });
});

describe('sticky sessions', () => {
  const STICKY: BackendPolicy = { balance: 'roundrobin', sticky: true };

  function cookieOf(reply: { headers: http.IncomingHttpHeaders }): string | undefined {
    const set = reply.headers['set-cookie']?.find((c) => c.startsWith('baton_sticky='));
    return set?.split(';')[0];
  }

  it('sets a cookie naming the backend (not its address), then keeps the client there', async () => {
    const a = await counting('A');
    const b = await counting('B');
    const proxy = await startProxy(tableOf([route('app.test', [a.address, b.address], { policy: STICKY })]));

    const first = await send(proxy.port, { headers: { host: 'app.test' } });
    const cookie = cookieOf(first);
    expect(cookie).toMatch(/^baton_sticky=id-\d$/);
    expect(first.headers['set-cookie']?.[0]).not.toContain(a.address.split(':')[1]);
    const chosen = first.body.toString();
    for (let i = 0; i < 6; i++) {
      const reply = await send(proxy.port, { headers: { host: 'app.test', cookie: `other=1; ${cookie}` } });
      expect(reply.body.toString()).toBe(chosen);
      // Same backend as the cookie's: no new cookie.
      expect(cookieOf(reply)).toBeUndefined();
    }
  });

  it('sets the cookie on answers from h2c backends too, scoped to the route path', async () => {
    const h2c = await startH2cBackend((stream) => {
      stream.respond({ ':status': 200, 'set-cookie': 'app=1' });
      stream.end('h2c');
    });
    const proxy = await startProxy(tableOf([{ ...route('grpc.test', [h2c.address], { backendProtocol: 'h2c', policy: STICKY }), path: '/api' }]));

    const reply = await send(proxy.port, { path: '/api/x', headers: { host: 'grpc.test' } });
    expect(reply.body.toString()).toBe('h2c');
    expect(reply.headers['set-cookie']).toEqual(['app=1', 'baton_sticky=id-0; Path=/api; HttpOnly; SameSite=Lax']);
  });

  it("falls back to the normal choice when the cookie's backend is open, and sets a new cookie", async () => {
    const failing = await startBackend((req, res) => {
      req.resume();
      res.writeHead(500).end('bad');
    });
    const good = await counting('good');
    const policy: BackendPolicy = { ...STICKY, breaker: { volumeThreshold: 1 } };
    const table = tableOf([route('app.test', [failing.address, good.address], { policy })]);
    const proxy = await startProxy(table);
    proxy.upstreams.retain(backendPolicies(table.current));

    // Pinned to the failing backend (id-0) by its cookie: one 500 opens its breaker.
    const pinned = await send(proxy.port, { headers: { host: 'app.test', cookie: 'baton_sticky=id-0' } });
    expect(pinned.status).toBe(500);
    const moved = await send(proxy.port, { headers: { host: 'app.test', cookie: 'baton_sticky=id-0' } });
    expect(moved.body.toString()).toBe('good');
    expect(cookieOf(moved)).toBe('baton_sticky=id-1');
  });
});

describe('route timeouts', () => {
  it('a total timeout answers 504 when the response does not start in time', async () => {
    const late = await startBackend((req, res) => {
      req.resume();
      setTimeout(() => res.end('too late'), 2000).unref();
    });
    const policy: BackendPolicy = { balance: 'roundrobin', sticky: false, timeouts: { totalMs: 200 } };
    const proxy = await startProxy(tableOf([route('app.test', [late.address], { policy })]));

    const started = Date.now();
    const reply = await send(proxy.port, { headers: { host: 'app.test' } });
    expect(reply.status).toBe(504);
    expect(reply.headers['x-baton-error']).toBe('upstream-timeout');
    expect(Date.now() - started).toBeLessThan(1500);
    await waitFor(() => proxy.upstreams.state(late.address)?.inFlight === 0);
  });

  it('a total timeout breaks a response that is still streaming when it expires', async () => {
    const streaming = await startBackend((req, res) => {
      req.resume();
      res.writeHead(200);
      const timer = setInterval(() => res.write('tick '), 30);
      res.on('close', () => clearInterval(timer));
    });
    const proxy = await startProxy(tableOf([route('app.test', [streaming.address])]), { upstream: { totalTimeoutMs: 200 } });

    await expect(send(proxy.port, { headers: { host: 'app.test' } })).rejects.toThrow();
    expect(await proxy.errors('upstream-timeout')).toBe(1);
  });

  it("a route's headers timeout overrides the default", async () => {
    const hanging = await startBackend((req) => req.resume());
    const quick: BackendPolicy = { balance: 'roundrobin', sticky: false, timeouts: { headersMs: 100 } };
    const proxy = await startProxy(tableOf([route('quick.test', [hanging.address], { policy: quick }), route('patient.test', [hanging.address])]), {
      upstream: { headersTimeoutMs: 60_000 },
    });

    // The patient route's request starts first and is still waiting after the quick one timed out.
    const patient = send(proxy.port, { headers: { host: 'patient.test' } }).catch(() => undefined);
    await waitFor(() => proxy.upstreams.state(hanging.address)?.inFlight === 1);
    const reply = await send(proxy.port, { headers: { host: 'quick.test' } });
    expect(reply.headers['x-baton-error']).toBe('upstream-timeout');
    expect(proxy.upstreams.state(hanging.address)?.inFlight).toBe(1);
    void patient;
  });
});
