import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { ServerResponse, type IncomingMessage } from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls, { type TLSSocket } from 'node:tls';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import type { HttpHandlers } from '../../src/proxy/handlers.js';
import { createHttpsEntry, type HttpsEntry, type HttpsLimits } from '../../src/proxy/https.js';
import { CertStore } from '../../src/proxy/tls/cert-store.js';
import type { Backend, RoutingTable, TableSource, TlsRoute } from '../../src/routing/types.js';
import { UpstreamRegistry } from '../../src/upstream/registry.js';
import { makeCert } from '../fixtures/tls/make-certs.js';
import { waitFor } from '../helpers/wait-for.js';
import { freeTcpPort } from './tcp-harness.js';

const siteCert = makeCert('site', ['site.test', '*.site.test']);
const defaultCert = makeCert('default');
const backendCert = makeCert('backend-own', ['pass.test']);
const logger = pino({ level: 'silent' });

class TestResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {}

/** Handlers that answer with what they saw, so a test can tell which path a request took. */
const handlers: HttpHandlers = {
  Response: TestResponse,
  request(req, res) {
    const encrypted = (req.socket as TLSSocket).encrypted === true;
    res.end(`h1 ${req.headers.host} encrypted=${encrypted} response=${res instanceof TestResponse}`);
  },
  stream(stream, headers) {
    const encrypted = (stream.session?.socket as TLSSocket | undefined)?.encrypted === true;
    stream.respond({ ':status': 200 });
    stream.end(`h2 ${headers[':authority']} encrypted=${encrypted}`);
  },
  upgrade(req, socket) {
    socket.end(`HTTP/1.1 101 Switching Protocols\r\nupgrade: test\r\nconnection: upgrade\r\n\r\nupgraded ${req.headers.upgrade}`);
  },
};

function backendOf(port: number, i = 0): Backend {
  return { address: `127.0.0.1:${port}`, host: '127.0.0.1', port, taskId: `t${i}`, appId: '/pass', id: `id-${i}`, weight: 1 };
}

function tlsRoute(host: string, backends: Backend[], port?: number): TlsRoute {
  return { id: `/${host}:0`, appIds: ['/pass'], hosts: [host], ...(port !== undefined && { port }), backends, policy: { balance: 'roundrobin', sticky: false }, status: [], cursor: 0 };
}

/** A table with only TLS routes, matched exactly (any case) on name and port. */
function tableOf(routes: TlsRoute[]): TableSource {
  const table: RoutingTable = {
    version: 1,
    builtAt: Date.now(),
    routes: [],
    portRoutes: [],
    tlsRoutes: routes,
    disabled: [],
    certificates: [],
    lookupHttp: () => undefined,
    lookupPort: () => undefined,
    lookupTls: (name, port) => routes.find((r) => r.hosts.includes(name.toLowerCase()) && r.port === port),
  };
  return { current: table };
}

