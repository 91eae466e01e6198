/**
 * Every protocol through a whole baton driven by the Marathon simulator: the apps' labels decide
 * how each port is served, and table swaps never cut what is already open.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { makeCert, type TestCert } from '../fixtures/tls/make-certs.js';
import { startBackend, type TestBackend } from '../helpers/backends.js';
import { startSystem, type System } from '../helpers/system.js';
import { waitFor } from '../helpers/wait-for.js';
import { freeTcpPort } from './tcp-harness.js';

let system: System | undefined;
const closers: (() => unknown)[] = [];
let certDir = '';
let siteCert: TestCert;

beforeAll(() => {
  certDir = mkdtempSync(join(tmpdir(), 'baton-certs-'));
  siteCert = makeCert('web.example.com', ['web.example.com']);
  writeFileSync(join(certDir, 'default.pem'), makeCert('default.invalid').pem);
  writeFileSync(join(certDir, 'web.pem'), siteCert.pem);
});
afterAll(() => rmSync(certDir, { recursive: true, force: true }));
afterEach(async () => {
  await system?.close();
  system = undefined;
  for (const close of closers.splice(0).reverse()) await close();
});

async function echoServer(): Promise<{ port: number; sockets: Set<net.Socket> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { port: (server.address() as net.AddressInfo).port, sockets };
}

async function backend(name: string): Promise<TestBackend> {
  const b = await startBackend(name);
  closers.push(() => b.close());
  return b;
}

async function roundTrip(socket: net.Socket, text: string): Promise<string> {
  socket.write(text);
  const [data] = (await once(socket, 'data')) as [Buffer];
  return data.toString();
}

async function listening(s: System, protocol: string, port: number): Promise<void> {
  await waitFor(async () => (await s.admin('/routes')).json.listeners.some((l: { protocol: string; port: number; state: string }) => l.protocol === protocol && l.port === port && l.state === 'listening'), `${protocol} listener on ${port}`);
}

describe('TCP and UDP service ports', () => {
  it('opens a TCP listener for a tcp app, keeps an open connection across swaps, drains it when its backend leaves', async () => {
    const [one, two] = [await echoServer(), await echoServer()];
    const port = await freeTcpPort();
    let first = '';
    const s = (system = await startSystem({
      flags: ['--service-bind', '127.0.0.1'],
      file: { drainMs: 400 },
      before: (sim) => {
        sim.deployApp({ id: '/db', labels: { BATON_0_PROTOCOL: 'tcp', BATON_0_PORT: String(port) } });
        first = sim.startTask('/db', { host: '127.0.0.1', ports: [one.port] });
      },
    }));
    await listening(s, 'tcp', port);
    const client = net.connect(port, '127.0.0.1');
    closers.push(() => client.destroy());
    expect(await roundTrip(client, 'hello')).toBe('hello');

    const version = s.baton.tables.current.version;
    s.sim.startTask('/db', { host: '127.0.0.1', ports: [two.port] });
    await waitFor(() => s.baton.tables.current.version > version, 'swap after the new task');
    expect(await roundTrip(client, 'still there')).toBe('still there');

    const closedAt = once(client, 'close').then(() => performance.now());
    const killedAt = performance.now();
    s.sim.killTask(first);
    await waitFor(() => s.baton.tables.current.portRoutes[0]?.backends.length === 1, 'killed task out of the table');
    expect(await roundTrip(client, 'draining')).toBe('draining');
    expect((await closedAt) - killedAt).toBeGreaterThanOrEqual(350);

    const fresh = net.connect(port, '127.0.0.1');
    closers.push(() => fresh.destroy());
    expect(await roundTrip(fresh, 'new')).toBe('new');
    expect(two.sockets.size).toBe(1);
  });

  it('relays UDP datagrams for an app whose port is udp', async () => {
    const echo = createSocket('udp4');
    echo.on('message', (msg, from) => echo.send(Buffer.concat([Buffer.from('echo:'), msg]), from.port, from.address));
    echo.bind(0, '127.0.0.1');
    await once(echo, 'listening');
    closers.push(() => echo.close());
    const port = await freeTcpPort();
    const s = (system = await startSystem({
      flags: ['--service-bind', '127.0.0.1'],
      before: (sim) => {
        sim.deployApp({ id: '/dns', portDefinitions: [{ port, protocol: 'udp' }] });
        sim.startTask('/dns', { host: '127.0.0.1', ports: [echo.address().port] });
      },
    }));
    await listening(s, 'udp', port);
    const client: UdpSocket = createSocket('udp4');
    closers.push(() => client.close());
    client.send('ping', port, '127.0.0.1');
    const [reply] = (await once(client, 'message')) as [Buffer];
    expect(reply.toString()).toBe('echo:ping');
  });

  it('reports a service port it cannot bind and serves the others', async () => {
    const taken = net.createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    closers.push(() => taken.close());
    const busy = (taken.address() as net.AddressInfo).port;
    const [echo, free] = [await echoServer(), await freeTcpPort()];
    const s = (system = await startSystem({
      flags: ['--service-bind', '127.0.0.1'],
      before: (sim) => {
        sim.deployApp({ id: '/a', labels: { BATON_0_PROTOCOL: 'tcp', BATON_0_PORT: String(busy) } });
        sim.startTask('/a', { host: '127.0.0.1', ports: [echo.port] });
        sim.deployApp({ id: '/b', labels: { BATON_0_PROTOCOL: 'tcp', BATON_0_PORT: String(free) } });
        sim.startTask('/b', { host: '127.0.0.1', ports: [echo.port] });
      },
    }));
    await listening(s, 'tcp', free);
    const routes = (await s.admin('/routes')).json;
    expect(routes.listeners.find((l: { port: number }) => l.port === busy)).toMatchObject({ protocol: 'tcp', state: 'failed', error: expect.stringContaining('EADDRINUSE') });
    expect(await s.metric('baton_listener_errors_total', { protocol: 'tcp' })).toBe(1);
  });
});

describe('HTTPS, HTTP/2, TLS passthrough, WebSocket', () => {
  const withHttps = ['--https', '127.0.0.1:0', '--certs', '', '--service-bind', '127.0.0.1'];
  const flags = () => withHttps.map((f) => (f === '' ? certDir : f));

  it('terminates TLS with the certificate SNI picks and serves HTTP/1.1 and h2 by ALPN', async () => {
    const site = await backend('site');
    const s = (system = await startSystem({
      flags: flags(),
      before: (sim) => {
        sim.deployApp({ id: '/web', labels: { BATON_0_VHOST: 'web.example.com', BATON_0_USE_HSTS: 'true' } });
        sim.startTask('/web', { host: '127.0.0.1', ports: [site.port] });
      },
    }));
    const port = (await s.baton.https)!.port;
    const res = await new Promise<http.IncomingMessage>((resolve, reject) =>
      https.get({ host: '127.0.0.1', port, servername: 'web.example.com', headers: { host: 'web.example.com' }, ca: siteCert.cert }, resolve).on('error', reject),
    );
    res.resume();
    expect(res.statusCode).toBe(200);
    expect(res.headers['strict-transport-security']).toMatch(/max-age=/);
    expect((res.socket as tls.TLSSocket).getPeerCertificate().subject.CN).toBe('web.example.com');
    expect(site.requests.at(-1)?.headers['x-forwarded-proto']).toBe('https');

    const session = http2.connect(`https://127.0.0.1:${port}`, { servername: 'web.example.com', ca: siteCert.cert });
    closers.push(() => session.close());
    const stream = session.request({ ':path': '/h2', ':authority': 'web.example.com' });
    const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
    let body = '';
    for await (const chunk of stream) body += chunk;
    expect(headers[':status']).toBe(200);
    expect(body).toBe('site');
    expect(site.requests.at(-1)?.headers.host).toBe('web.example.com');
  });

  it('passes TLS through undecrypted to the backend SNI names, on the HTTPS port', async () => {
    const backendCert = makeCert('secure.example.com', ['secure.example.com']);
    const tlsBackend = tls.createServer({ cert: backendCert.cert, key: backendCert.key }, (socket) => socket.end('from the backend itself'));
    tlsBackend.listen(0, '127.0.0.1');
    await once(tlsBackend, 'listening');
    closers.push(() => tlsBackend.close());
    const s = (system = await startSystem({
      flags: flags(),
      before: (sim) => {
        sim.deployApp({ id: '/vault', labels: { BATON_0_PROTOCOL: 'tls', BATON_0_VHOST: 'secure.example.com' } });
        sim.startTask('/vault', { host: '127.0.0.1', ports: [(tlsBackend.address() as net.AddressInfo).port] });
      },
    }));
    const port = (await s.baton.https)!.port;
    const client = tls.connect({ host: '127.0.0.1', port, servername: 'secure.example.com', ca: backendCert.cert });
    closers.push(() => client.destroy());
    await once(client, 'secureConnect');
    expect(client.getPeerCertificate().subject.CN).toBe('secure.example.com');
    let text = '';
    for await (const chunk of client) text += chunk;
    expect(text).toBe('from the backend itself');
  });

  it('redirects plain HTTP to https for routes that ask for it', async () => {
    const site = await backend('site');
    const s = (system = await startSystem({
      before: (sim) => {
        sim.deployApp({ id: '/web', labels: { HAPROXY_0_VHOST: 'web.example.com', HAPROXY_0_REDIRECT_TO_HTTPS: 'true' } });
        sim.startTask('/web', { host: '127.0.0.1', ports: [site.port] });
      },
    }));
    const res = await fetch(`http://127.0.0.1:${s.httpPort}/cart?id=1`, { redirect: 'manual', headers: { 'x-test': '1' } }).catch(() => undefined);
    void res;
    const reply = await new Promise<http.IncomingMessage>((resolve) => http.get({ port: s.httpPort, host: '127.0.0.1', path: '/cart?id=1', headers: { host: 'web.example.com:8080' } }, resolve));
    reply.resume();
    expect(reply.statusCode).toBe(301);
    expect(reply.headers.location).toBe('https://web.example.com/cart?id=1');
    expect(site.requests).toHaveLength(0);
  });

  it('serves h2c with prior knowledge next to HTTP/1.1 on the plain port', async () => {
    const site = await backend('site');
    const s = (system = await startSystem({
      before: (sim) => {
        sim.deployApp({ id: '/web' });
        sim.startTask('/web', { host: '127.0.0.1', ports: [site.port] });
      },
    }));
    const session = http2.connect(`http://127.0.0.1:${s.httpPort}`);
    closers.push(() => session.close());
    const stream = session.request({ ':path': '/', ':authority': 'web' });
    let body = '';
    for await (const chunk of stream) body += chunk;
    expect(body).toBe('site');
    expect((await s.get('web')).body).toBe('site');
  });

  it('keeps a WebSocket open across table swaps', async () => {
    const server = http.createServer();
    const wss = new WebSocketServer({ server });
    wss.on('connection', (peer) => peer.on('message', (data) => peer.send(data)));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    closers.push(() => {
      wss.close();
      server.closeAllConnections();
      server.close();
    });
    const other = await backend('other');
    const s = (system = await startSystem({
      before: (sim) => {
        sim.deployApp({ id: '/chat' });
        sim.startTask('/chat', { host: '127.0.0.1', ports: [(server.address() as net.AddressInfo).port] });
      },
    }));
    const socket = new WebSocket(`ws://127.0.0.1:${s.httpPort}/`, { headers: { host: 'chat' } });
    closers.push(() => socket.terminate());
    await once(socket, 'open');
    for (let i = 0; i < 5; i++) {
      const version = s.baton.tables.current.version;
      s.sim.startTask('/chat', { host: '127.0.0.1', ports: [other.port] });
      await waitFor(() => s.baton.tables.current.version > version, 'swap');
      socket.send(`message ${i}`);
      const [data] = (await once(socket, 'message')) as [Buffer];
      expect(data.toString()).toBe(`message ${i}`);
    }
    expect(await s.metric('baton_connections_total', { protocol: 'websocket' })).toBe(1);
  });
});
