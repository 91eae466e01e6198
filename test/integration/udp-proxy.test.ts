import { createSocket, type Socket } from 'node:dgram';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import { UdpProxy } from '../../src/proxy/udp.js';
import { UpstreamRegistry } from '../../src/upstream/registry.js';
import type { RoutingTable } from '../../src/routing/types.js';
import { waitFor } from '../helpers/wait-for.js';
import { freeUdpPort, portRoute, portTable, swappable, valueOf } from './tcp-harness.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function bound(socket: Socket): Promise<number> {
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return socket.address().port;
}

/** A UDP backend that answers `name:payload` and remembers the source port of each datagram. */
async function startBackend(name: string): Promise<{ address: string; sources: number[] }> {
  const socket = createSocket('udp4');
  const sources: number[] = [];
  socket.on('message', (msg, rinfo) => {
    sources.push(rinfo.port);
    socket.send(`${name}:${msg.toString()}`, rinfo.port, rinfo.address);
  });
  const port = await bound(socket);
  return { address: `127.0.0.1:${port}`, sources };
}

interface Started {
  readonly proxy: UdpProxy;
  readonly port: number;
  readonly metrics: Metrics;
}

async function startProxy(tables: { current: RoutingTable }, port: number, opts: { idleTimeoutMs?: number; maxFlows?: number } = {}): Promise<Started> {
  const metrics = createMetrics();
  const logger = pino({ level: 'silent' });
  const upstreams = new UpstreamRegistry({ logger, metrics });
  const proxy = new UdpProxy({ port, tables, metrics, logger, idleTimeoutMs: opts.idleTimeoutMs ?? 30_000, maxFlows: opts.maxFlows ?? 100, upstreams });
  cleanups.push(() => upstreams.close());
  await proxy.listen('127.0.0.1');
  cleanups.push(() => proxy.close());
  return { proxy, port, metrics };
}

/** A client socket that collects the datagrams it receives. */
async function client(): Promise<{ send(text: string, port: number): void; replies: string[] }> {
  const socket = createSocket('udp4');
  const replies: string[] = [];
  socket.on('message', (msg) => replies.push(msg.toString()));
  await bound(socket);
  return { send: (text, port) => socket.send(text, port, '127.0.0.1'), replies };
}