/** A TLS backend with its own certificate: answers `backend <n>: <what it received>` on each chunk. */
async function startTlsBackend(name: string): Promise<{ server: tls.Server; port: number }> {
  const server = tls.createServer({ cert: backendCert.cert, key: backendCert.key }, (socket) => {
    socket.on('data', (chunk: Buffer) => socket.write(`${name}: ${chunk.toString()}`));
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

/**
 * A raw TCP backend (no TLS at all) that records every byte of each connection; when the client
 * half-closes it answers `bye` and ends.
 */
async function startRawBackend(): Promise<{ port: number; connections: { bytes: Buffer; socket: net.Socket; ended: boolean }[] }> {
  const connections: { bytes: Buffer; socket: net.Socket; ended: boolean }[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    const connection = { bytes: Buffer.alloc(0), socket, ended: false };
    connections.push(connection);
    socket.on('data', (chunk: Buffer) => (connection.bytes = Buffer.concat([connection.bytes, chunk])));
    socket.on('end', () => {
      connection.ended = true;
      socket.end('bye');
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    for (const c of connections) c.socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port: (server.address() as AddressInfo).port, connections };
}

/** The counter's value for these labels (summed over the labels not given). */
async function counter(metrics: Metrics, name: 'connections' | 'connectionErrors', labels: Record<string, string>): Promise<number> {
  const { values } = await metrics[name].get();
  const labelsOf = (v: (typeof values)[number]) => v.labels as Record<string, string | number | undefined>;
  return values.filter((v) => Object.entries(labels).every(([k, val]) => labelsOf(v)[k] === val)).reduce((sum, v) => sum + v.value, 0);
}

/** Resolves once the server has closed `socket` (end or reset); collects what it sent first. */
function closedBy(socket: net.Socket): Promise<string> {
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
  socket.on('error', () => {});
  return new Promise((resolve) => socket.once('close', () => resolve(received)));
}

interface Harness {
  entry: HttpsEntry;
  port: number;
  metrics: Metrics;
}

const limits: HttpsLimits = { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, maxHeaderSize: 16_384, keepAliveTimeoutMs: 5000 };

let certDir: string;
let certs: CertStore;
let backendA: { server: tls.Server; port: number };
let backendB: { server: tls.Server; port: number };
const cleanups: (() => void | Promise<void>)[] = [];

beforeAll(async () => {
  certDir = mkdtempSync(join(tmpdir(), 'baton-https-'));
  writeFileSync(join(certDir, 'default.pem'), defaultCert.pem);
  writeFileSync(join(certDir, 'site.pem'), siteCert.pem);
  certs = new CertStore({ dir: certDir, logger });
  await certs.start();
  backendA = await startTlsBackend('A');
  backendB = await startTlsBackend('B');
});

afterAll(async () => {
  certs.close();
  backendA.server.close();
  backendB.server.close();
  rmSync(certDir, { recursive: true, force: true });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface EntryOptions {
  readonly limits?: Partial<HttpsLimits>;
  readonly registry?: UpstreamRegistry;
  readonly certs?: CertStore;
}

async function startEntry(routes: TlsRoute[], options: EntryOptions = {}): Promise<Harness> {
  const metrics = createMetrics();
  const registry = options.registry ?? new UpstreamRegistry({ logger, metrics });
  if (options.registry === undefined) cleanups.push(() => registry.close());
  const entry = createHttpsEntry({
    tables: tableOf(routes),
    certs: options.certs ?? certs,
    handlers,
    metrics,
    logger,
    limits: { ...limits, ...options.limits },
    connectTimeoutMs: 2000,
    registry,
  });
  const sockets = new Set<net.Socket>();
  entry.server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => entry.server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    entry.close();
    for (const socket of sockets) socket.destroy();
    if (entry.server.listening) await once(entry.server, 'close');
  });
  return { entry, port: (entry.server.address() as AddressInfo).port, metrics };
}

function track<T extends { destroy(): void } | { close(): void }>(client: T): T {
  cleanups.push(() => ('destroy' in client ? client.destroy() : client.close()));
  return client;
}

/** Connects with TLS and resolves once the handshake is done. */
async function tlsConnect(options: tls.ConnectionOptions): Promise<TLSSocket> {
  const socket = track(tls.connect({ host: '127.0.0.1', rejectUnauthorized: false, ...options }));
  await once(socket, 'secureConnect');
  return socket;
}

function peerCN(socket: TLSSocket): string {
  return String(socket.getPeerCertificate().subject.CN);
}

async function readUntil(socket: net.Socket, pattern: RegExp): Promise<string> {
  let received = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      received += chunk.toString();
      if (pattern.test(received)) {
        socket.off('data', onData);
        resolve(received);
      }
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`closed before ${pattern} (got ${JSON.stringify(received)})`)));
  });
}

