import http from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../../../src/observability/metrics.js';
import type { BackendPolicy } from '../../../src/routing/types.js';
import type { H1Pool } from '../../../src/upstream/h1-pool.js';
import { UpstreamRegistry, type UpstreamRegistryOptions } from '../../../src/upstream/registry.js';
import { waitFor } from '../../helpers/wait-for.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((fn) => fn()));
});

async function backend(handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function registry(opts: Partial<UpstreamRegistryOptions> = {}): UpstreamRegistry {
  const upstreams = new UpstreamRegistry({ logger: pino({ level: 'silent' }), metrics: createMetrics(), ...opts });
  cleanups.push(() => upstreams.close());
  return upstreams;
}

interface Reply {
  readonly statusCode: number;
  readonly body: { text(): Promise<string> };
}

/** A GET through `pool`: resolves with the response head, its body's text once complete; rejects on a failure before the head. */
function get(pool: H1Pool): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let text = '';
    let headed = false;
    let ended: (value: string) => void = () => undefined;
    let failed: (err: Error) => void = () => undefined;
    const body = new Promise<string>((res, rej) => {
      ended = res;
      failed = rej;
    });
    body.catch(() => undefined);
    pool.dispatch(
      { method: 'GET', path: '/', headers: [], body: null, headersTimeout: 5000, bodyTimeout: 5000 },
      {
        onConnect: () => undefined,
        onHeaders: (statusCode) => {
          headed = true;
          resolve({ statusCode, body: { text: () => body } });
          return true;
        },
        onData: (chunk) => {
          text += chunk.toString();
          return true;
        },
        onComplete: () => ended(text),
        onError: (err) => (headed ? failed(err) : reject(err)),
      },
    );
  });
}

const POLICY: BackendPolicy = { balance: 'roundrobin', sticky: false };

/** What a table with these backends tells `retain`: each with the route policy `policy`. */
function keep(addresses: string[], policy: BackendPolicy = POLICY): Map<string, BackendPolicy> {
  return new Map(addresses.map((a) => [a, policy]));
}

describe('UpstreamRegistry', () => {
  it('keeps one state and one pool per address', () => {
    const upstreams = registry();
    const a = upstreams.backend('127.0.0.1:1');
    expect(upstreams.backend('127.0.0.1:1')).toBe(a);
    expect(upstreams.pool(a)).toBe(upstreams.pool(a));
    expect(upstreams.backend('[::1]:1')).not.toBe(a);
    expect(upstreams.size).toBe(2);
  });

  it('sends requests to the backend at the address', async () => {
    const address = await backend((_req, res) => res.end('hello'));
    const upstreams = registry();
    const { statusCode, body } = await get(upstreams.pool(upstreams.backend(address)));
    expect(statusCode).toBe(200);
    expect(await body.text()).toBe('hello');
  });

  it('retain() lets a removed backend finish its in-flight request, then forgets it', async () => {
    // Each request gets a first chunk at once and its end only when the test releases it.
    const releases: (() => void)[] = [];
    const address = await backend((_req, res) => {
      res.write('slow ');
      releases.push(() => res.end('done'));
    });
    const upstreams = registry();
    upstreams.retain(keep([address]));
    const state = upstreams.backend(address);
    const old = upstreams.pool(state);
    state.begin();
    const pending = get(old);
    await waitFor(() => releases.length === 1);

    upstreams.retain(keep([]));
    // Still in flight: kept until the request ends.
    expect(upstreams.size).toBe(1);
    await expect(get(old)).rejects.toThrow(/closed/i);
    releases[0]?.();
    const { body } = await pending;
    expect(await body.text()).toBe('slow done');
    state.end();
    expect(upstreams.size).toBe(0);

    // Back in a later table: a new state, a new pool.
    upstreams.retain(keep([address]));
    const fresh = upstreams.backend(address);
    expect(fresh).not.toBe(state);
    const second = get(upstreams.pool(fresh));
    await waitFor(() => releases.length === 2);
    releases[1]?.();
    expect(await (await second).body.text()).toBe('slow done');
  });

  it('retain() cuts a request still in flight to a removed backend after drainMs', async () => {
    const address = await backend((_req, res) => {
      res.write('never ends');
    });
    const upstreams = registry({ drainMs: 150 });
    upstreams.retain(keep([address]));
    const state = upstreams.backend(address);
    const { body } = await get(upstreams.pool(state));
    const read = body.text();
    const leftAt = performance.now();
    upstreams.retain(keep([]));
    await expect(read).rejects.toThrow();
    expect(performance.now() - leftAt).toBeGreaterThanOrEqual(100);
  });

  it('retain() keeps the state, pool and breaker of addresses still in the table', () => {
    const upstreams = registry({ breaker: { volumeThreshold: 1 } });
    upstreams.retain(keep(['127.0.0.1:1', '127.0.0.1:2']));
    const kept = upstreams.backend('127.0.0.1:1');
    const pool = upstreams.pool(kept);
    kept.breaker.failed(false);
    upstreams.backend('127.0.0.1:2');
    upstreams.retain(keep(['127.0.0.1:1']));
    expect(upstreams.size).toBe(1);
    expect(upstreams.backend('127.0.0.1:1')).toBe(kept);
    expect(upstreams.pool(kept)).toBe(pool);
    expect(upstreams.state('127.0.0.1:1')?.breaker).toBe('open');
  });

  it('keeps a leaving backend that comes back before its requests ended, breaker state included', () => {
    const upstreams = registry({ breaker: { volumeThreshold: 1 } });
    upstreams.retain(keep(['127.0.0.1:1']));
    const state = upstreams.backend('127.0.0.1:1');
    state.breaker.failed(false);
    state.begin();
    upstreams.retain(keep([]));
    upstreams.retain(keep(['127.0.0.1:1']));
    state.end();
    expect(upstreams.backend('127.0.0.1:1')).toBe(state);
    expect(upstreams.state('127.0.0.1:1')).toMatchObject({ breaker: 'open', inFlight: 0 });
  });

  it('forgets at once a backend dialled from an older table after it left', () => {
    const upstreams = registry();
    upstreams.retain(keep(['127.0.0.1:2']));
    const late = upstreams.backend('127.0.0.1:1');
    late.begin();
    expect(upstreams.size).toBe(1);
    late.end();
    expect(upstreams.size).toBe(0);
  });

  it("applies a route's breaker settings and connect timeout, and follows their changes", () => {
    const upstreams = registry({ connectTimeoutMs: 3000, breaker: { volumeThreshold: 100 } });
    upstreams.retain(keep(['127.0.0.1:1'], { ...POLICY, breaker: { volumeThreshold: 2 }, timeouts: { connectMs: 500 } }));
    const state = upstreams.backend('127.0.0.1:1');
    expect(state.breaker.settings).toMatchObject({ volumeThreshold: 2, errorThresholdPercentage: 50 });
    expect(upstreams.connectTimeoutFor('127.0.0.1:1')).toBe(500);
    const pool = upstreams.pool(state);

    upstreams.retain(keep(['127.0.0.1:1']));
    expect(upstreams.backend('127.0.0.1:1')).toBe(state);
    expect(state.breaker.settings.volumeThreshold).toBe(100);
    // Built with another connect timeout: replaced.
    expect(upstreams.pool(state)).not.toBe(pool);
    expect(upstreams.connectTimeoutFor('127.0.0.1:1')).toBe(3000);
  });

  it('is the picker context: an open breaker makes its backend unavailable', () => {
    const upstreams = registry({ breaker: { volumeThreshold: 1 } });
    const b = { address: '127.0.0.1:1', host: '127.0.0.1', port: 1, taskId: 't', appId: '/a', id: 'x', weight: 1 };
    expect(upstreams.available(b)).toBe(true);
    expect(upstreams.load(b)).toEqual({ inFlight: 0, latencyMs: 0 });
    const state = upstreams.backend(b.address);
    state.begin();
    state.sample(12);
    expect(upstreams.load(b)).toMatchObject({ inFlight: 1, latencyMs: 12 });
    state.breaker.failed(false);
    expect(upstreams.available(b)).toBe(false);
    state.end();
    expect(upstreams.snapshot()).toEqual({ '127.0.0.1:1': { breaker: 'open', inFlight: 0, latencyMs: 12 } });
  });
});