describe('UDP proxy', () => {
  it('relays datagrams both ways, each reply to the client that asked', async () => {
    const backend = await startBackend('a');
    const port = await freeUdpPort();
    const { proxy, metrics } = await startProxy(swappable(portTable([portRoute('udp', port, [backend.address])])), port);
    const clients = await Promise.all([1, 2, 3, 4, 5].map(() => client()));
    clients.forEach((c, i) => c.send(`hello ${i}`, port));
    await waitFor(() => clients.every((c) => c.replies.length === 1), 'every client to get its reply');
    clients.forEach((c, i) => expect(c.replies).toEqual([`a:hello ${i}`]));
    // One flow, so one backend-side source port, per client.
    expect(new Set(backend.sources).size).toBe(5);
    expect(proxy.size).toBe(5);
    expect(await valueOf(metrics.udpFlows)).toBe(5);
    expect(await valueOf(metrics.connections, { protocol: 'udp' })).toBe(5);

    clients[0]?.send('again', port);
    await waitFor(() => clients[0]?.replies.length === 2, 'the second reply');
    expect(clients[0]?.replies[1]).toBe('a:again');
    expect(backend.sources.at(-1)).toBe(backend.sources[0]);
  });

  it("follows the route's balancing policy: with source hashing every flow of one client address goes to one backend", async () => {
    const [a, b] = [await startBackend('a'), await startBackend('b')];
    const port = await freeUdpPort();
    const route = portRoute('udp', port, [a.address, b.address], { balance: 'source', sticky: false });
    await startProxy(swappable(portTable([route])), port);
    // Six clients on 127.0.0.1 (six source ports, six flows): round robin would split them 3/3.
    const clients = await Promise.all([1, 2, 3, 4, 5, 6].map(() => client()));
    clients.forEach((c) => c.send('hi', port));
    await waitFor(() => clients.every((c) => c.replies.length === 1), 'every reply');
    const answeredBy = new Set(clients.map((c) => c.replies[0]?.split(':')[0]));
    expect(answeredBy.size).toBe(1);
  });

  it('a flood from many source ports keeps at most maxFlows flows', async () => {
    const backend = await startBackend('a');
    const port = await freeUdpPort();
    const { proxy, metrics } = await startProxy(swappable(portTable([portRoute('udp', port, [backend.address])])), port, { maxFlows: 4 });
    const clients = await Promise.all(Array.from({ length: 12 }, () => client()));
    clients.forEach((c, i) => c.send(`flood ${i}`, port));
    await waitFor(async () => (await valueOf(metrics.connections, { protocol: 'udp' })) === 12, 'every datagram to make a flow');
    expect(proxy.size).toBe(4);
    expect(await valueOf(metrics.udpFlows)).toBe(4);
    expect(await valueOf(metrics.connectionErrors, { protocol: 'udp', reason: 'flow-evicted' })).toBe(8);
    // The most recent flow was never evicted: its client gets its answer.
    await waitFor(() => clients[11]?.replies.length === 1, 'the last client to get its reply');
  });

  it('closes idle flows; the next datagram starts a new one', async () => {
    const backend = await startBackend('a');
    const port = await freeUdpPort();
    const { proxy, metrics } = await startProxy(swappable(portTable([portRoute('udp', port, [backend.address])])), port, { idleTimeoutMs: 100 });
    const c = await client();
    c.send('one', port);
    await waitFor(() => c.replies.length === 1, 'the reply');
    await waitFor(() => proxy.size === 0, 'the idle flow to close');
    expect(await valueOf(metrics.udpFlows)).toBe(0);
    c.send('two', port);
    await waitFor(() => c.replies.length === 2, 'the reply through a new flow');
    expect(await valueOf(metrics.connections, { protocol: 'udp' })).toBe(2);
  });

  it('moves a flow whose backend left the table on its next datagram', async () => {
    const a = await startBackend('a');
    const b = await startBackend('b');
    const port = await freeUdpPort();
    const tables = swappable(portTable([portRoute('udp', port, [a.address])]));
    const { proxy } = await startProxy(tables, port);
    const c = await client();
    c.send('x', port);
    await waitFor(() => c.replies.length === 1, 'the first reply');

    tables.current = portTable([portRoute('udp', port, [b.address])]);
    c.send('y', port);
    await waitFor(() => c.replies.length === 2, 'the second reply');
    expect(c.replies).toEqual(['a:x', 'b:y']);
    expect(proxy.size).toBe(1);
  });

  it('keeps a flow on its backend when a new table still has it', async () => {
    const a = await startBackend('a');
    const b = await startBackend('b');
    const port = await freeUdpPort();
    const tables = swappable(portTable([portRoute('udp', port, [a.address])]));
    await startProxy(tables, port);
    const c = await client();
    c.send('x', port);
    await waitFor(() => c.replies.length === 1, 'the first reply');
    tables.current = portTable([portRoute('udp', port, [b.address, a.address])]);
    c.send('y', port);
    await waitFor(() => c.replies.length === 2, 'the second reply');
    expect(c.replies).toEqual(['a:x', 'a:y']);
  });

  it('a backend error (port unreachable) closes that flow only', async () => {
    const closedPort = await freeUdpPort();
    const a = await startBackend('a');
    const port = await freeUdpPort();
    const { proxy, metrics } = await startProxy(swappable(portTable([portRoute('udp', port, [`127.0.0.1:${closedPort}`, a.address])])), port);
    const toNowhere = await client();
    const toA = await client();
    toNowhere.send('lost', port);
    toA.send('kept', port);
    await waitFor(async () => (await valueOf(metrics.connectionErrors, { protocol: 'udp', reason: 'upstream-error' })) === 1, 'the flow error');
    await waitFor(() => proxy.size === 1, 'the failed flow to close');
    toA.send('again', port);
    await waitFor(() => toA.replies.length === 2, 'the other flow to keep working');
    expect(toA.replies).toEqual(['a:kept', 'a:again']);
    expect(await valueOf(metrics.udpFlows)).toBe(1);
  });

  it('drops and counts datagrams for a port with no route or no backend', async () => {
    const port = await freeUdpPort();
    const tables = swappable(portTable([]));
    const { proxy, metrics } = await startProxy(tables, port);
    const c = await client();
    c.send('a', port);
    await waitFor(async () => (await valueOf(metrics.connectionErrors, { protocol: 'udp', reason: 'no-route' })) === 1, 'the no-route drop');
    tables.current = portTable([portRoute('udp', port, [])]);
    c.send('b', port);
    await waitFor(async () => (await valueOf(metrics.connectionErrors, { protocol: 'udp', reason: 'no-healthy-backend' })) === 1, 'the no-backend drop');
    expect(proxy.size).toBe(0);
    expect(c.replies).toEqual([]);
  });

  it('listen() rejects when the port is taken', async () => {
    const taken = createSocket('udp4');
    const port = await bound(taken);
    const metrics = createMetrics();
    const logger = pino({ level: 'silent' });
    const upstreams = new UpstreamRegistry({ logger, metrics });
    cleanups.push(() => upstreams.close());
    const proxy = new UdpProxy({ port, tables: swappable(portTable([])), metrics, logger, idleTimeoutMs: 1000, maxFlows: 10, upstreams });
    await expect(proxy.listen('127.0.0.1')).rejects.toThrow(/EADDRINUSE/);
    await proxy.close();
  });
});
