import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { HttpHandlers } from '../../src/proxy/handlers.js';
import { closeAll, h2Connect, h2Request, route, send, sendRaw, startBackend, startH2cBackend, startProxy, tableOf, type RunningProxy } from './proxy-harness.js';

let dir = '';
let tls: { key: Buffer; cert: Buffer } = { key: Buffer.alloc(0), cert: Buffer.alloc(0) };
const servers: { close(): void; closeAllConnections?(): void }[] = [];

beforeAll(() => {
  // A throwaway self-signed certificate: the handlers only need a real TLS socket.
  dir = mkdtempSync(join(tmpdir(), 'baton-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
  tls = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections?.();
    server.close();
  }
  await closeAll();
});

async function listening(server: https.Server | http2.Http2SecureServer): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** The handlers behind an HTTPS (HTTP/1.1) server, as the HTTPS entry point will serve them. */
async function httpsFor(handlers: HttpHandlers): Promise<number> {
  const server = https.createServer({ ...tls, ServerResponse: handlers.Response }, handlers.request);
  server.on('upgrade', handlers.upgrade);
  return listening(server);
}

/** The handlers behind an h2 (HTTP/2 over TLS) server. */
async function h2sFor(handlers: HttpHandlers): Promise<number> {
  const server = http2.createSecureServer(tls);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => sessions.add(s));
  server.on('stream', handlers.stream);
  const port = await listening(server);
  servers.push({ close: () => sessions.forEach((s) => s.destroy()) });
  return port;
}

function httpsGet(port: number, host: string, path = '/'): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port, path, headers: { host }, rejectUnauthorized: false, agent: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      })
      .on('error', reject);
  });
}

/** A backend that answers with the X-Forwarded-Proto it got, and an HSTS header of its own. */
async function protoEcho(): Promise<{ address: string; hits: () => number }> {
  let hits = 0;
  const backend = await startBackend((req, res) => {
    hits += 1;
    res.setHeader('strict-transport-security', 'max-age=60');
    res.end(String(req.headers['x-forwarded-proto']));
  });
  return { address: backend.address, hits: () => hits };
}

async function proxyWith(address: string): Promise<RunningProxy> {
  return startProxy(
    tableOf([
      route('plain.test', [address]),
      route('hsts.test', [address], { hsts: true }),
      route('secure.test', [address], { redirectToHttps: true, hsts: true }),
    ]),
  );
}

describe('over TLS', () => {
  it('HTTP/1.1: X-Forwarded-Proto is https, HSTS routes get baton’s header, redirect routes are served', async () => {
    const backend = await protoEcho();
    const port = await httpsFor((await proxyWith(backend.address)).handlers);

    const plain = await httpsGet(port, 'plain.test');
    expect(plain.body).toBe('https');
    expect(plain.headers['strict-transport-security']).toBe('max-age=60');
    const hsts = await httpsGet(port, 'hsts.test');
    expect(hsts.headers['strict-transport-security']).toBe('max-age=31536000');
    const secure = await httpsGet(port, 'secure.test', '/x');
    expect([secure.status, secure.body]).toEqual([200, 'https']);
  });

  it('HTTP/2: X-Forwarded-Proto is https and HSTS routes get the header, from HTTP/1.1 and h2c backends', async () => {
    const backend = await protoEcho();
    const grpc = await startH2cBackend((stream, headers) => {
      stream.respond({ ':status': 200 });
      stream.end(String(headers['x-forwarded-proto']));
    });
    const proxy = await startProxy(tableOf([route('hsts.test', [backend.address], { hsts: true }), route('grpc.test', [grpc.address], { hsts: true, backendProtocol: 'h2c' })]));
    const port = await h2sFor(proxy.handlers);
    const session = h2Connect(port, `https://127.0.0.1:${port}`, { rejectUnauthorized: false });

    const hsts = await h2Request(session, { ':authority': 'hsts.test' });
    expect(hsts.body.toString()).toBe('https');
    expect(hsts.headers['strict-transport-security']).toBe('max-age=31536000');
    const h2c = await h2Request(session, { ':authority': 'grpc.test' });
    expect(h2c.body.toString()).toBe('https');
    expect(h2c.headers['strict-transport-security']).toBe('max-age=31536000');
  });

  it('WebSocket: the backend sees X-Forwarded-Proto https', async () => {
    const backend = await startBackend((_req, res) => res.end());
    const protos: (string | undefined)[] = [];
    new WebSocketServer({ server: backend.server }).on('connection', (peer, req) => {
      protos.push(req.headers['x-forwarded-proto'] as string | undefined);
      peer.on('message', (data) => peer.send(data));
    });
    const port = await httpsFor((await startProxy(tableOf([route('ws.test', [backend.address], { redirectToHttps: true })]))).handlers);

    const socket = new WebSocket(`wss://127.0.0.1:${port}/`, { headers: { host: 'ws.test' }, rejectUnauthorized: false });
    const echoed = await new Promise<string>((resolve, reject) => {
      socket.on('open', () => socket.send('over tls'));
      socket.on('message', (data: Buffer) => resolve(data.toString()));
      socket.on('error', reject);
    });
    socket.terminate();
    expect(echoed).toBe('over tls');
    expect(protos).toEqual(['https']);
  });
});

describe('over plain HTTP', () => {
  it('redirects routes marked redirectToHttps with 301, without the port, without a backend', async () => {
    const backend = await protoEcho();
    const proxy = await proxyWith(backend.address);

    const get = await send(proxy.port, { path: '/a/b?c=1', headers: { host: 'Secure.test:8080' } });
    expect(get.status).toBe(301);
    expect(get.headers.location).toBe('https://Secure.test/a/b?c=1');
    const post = await send(proxy.port, { method: 'POST', path: '/form', headers: { host: 'secure.test' }, body: 'x=1' });
    expect([post.status, post.headers.location]).toEqual([301, 'https://secure.test/form']);
    const h2 = await h2Request(h2Connect(proxy.port), { ':authority': 'secure.test', ':path': '/h2' });
    expect([h2.status, h2.headers.location]).toEqual([301, 'https://secure.test/h2']);
    const ws = await sendRaw(proxy.port, 'GET /ws HTTP/1.1\r\nHost: secure.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    expect(ws).toMatch(/^HTTP\/1\.1 301 /);
    expect(ws).toContain('location: https://secure.test/ws\r\n');
    expect(backend.hits()).toBe(0);
  });

  it('never builds a Location from bytes a header may not hold: the parser refuses them first', async () => {
    const backend = await protoEcho();
    const proxy = await proxyWith(backend.address);

    for (const head of ['GET /a\x7fb HTTP/1.1\r\nHost: secure.test', 'GET /a HTTP/1.1\r\nHost: secure.test\x7f']) {
      expect(await sendRaw(proxy.port, `${head}\r\nConnection: close\r\n\r\n`)).toMatch(/^HTTP\/1\.1 400 /);
    }
    expect((await send(proxy.port, { headers: { host: 'secure.test' } })).status).toBe(301);
  });

  it('adds no HSTS header and says http in X-Forwarded-Proto', async () => {
    const backend = await protoEcho();
    const proxy = await proxyWith(backend.address);

    const reply = await send(proxy.port, { headers: { host: 'hsts.test' } });
    expect(reply.body.toString()).toBe('http');
    expect(reply.headers['strict-transport-security']).toBe('max-age=60');
  });
});
