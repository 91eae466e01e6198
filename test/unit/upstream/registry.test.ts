import http from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { UpstreamRegistry } from '../../../src/upstream/registry.js';

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

function registry(drainMs?: number): UpstreamRegistry {
  const upstreams = new UpstreamRegistry({ drainMs });
  cleanups.push(() => upstreams.close());
  return upstreams;
}

async function waitFor(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('UpstreamRegistry', () => {
  it('keeps one pool per address', async () => {
    const upstreams = registry();
    const a = upstreams.get('127.0.0.1:1');
    expect(upstreams.get('127.0.0.1:1')).toBe(a);
    expect(upstreams.get('[::1]:1')).not.toBe(a);
    expect(upstreams.size).toBe(2);
  });

  it('sends requests to the backend at the address', async () => {
    const address = await backend((_req, res) => res.end('hello'));
    const upstreams = registry();
    const { statusCode, body } = await upstreams.get(address).request({ method: 'GET', path: '/' });
    expect(statusCode).toBe(200);
    expect(await body.text()).toBe('hello');
  });

  it('retain() lets a removed backend finish its in-flight request, then builds a new pool', async () => {
    // Each request gets a first chunk at once and its end only when the test releases it.
    const releases: (() => void)[] = [];
    const address = await backend((_req, res) => {
      res.write('slow ');
      releases.push(() => res.end('done'));
    });
    const upstreams = registry();
    const old = upstreams.get(address);
    const pending = old.request({ method: 'GET', path: '/' });
    await waitFor(() => releases.length === 1);

    upstreams.retain(new Set());
    expect(upstreams.size).toBe(0);
    await expect(old.request({ method: 'GET', path: '/' })).rejects.toThrow(/closed/i);
    releases[0]?.();
    const { body } = await pending;
    expect(await body.text()).toBe('slow done');

    const fresh = upstreams.get(address);
    expect(fresh).not.toBe(old);
    const second = fresh.request({ method: 'GET', path: '/' });
    await waitFor(() => releases.length === 2);
    releases[1]?.();
    expect(await (await second).body.text()).toBe('slow done');
  });

  it('retain() keeps the pools of addresses still in the set', () => {
    const upstreams = registry();
    const kept = upstreams.get('127.0.0.1:1');
    upstreams.get('127.0.0.1:2');
    upstreams.retain(new Set(['127.0.0.1:1']));
    expect(upstreams.size).toBe(1);
    expect(upstreams.get('127.0.0.1:1')).toBe(kept);
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

  it('destroys the connections of a backend that left, after drainMs', async () => {
    const upstreams = registry(200);
    const leaving = await connection();
    const staying = await connection();
    upstreams.track('10.0.0.1:80', leaving);
    upstreams.track('10.0.0.2:80', staying);
    upstreams.retain(new Set(['10.0.0.2:80']));
    expect(leaving.destroyed).toBe(false);
    await waitFor(() => leaving.destroyed);
    expect(staying.destroyed).toBe(false);
  });

  it('keeps the connections of a backend that comes back within drainMs', async () => {
    const upstreams = registry(200);
    const back = await connection();
    const witness = await connection();
    upstreams.track('10.0.0.1:80', back);
    upstreams.track('10.0.0.2:80', witness);
    upstreams.retain(new Set());
    upstreams.retain(new Set(['10.0.0.1:80']));
    // Both drains were scheduled together: once the witness is gone, the other one would have fired.
    await waitFor(() => witness.destroyed);
    expect(back.destroyed).toBe(false);
  });

  it('drains a connection tracked after its backend already left', async () => {
    const upstreams = registry(50);
    upstreams.retain(new Set(['10.0.0.2:80']));
    const late = await connection();
    upstreams.track('10.0.0.1:80', late);
    expect(late.destroyed).toBe(false);
    await waitFor(() => late.destroyed);
  });

  it('close() destroys tracked connections, and any tracked afterwards', async () => {
    const upstreams = new UpstreamRegistry();
    const open = await connection();
    upstreams.track('10.0.0.1:80', open);
    await upstreams.close();
    expect(open.destroyed).toBe(true);
    const late = await connection();
    upstreams.track('10.0.0.1:80', late);
    expect(late.destroyed).toBe(true);
  });
});
