import { createSocket } from 'node:dgram';
import net, { type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import { ServiceListeners } from '../../src/proxy/listeners.js';
import { UdpProxy } from '../../src/proxy/udp.js';
import { UpstreamRegistry } from '../../src/upstream/registry.js';
import type { RoutingTable } from '../../src/routing/types.js';
import { waitFor } from '../helpers/wait-for.js';
import { freeTcpPort, freeUdpPort, portRoute, portTable, swappable, tlsRoute, valueOf } from './tcp-harness.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

interface Harness {
  readonly listeners: ServiceListeners;
  readonly metrics: Metrics;
  /** Connections handed over, by kind and port. */
  readonly accepted: { kind: 'tcp' | 'tls'; port: number }[];
  /** Error lines logged. */
  readonly errors: string[];
  readonly tables: { current: RoutingTable };
}

/** Service listeners whose TCP and TLS handlers echo, and whose UDP ports are real proxies. */
function start(): Harness {
  const metrics = createMetrics();
  const accepted: Harness['accepted'] = [];
  const errors: string[] = [];
  const logger = pino(
    { level: 'error' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        errors.push(chunk.toString());
        done();
      },
    }),
  );
  const tables = swappable(portTable([]));
  const sockets: Socket[] = [];
  const echo = (kind: 'tcp' | 'tls') => (socket: Socket, port: number) => {
    accepted.push({ kind, port });
    sockets.push(socket);
    socket.pipe(socket);
  };
  const listeners = new ServiceListeners({
    bind: '127.0.0.1',
    logger,
    metrics,
    onTcp: echo('tcp'),
    onTls: echo('tls'),
    udp: (port) => new UdpProxy({ port, tables, metrics, logger, idleTimeoutMs: 10_000, maxFlows: 10, upstreams: new UpstreamRegistry({ logger, metrics }) }),
  });
  cleanups.push(async () => {
    await listeners.close();
    for (const socket of sockets) socket.destroy();
  });
  return { listeners, metrics, accepted, errors, tables };
}

function reconcile(h: Harness, table: RoutingTable): void {
  h.tables.current = table;
  h.listeners.reconcile(table);
}

/** Connects and echoes one message; rejects when the port refuses. */
async function talk(port: number, text = 'hi'): Promise<Socket> {
  const socket = net.connect(port, '127.0.0.1');
  cleanups.push(() => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('data', (d: Buffer) => (d.toString() === text ? resolve() : reject(new Error(`got ${d.toString()}`))));
    socket.write(text);
  });
  return socket;
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

const listening = (h: Harness, n: number) => () => h.listeners.status().filter((s) => s.state === 'listening').length === n;

