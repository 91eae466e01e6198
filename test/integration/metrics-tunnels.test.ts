/**
 * Per-route metrics of tunnels and flows through a DataPath: TCP, TLS passthrough on its own
 * port, WebSocket and UDP count as class `conn`, active while open, with their lifetime and every
 * byte each way once they close.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { makeCert } from '../fixtures/tls/make-certs.js';
import { waitFor } from '../helpers/wait-for.js';
import { exchangeTcp, scrape, startDataPath, startEcho, stopAll, tableOf, valueIn, type RunningDataPath } from './metrics-harness.js';
import { route, startBackend } from './proxy-harness.js';
import { backend, freeTcpPort, freeUdpPort, portRoute, tlsRoute } from './tcp-harness.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
  await stopAll();
});

async function metric(running: RunningDataPath, name: string, labels: Record<string, string>): Promise<number | undefined> {
  return valueIn(await scrape(running.metrics.registry), name, labels);
}

/** Waits until the route has `count` finished connections and none open; resolves with its byte counts. */
async function finished(running: RunningDataPath, routeId: string, count: number): Promise<{ received: number; sent: number; durations: number }> {
  await waitFor(async () => (await metric(running, 'baton_route_requests_total', { route: routeId, class: 'conn' })) === count, `${count} finished connection(s)`);
  const samples = await scrape(running.metrics.registry);
  expect(valueIn(samples, 'baton_route_active', { route: routeId })).toBe(0);
  return {
    received: valueIn(samples, 'baton_route_received_bytes_total', { route: routeId }) ?? -1,
    sent: valueIn(samples, 'baton_route_sent_bytes_total', { route: routeId }) ?? -1,
    durations: valueIn(samples, 'baton_route_request_duration_seconds_count', { route: routeId }) ?? -1,
  };
}

describe('per-route metrics of tunnels and flows', () => {
  it('counts a TCP connection as active while open, then as conn with every byte each way', async () => {
    const echo = await startEcho();
    cleanups.push(() => echo.close());
    const port = await freeTcpPort();
    const tcp = portRoute('tcp', port, [echo.address]);
    const running = await startDataPath(tableOf([], [tcp]));

    const open = net.connect({ port, host: '127.0.0.1' });
    cleanups.push(() => open.destroy());
    await new Promise((resolve) => open.once('connect', resolve));
    await waitFor(async () => (await metric(running, 'baton_route_active', { route: tcp.id })) === 1, 'the connection to count as active');
    open.destroy();

    expect((await exchangeTcp(port, Buffer.alloc(4096, 7))).length).toBe(4096);
    const { received, sent, durations } = await finished(running, tcp.id, 2);
    expect(received).toBe(4096);
    expect(sent).toBe(4096);
    expect(durations).toBe(2);
  });

  it('counts a TCP connection to a route without backends as conn, at once', async () => {
    const port = await freeTcpPort();
    const tcp = portRoute('tcp', port, []);
    const running = await startDataPath(tableOf([], [tcp]));
    expect((await exchangeTcp(port, Buffer.from('hi'))).length).toBe(0);
    await finished(running, tcp.id, 1);
  });

  it('counts TLS passthrough connections on their own port, and those for an unknown name as unmatched', async () => {
    const cert = makeCert('secure.test', ['secure.test']);
    const server = tls.createServer({ cert: cert.cert, key: cert.key }, (socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const port = await freeTcpPort();
    const passthrough = { ...tlsRoute(port, 'secure.test'), backends: [backend(`127.0.0.1:${(server.address() as net.AddressInfo).port}`)] };
    const running = await startDataPath(tableOf([], [], [passthrough]));

    const client = tls.connect({ port, host: '127.0.0.1', servername: 'secure.test', rejectUnauthorized: false });
    client.on('error', () => undefined);
    cleanups.push(() => client.destroy());
    await new Promise((resolve) => client.once('secureConnect', resolve));
    client.write('ping');
    await new Promise((resolve) => client.once('data', resolve));
    client.end();
    const { received, sent } = await finished(running, passthrough.id, 1);
    // The handshake and the record each way: more than the 4 bytes of payload.
    expect(received).toBeGreaterThan(4);
    expect(sent).toBeGreaterThan(4);

    const stranger = tls.connect({ port, host: '127.0.0.1', servername: 'other.test', rejectUnauthorized: false });
    await new Promise((resolve) => stranger.once('error', resolve));
    expect(await metric(running, 'baton_route_requests_total', { route: 'unmatched', class: 'conn' })).toBe(1);
  });

  it('counts a WebSocket as conn once closed, with the bytes of the connection', async () => {
    const web = await startBackend((_req, res) => res.end('not a websocket request'));
    const wss = new WebSocketServer({ server: web.server });
    wss.on('connection', (peer) => peer.on('message', (data, isBinary) => peer.send(data, { binary: isBinary })));
    const running = await startDataPath(tableOf([route('ws.test', [web.address])]));

    const socket = new WebSocket(`ws://127.0.0.1:${running.port}/`, { headers: { host: 'ws.test' } });
    socket.on('error', () => undefined);
    cleanups.push(() => socket.terminate());
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(Buffer.alloc(2000, 1));
    expect(((await new Promise((resolve) => socket.once('message', resolve))) as Buffer).length).toBe(2000);
    socket.close();
    const { received, sent } = await finished(running, '/ws.test:0', 1);
    expect(received).toBeGreaterThan(2000);
    expect(sent).toBeGreaterThan(2000);
  });

  it('counts a UDP flow as active until it is idle, then as conn with its datagram bytes', async () => {
    const echo: UdpSocket = createSocket('udp4');
    echo.on('message', (msg, rinfo) => echo.send(msg, rinfo.port, rinfo.address));
    await new Promise<void>((resolve) => echo.bind(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => echo.close(() => resolve())));
    const port = await freeUdpPort();
    const udp = portRoute('udp', port, [`127.0.0.1:${echo.address().port}`]);
    const running = await startDataPath(tableOf([], [udp]), { udpIdleTimeoutMs: 200 });

    const client = createSocket('udp4');
    cleanups.push(() => new Promise<void>((resolve) => client.close(() => resolve())));
    const replies: Buffer[] = [];
    client.on('message', (msg) => replies.push(msg));
    await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
    for (let i = 0; i < 3; i++) client.send(Buffer.alloc(10, i), port, '127.0.0.1');
    await waitFor(() => replies.length === 3, 'three replies');
    expect(await metric(running, 'baton_route_active', { route: udp.id })).toBe(1);

    const { received, sent } = await finished(running, udp.id, 1);
    expect(received).toBe(30);
    expect(sent).toBe(30);
  });
});