describe('UpstreamRegistry connection tracking', () => {
  let server: net.Server | undefined;
  const accepted: Socket[] = [];
  afterEach(async () => {
    for (const socket of accepted.splice(0)) socket.destroy();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    server = undefined;
  });

  /** An open TCP connection to a local server, as a proxy holds to a backend. */
  async function connection(): Promise<Socket> {
    if (server === undefined) {
      server = net.createServer((socket) => accepted.push(socket));
      await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    }
    const { port } = server.address() as AddressInfo;
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    return socket;
  }

  /** A connection held by the registry, counted in flight as the dialer does. */
  function track(upstreams: UpstreamRegistry, address: string, socket: Socket): void {
    const state = upstreams.backend(address);
    state.begin();
    upstreams.track(state, socket);
  }

  it('destroys the connections of a backend that left, after drainMs, then forgets it', async () => {
    const upstreams = registry({ drainMs: 200 });
    upstreams.retain(keep(['10.0.0.1:80', '10.0.0.2:80']));
    const leaving = await connection();
    const staying = await connection();
    track(upstreams, '10.0.0.1:80', leaving);
    track(upstreams, '10.0.0.2:80', staying);
    upstreams.retain(keep(['10.0.0.2:80']));
    expect(leaving.destroyed).toBe(false);
    expect(upstreams.state('10.0.0.1:80')?.inFlight).toBe(1);
    await waitFor(() => leaving.destroyed);
    expect(staying.destroyed).toBe(false);
    await waitFor(() => upstreams.state('10.0.0.1:80') === undefined);
    expect(upstreams.state('10.0.0.2:80')?.inFlight).toBe(1);
  });

  it('keeps the connections of a backend that comes back within drainMs', async () => {
    const upstreams = registry({ drainMs: 200 });
    const back = await connection();
    const witness = await connection();
    track(upstreams, '10.0.0.1:80', back);
    track(upstreams, '10.0.0.2:80', witness);
    upstreams.retain(keep([]));
    upstreams.retain(keep(['10.0.0.1:80']));
    // Both drains were scheduled together: once the witness is gone, the other one would have fired.
    await waitFor(() => witness.destroyed);
    expect(back.destroyed).toBe(false);
  });

  it('drains a connection tracked after its backend already left', async () => {
    const upstreams = registry({ drainMs: 50 });
    upstreams.retain(keep(['10.0.0.2:80']));
    const late = await connection();
    track(upstreams, '10.0.0.1:80', late);
    expect(late.destroyed).toBe(false);
    await waitFor(() => late.destroyed);
  });

  it('close() destroys tracked connections, and any tracked afterwards', async () => {
    const upstreams = new UpstreamRegistry({ logger: pino({ level: 'silent' }), metrics: createMetrics() });
    const open = await connection();
    track(upstreams, '10.0.0.1:80', open);
    await upstreams.close();
    expect(open.destroyed).toBe(true);
    const late = await connection();
    track(upstreams, '10.0.0.1:80', late);
    expect(late.destroyed).toBe(true);
  });
});
