/**
 * Retries on the HTTP paths: what may be sent to another backend after a failure (a connect that
 * failed; an idempotent request reset before its answer, with no body sent), and what never is (a
 * POST whose body went out).
 */
import type http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { HttpRoute } from '../../src/routing/types.js';
import { backendPolicies } from '../../src/upstream/registry.js';
import {
  buildTable,
  closeAll,
  closedAddress,
  h2Connect,
  h2Request,
  route,
  send,
  startBackend,
  startH2cBackend,
  startProxy,
  tableOf,
  type RunningProxy,
} from './proxy-harness.js';

afterEach(closeAll);

interface Seen {
  readonly name: string;
  address: string;
  readonly requests: { method: string; body: string }[];
}

/** A backend that records each request (method and whole body); `behave` may answer otherwise than 200 + its name. */
async function recording(name: string, behave?: (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void): Promise<Seen> {
  const seen: Seen = { name, address: '', requests: [] };
  const backend = await startBackend((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    const n = seen.requests.length + 1;
    const entry = { method: req.method ?? '', body: '' };
    seen.requests.push(entry);
    req.on('end', () => (entry.body = Buffer.concat(chunks).toString()));
    if (behave) return behave(req, res, n);
    req.on('end', () => res.end(name));
  });
  seen.address = backend.address;
  return seen;
}

async function retries(proxy: RunningProxy, reason: string): Promise<number> {
  return (await proxy.metrics.upstreamRetries.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

describe('retries after a failed connect', () => {
  it('sends a POST with its body to another backend when the first refuses, once', async () => {
    const good = await recording('good');
    const refused = await closedAddress();
    const proxy = await startProxy(tableOf([route('app.test', [refused, good.address])]));

    const body = 'x'.repeat(200_000);
    const reply = await send(proxy.port, { method: 'POST', headers: { host: 'app.test' }, body });
    expect(reply.status).toBe(200);
    expect(reply.body.toString()).toBe('good');
    expect(good.requests).toEqual([{ method: 'POST', body }]);
    expect(await retries(proxy, 'connect')).toBe(1);
  });

  it('gives up after `retries` extra attempts with the last error', async () => {
    const addresses = [await closedAddress(), await closedAddress(), await closedAddress(), await closedAddress()];
    const proxy = await startProxy(tableOf([route('app.test', addresses)]), { registry: { retries: 2 } });

    const reply = await send(proxy.port, { headers: { host: 'app.test' } });
    expect(reply.status).toBe(502);
    expect(reply.headers['x-baton-error']).toBe('upstream-connect');
    expect(await retries(proxy, 'connect')).toBe(2);
  });

  it('does not retry at all with retries 0', async () => {
    const good = await recording('good');
    const proxy = await startProxy(tableOf([route('app.test', [await closedAddress(), good.address])]), { registry: { retries: 0 } });

    // Round robin offers the refusing backend first.
    expect((await send(proxy.port, { headers: { host: 'app.test' } })).headers['x-baton-error']).toBe('upstream-connect');
    expect(good.requests).toHaveLength(0);
  });

  it('sends an HTTP/2 request body to another backend when the first refuses', async () => {
    const good = await recording('good');
    const proxy = await startProxy(tableOf([route('app.test', [await closedAddress(), good.address])]));
    const session = h2Connect(proxy.port);

    const body = 'y'.repeat(100_000);
    const reply = await h2Request(session, { ':method': 'PUT', ':authority': 'app.test', ':path': '/up' }, body);
    expect(reply.status).toBe(200);
    expect(good.requests).toEqual([{ method: 'PUT', body }]);
  });

  it('sends a bodyless request to another h2c backend when the first refuses', async () => {
    const good = await startH2cBackend((stream) => {
      stream.respond({ ':status': 200 });
      stream.end('h2c good');
    });
    const proxy = await startProxy(tableOf([route('grpc.test', [await closedAddress(), good.address], { backendProtocol: 'h2c' })]));

    const reply = await send(proxy.port, { headers: { host: 'grpc.test' } });
    expect(reply.status).toBe(200);
    expect(reply.body.toString()).toBe('h2c good');
    expect(await retries(proxy, 'connect')).toBe(1);
  });
});

describe('retries after a reset', () => {
  /**
   * Backend A answers the first request on a connection (keep-alive) and resets the connection on
   * the second: the race of a backend closing an idle keep-alive connection as a request arrives.
   */
  async function resetOnReuse(): Promise<Seen> {
    return recording('A', (req, res, n) => {
      if (n === 1) req.on('end', () => res.end('A'));
      else req.socket.destroy();
    });
  }

  /** A proxy whose route first has A alone (a request leaves a keep-alive connection to it), then A and B (A first). */
  async function warmedProxy(a: Seen, b: Seen): Promise<RunningProxy> {
    const only: HttpRoute = route('app.test', [a.address]);
    const tables = { current: buildTable([only]) };
    const proxy = await startProxy(tables);
    const first = await send(proxy.port, { headers: { host: 'app.test' } });
    expect(first.body.toString()).toBe('A');
    tables.current = buildTable([route('app.test', [a.address, b.address])], 2);
    proxy.upstreams.retain(backendPolicies(tables.current));
    return proxy;
  }

  it('retries an idempotent GET reset on a reused keep-alive connection once, on another backend', async () => {
    const a = await resetOnReuse();
    const b = await recording('B');
    const proxy = await warmedProxy(a, b);

    const reply = await send(proxy.port, { headers: { host: 'app.test' } });
    expect(reply.status).toBe(200);
    expect(reply.body.toString()).toBe('B');
    expect(a.requests.map((r) => r.method)).toEqual(['GET', 'GET']);
    expect(b.requests.map((r) => r.method)).toEqual(['GET']);
    expect(await retries(proxy, 'reset')).toBe(1);
  });

  it('never retries a POST whose body was sent: the client gets 502 and the backends saw it once', async () => {
    const a = await resetOnReuse();
    const b = await recording('B');
    const proxy = await warmedProxy(a, b);

    const reply = await send(proxy.port, { method: 'POST', headers: { host: 'app.test' }, body: 'pay once' });
    expect(reply.status).toBe(502);
    expect(reply.headers['x-baton-error']).toBe('upstream-reset');
    expect(a.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
    expect(b.requests).toHaveLength(0);
    expect(await retries(proxy, 'reset')).toBe(0);
  });

  it('never retries a bodyless POST after a reset either (not idempotent)', async () => {
    const a = await resetOnReuse();
    const b = await recording('B');
    const proxy = await warmedProxy(a, b);

    const reply = await send(proxy.port, { method: 'POST', headers: { host: 'app.test', 'content-length': '0' } });
    expect(reply.status).toBe(502);
    expect(b.requests).toHaveLength(0);
  });

  it('never retries a PUT whose body was sent', async () => {
    const a = await resetOnReuse();
    const b = await recording('B');
    const proxy = await warmedProxy(a, b);

    const reply = await send(proxy.port, { method: 'PUT', headers: { host: 'app.test' }, body: 'z'.repeat(50_000) });
    expect(reply.status).toBe(502);
    expect(b.requests).toHaveLength(0);
  });

  it('does not retry after the response began: the client sees a broken response', async () => {
    const midway = await recording('midway', (_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const b = await recording('B');
    const proxy = await startProxy(tableOf([route('app.test', [midway.address, b.address])]));

    await expect(send(proxy.port, { headers: { host: 'app.test' } })).rejects.toThrow();
    expect(b.requests).toHaveLength(0);
  });
});