describe('HTTPS entry: TLS termination', () => {
  it('serves HTTP/2 by ALPN h2 through handlers.stream, with the SNI certificate', async () => {
    const { port, metrics } = await startEntry([]);
    const session = track(http2.connect(`https://127.0.0.1:${port}`, { servername: 'www.site.test', rejectUnauthorized: false }));
    const [, socket] = (await once(session, 'connect')) as [unknown, TLSSocket];
    expect(socket.alpnProtocol).toBe('h2');
    expect(peerCN(socket)).toBe('site');
    const stream = session.request({ ':path': '/x', ':authority': 'www.site.test' });
    let body = '';
    stream.on('data', (chunk: Buffer) => (body += chunk.toString()));
    await once(stream, 'end');
    expect(body).toBe('h2 www.site.test encrypted=true');
    expect(await counter(metrics, 'connections', { protocol: 'tls' })).toBe(1);
  });

  it('serves HTTP/1.1 through handlers.request with the handlers Response class', async () => {
    const { port } = await startEntry([]);
    const { body, cn } = await new Promise<{ body: string; cn: string }>((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port, servername: 'site.test', headers: { host: 'site.test' }, rejectUnauthorized: false, agent: false }, (res) => {
        const cn = peerCN(res.socket as TLSSocket);
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ body, cn }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(cn).toBe('site');
    expect(body).toBe('h1 site.test encrypted=true response=true');
  });

  it('hands HTTP/1.1 upgrades to handlers.upgrade', async () => {
    const { port } = await startEntry([]);
    const socket = await tlsConnect({ port, servername: 'site.test', ALPNProtocols: ['http/1.1'] });
    socket.write('GET /ws HTTP/1.1\r\nHost: site.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    expect(await readUntil(socket, /upgraded websocket/)).toMatch(/^HTTP\/1.1 101/);
  });

  it('serves a client without SNI with the default certificate', async () => {
    const { port, metrics } = await startEntry([]);
    const socket = await tlsConnect({ port });
    expect(socket.servername).toBeFalsy();
    expect(peerCN(socket)).toBe('default');
    socket.write('GET / HTTP/1.1\r\nHost: nosni.test\r\n\r\n');
    expect(await readUntil(socket, /encrypted=true/)).toContain('h1 nosni.test');
    expect(await counter(metrics, 'connectionErrors', { protocol: 'tls' })).toBe(0);
  });

  it('follows a changed default certificate for clients without SNI', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'baton-https-default-'));
    const store = new CertStore({ dir, logger });
    cleanups.push(() => {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    });
    writeFileSync(join(dir, 'default.pem'), defaultCert.pem);
    await store.start();
    const { port } = await startEntry([], { certs: store });
    expect(peerCN(await tlsConnect({ port }))).toBe('default');
    writeFileSync(join(dir, 'default.pem'), siteCert.pem);
    await store.reload();
    expect(peerCN(await tlsConnect({ port }))).toBe('site');
  });

  it('closes an idle HTTP/2 session after the keep-alive timeout, with a GOAWAY', async () => {
    const { port } = await startEntry([], { limits: { keepAliveTimeoutMs: 200 } });
    const session = track(http2.connect(`https://127.0.0.1:${port}`, { servername: 'site.test', rejectUnauthorized: false }));
    const goaway = once(session, 'goaway');
    await once(session, 'connect');
    await goaway;
    await waitFor(() => session.closed || session.destroyed, 'the session to close');
  });

  it('serves an unknown name with the default certificate', async () => {
    const { port } = await startEntry([]);
    const socket = await tlsConnect({ port, servername: 'unknown.test' });
    expect(peerCN(socket)).toBe('default');
  });

  it('closes garbage and plain HTTP, counts them, and keeps serving', async () => {
    const { port, metrics } = await startEntry([]);
    for (const garbage of ['GET / HTTP/1.1\r\nHost: a\r\n\r\n', '\x16\x09\x09\x00\x05hello', '\x80\x2e\x01\x03\x01 sslv2']) {
      const socket = track(net.connect(port, '127.0.0.1'));
      const closed = closedBy(socket);
      socket.write(Buffer.from(garbage, 'latin1'));
      expect(await closed).toBe('');
    }
    expect(await counter(metrics, 'connectionErrors', { protocol: 'tls', reason: 'invalid-hello' })).toBe(3);
    const socket = await tlsConnect({ port, servername: 'site.test' });
    expect(peerCN(socket)).toBe('site');
  });

  it('counts a failed handshake after a well-formed ClientHello', async () => {
    const { port, metrics } = await startEntry([]);
    const hello = await captureHello('site.test');
    // Claim SSL 3.0 in the ClientHello body: readable by the SNI peek, refused by the handshake.
    hello.writeUInt16BE(0x0300, 9);
    const socket = track(net.connect(port, '127.0.0.1'));
    const closed = closedBy(socket);
    socket.write(hello);
    await closed;
    await waitFor(async () => (await counter(metrics, 'connectionErrors', { protocol: 'tls', reason: 'handshake' })) === 1, 'the handshake error to be counted');
  });

  it('closes a client that never completes its ClientHello within the headers timeout', async () => {
    const { port, metrics } = await startEntry([], { limits: { headersTimeoutMs: 300 } });
    const hello = await captureHello('site.test');
    const socket = track(net.connect(port, '127.0.0.1'));
    const closed = closedBy(socket);
    socket.write(hello.subarray(0, 20));
    await closed;
    expect(await counter(metrics, 'connectionErrors', { protocol: 'tls', reason: 'hello-timeout' })).toBe(1);
  });

  it('answers 408 to HTTP/1.1 request headers that do not finish in time over TLS', async () => {
    const { port } = await startEntry([], { limits: { headersTimeoutMs: 500, requestTimeoutMs: 1000 } });
    const socket = await tlsConnect({ port, servername: 'site.test', ALPNProtocols: ['http/1.1'] });
    const closed = closedBy(socket);
    socket.write('GET / HTTP/1.1\r\nHost: site.test\r\n');
    const response = await closed;
    expect(response).toMatch(/^HTTP\/1.1 408/);
    expect(response).toContain('x-baton-error: request-timeout');
  });
});