describe('service-port listeners', () => {
  it('opens a listener per TCP, UDP and own-port TLS route, and hands connections over with their port', async () => {
    const h = start();
    const [tcp, tls, udp] = [await freeTcpPort(), await freeTcpPort(), await freeUdpPort()];
    const backend = createSocket('udp4');
    backend.on('message', (msg, rinfo) => backend.send(msg, rinfo.port, rinfo.address));
    await new Promise<void>((resolve) => backend.bind(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => backend.close(() => resolve())));
    const udpRoute = portRoute('udp', udp, [`127.0.0.1:${backend.address().port}`]);
    // A TLS route on the HTTPS entry point (no port) needs no listener here.
    reconcile(h, portTable([portRoute('tcp', tcp, []), udpRoute], [tlsRoute(tls, 'a.example.com'), { ...tlsRoute(0, 'b.example.com'), port: undefined }]));
    await waitFor(listening(h, 3), 'three listeners');
    expect(h.listeners.status()).toEqual(
      [
        { protocol: 'tcp', port: tcp, state: 'listening' },
        { protocol: 'tls', port: tls, state: 'listening' },
        { protocol: 'udp', port: udp, state: 'listening' },
      ].sort((a, b) => a.port - b.port),
    );

    await talk(tcp);
    await talk(tls);
    expect(h.accepted).toEqual([
      { kind: 'tcp', port: tcp },
      { kind: 'tls', port: tls },
    ]);
    const client = createSocket('udp4');
    const reply = new Promise<string>((resolve) => client.once('message', (msg) => resolve(msg.toString())));
    client.send('ping', udp, '127.0.0.1');
    expect(await reply).toBe('ping');
    client.close();
  });

  it('closes the listener of a route that is gone; its open connections go on', async () => {
    const h = start();
    const [kept, dropped] = [await freeTcpPort(), await freeTcpPort()];
    reconcile(h, portTable([portRoute('tcp', kept, []), portRoute('tcp', dropped, [])]));
    await waitFor(listening(h, 2), 'two listeners');
    const open = await talk(dropped, 'before');

    reconcile(h, portTable([portRoute('tcp', kept, [])]));
    expect(h.listeners.status().map((s) => s.port)).toEqual([kept]);
    expect(await refused(dropped)).toBe(true);
    await new Promise<void>((resolve) => {
      open.once('data', () => resolve());
      open.write('after');
    });
    await talk(kept);
  });

  it('a reconcile with the same ports leaves the listeners as they are', async () => {
    const h = start();
    const port = await freeTcpPort();
    reconcile(h, portTable([portRoute('tcp', port, [])]));
    await waitFor(listening(h, 1), 'the listener');
    reconcile(h, portTable([portRoute('tcp', port, ['127.0.0.1:1'])]));
    // Not re-opened: a new listener would be `opening` until its bind completes.
    expect(h.listeners.status()).toEqual([{ protocol: 'tcp', port, state: 'listening' }]);
    await talk(port);
  });

  it('reports a port already in use, keeps the others, and retries it only when it comes back', async () => {
    const h = start();
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const busy = (taken.address() as net.AddressInfo).port;
    let takenOpen = true;
    cleanups.push(() => takenOpen && new Promise((resolve) => taken.close(resolve)));
    const free = await freeTcpPort();
    const both = portTable([portRoute('tcp', busy, []), portRoute('tcp', free, [])]);

    reconcile(h, both);
    await waitFor(() => h.listeners.status().every((s) => s.state !== 'opening'), 'both binds to complete');
    const failed = h.listeners.status().find((s) => s.port === busy);
    expect(failed).toMatchObject({ protocol: 'tcp', state: 'failed' });
    expect(failed?.error).toMatch(/EADDRINUSE/);
    expect(await valueOf(h.metrics.listenerErrors, { protocol: 'tcp' })).toBe(1);
    await talk(free);

    // Still in the table: no retry, even once the port is free.
    await new Promise((resolve) => taken.close(resolve));
    takenOpen = false;
    reconcile(h, both);
    expect(h.listeners.status().find((s) => s.port === busy)?.state).toBe('failed');

    // Gone and back: retried, and now it binds.
    reconcile(h, portTable([portRoute('tcp', free, [])]));
    reconcile(h, both);
    await waitFor(listening(h, 2), 'the retried port to listen');
    await talk(busy);
    expect(await valueOf(h.metrics.listenerErrors, { protocol: 'tcp' })).toBe(1);
  });

  it('logs a failing port once per port and error, and counts every failure', async () => {
    const h = start();
    const taken = createSocket('udp4');
    await new Promise<void>((resolve) => taken.bind(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => taken.close(() => resolve())));
    const busy = taken.address().port;
    const table = portTable([portRoute('udp', busy, [])]);
    for (let i = 0; i < 3; i++) {
      reconcile(h, table);
      await waitFor(() => h.listeners.status()[0]?.state === 'failed', 'the bind to fail');
      reconcile(h, portTable([]));
    }
    expect(await valueOf(h.metrics.listenerErrors, { protocol: 'udp' })).toBe(3);
    expect(h.errors.length).toBe(1);
    expect(JSON.parse(h.errors[0] ?? '{}')).toMatchObject({ protocol: 'udp', port: busy, msg: 'cannot open service port' });
  });

  it('close() stops every listener', async () => {
    const h = start();
    const [tcp, udp] = [await freeTcpPort(), await freeUdpPort()];
    reconcile(h, portTable([portRoute('tcp', tcp, []), portRoute('udp', udp, [])]));
    await waitFor(listening(h, 2), 'two listeners');
    await h.listeners.close();
    expect(h.listeners.status()).toEqual([]);
    expect(await refused(tcp)).toBe(true);
    // The UDP port is free again.
    const rebind = createSocket('udp4');
    await new Promise<void>((resolve) => rebind.bind(udp, '127.0.0.1', resolve));
    rebind.close();
    // A reconcile after close opens nothing.
    reconcile(h, portTable([portRoute('tcp', tcp, [])]));
    expect(h.listeners.status()).toEqual([]);
  });
});