describe('HTTPS entry: TLS passthrough by SNI', () => {
  it('passes a connection for a passthrough name to its backend untouched', async () => {
    const { port, metrics } = await startEntry([tlsRoute('pass.test', [backendOf(backendA.port)])]);
    const socket = await tlsConnect({ port, servername: 'Pass.Test', ALPNProtocols: ['h2', 'http/1.1'] });
    // The backend's own certificate: baton did not terminate TLS.
    expect(peerCN(socket)).toBe('backend-own');
    socket.write('ping');
    expect(await readUntil(socket, /A: ping/)).toBe('A: ping');
    expect(await counter(metrics, 'connections', { protocol: 'tls-passthrough' })).toBe(1);
    expect(await counter(metrics, 'connections', { protocol: 'tls' })).toBe(0);
  });

  it('balances round robin and replaces a backend that refuses', async () => {
    const refused = await freeTcpPort();
    const { port, metrics } = await startEntry([tlsRoute('pass.test', [backendOf(backendA.port, 0), backendOf(refused, 1), backendOf(backendB.port, 2)])]);
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      const socket = await tlsConnect({ port, servername: 'pass.test' });
      socket.write('who');
      seen.push((await readUntil(socket, /: who/)).slice(0, 1));
      socket.destroy();
    }
    expect(seen).toHaveLength(3);
    expect(new Set(seen)).toEqual(new Set(['A', 'B']));
    expect(await counter(metrics, 'connections', { protocol: 'tls-passthrough' })).toBe(3);
  });

  it('closes and counts when every backend refuses, or the route has none', async () => {
    const refused = await freeTcpPort();
    const { port, metrics } = await startEntry([tlsRoute('pass.test', [backendOf(refused)]), tlsRoute('empty.test', [])]);
    for (const servername of ['pass.test', 'empty.test']) {
      await closedBy(track(tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false })));
    }
    expect(await counter(metrics, 'connectionErrors', { protocol: 'tls', reason: 'upstream-connect' })).toBe(1);
    expect(await counter(metrics, 'connectionErrors', { protocol: 'tls', reason: 'no-healthy-backend' })).toBe(1);
  });

  it('forwards the hello and whatever followed it byte for byte, and passes a half-close', async () => {
    const backend = await startRawBackend();
    const { port } = await startEntry([tlsRoute('pass.test', [backendOf(backend.port)])]);
    const hello = await captureHello('pass.test');
    const client = track(net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }));
    const closed = closedBy(client);
    // The hello and more bytes in one write, then more bytes, then a half-close.
    client.write(Buffer.concat([hello, Buffer.from('early')]));
    await waitFor(() => backend.connections[0], 'the backend connection');
    client.write('-later');
    client.end();
    // The backend saw the end, and its reply after it still reached the client.
    expect(await closed).toBe('bye');
    expect(backend.connections[0]?.ended).toBe(true);
    expect(backend.connections[0]?.bytes.equals(Buffer.concat([hello, Buffer.from('early-later')]))).toBe(true);
  });

  it('lets the backend registry drain a passthrough connection when its backend leaves', async () => {
    const backend = await startRawBackend();
    const registry = new UpstreamRegistry({ drainMs: 50, logger, metrics: createMetrics() });
    cleanups.push(() => registry.close());
    const { port } = await startEntry([tlsRoute('pass.test', [backendOf(backend.port)])], { registry });
    const client = track(net.connect({ port, host: '127.0.0.1' }));
    client.on('error', () => {});
    client.write(await captureHello('pass.test'));
    const upstream = await waitFor(() => backend.connections[0]?.socket, 'the backend connection');
    let backendClosed = false;
    upstream.once('close', () => (backendClosed = true));
    registry.retain(new Map());
    await waitFor(() => backendClosed, 'the drained connection to close at the backend');
  });

  it('terminates names that have no passthrough route', async () => {
    const { port } = await startEntry([tlsRoute('pass.test', [backendOf(backendA.port)])]);
    const socket = await tlsConnect({ port, servername: 'site.test' });
    expect(peerCN(socket)).toBe('site');
  });
});

describe('TLS passthrough on its own port', () => {
  async function ownPort(routesFor: (ownPort: number) => TlsRoute[]): Promise<{ port: number; metrics: Metrics }> {
    // As the service-port listener manager builds its servers.
    const listener = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const port = (listener.address() as AddressInfo).port;
    const { entry, metrics } = await startEntry(routesFor(port));
    const sockets = new Set<net.Socket>();
    listener.on('connection', (socket: net.Socket) => {
      sockets.add(socket);
      entry.onOwnPortConnection(socket, port);
    });
    cleanups.push(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    });
    return { port, metrics };
  }

  it('routes by SNI among the routes of that port', async () => {
    const { port } = await ownPort((p) => [tlsRoute('pass.test', [backendOf(backendB.port)], p), tlsRoute('other.test', [backendOf(backendA.port)])]);
    const socket = await tlsConnect({ port, servername: 'pass.test' });
    expect(peerCN(socket)).toBe('backend-own');
    socket.write('own');
    expect(await readUntil(socket, /B: own/)).toBe('B: own');
  });

  it('closes and counts a hello without SNI, or with a name not routed on that port', async () => {
    // other.test lives on the HTTPS entry point, not on this port.
    const { port, metrics } = await ownPort((p) => [tlsRoute('pass.test', [backendOf(backendB.port)], p), tlsRoute('other.test', [backendOf(backendA.port)])]);
    for (const servername of [undefined, 'other.test']) {
      await closedBy(track(tls.connect({ host: '127.0.0.1', port, ...(servername && { servername }), rejectUnauthorized: false })));
    }
    expect(await counter(metrics, 'connectionErrors', { protocol: 'tls', reason: 'no-sni' })).toBe(1);
    expect(await counter(metrics, 'connectionErrors', { protocol: 'tls', reason: 'no-route' })).toBe(1);
  });
});

/** The ClientHello a real client sends for `servername` (one record). */
async function captureHello(servername: string): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const captured = new Promise<Buffer>((resolve) => {
    server.once('connection', (socket) => {
      let bytes = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        bytes = Buffer.concat([bytes, chunk]);
        if (bytes.length >= 5 && bytes.length >= 5 + bytes.readUInt16BE(3)) {
          socket.destroy();
          resolve(bytes.subarray(0, 5 + bytes.readUInt16BE(3)));
        }
      });
    });
  });
  const client = tls.connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, servername });
  client.on('error', () => {});
  const hello = await captured;
  client.destroy();
  server.close();
  return Buffer.from(hello);
}
