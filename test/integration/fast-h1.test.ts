/**
 * The fast HTTP/1.1 path of the plain entry point (src/proxy/fast-h1.ts) and its hand-over to
 * node's server on the same connection. The other proxy-*.test.ts files drive it too (their
 * body-less requests take it); these pin what is particular to it.
 */
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { closeAll, closedAddress, route, sendRaw, startBackend, startProxy, tableOf, waitFor } from './proxy-harness.js';

afterEach(closeAll);

/** A raw client connection that collects what it receives. */
function rawClient(port: number): { socket: net.Socket; text: () => string; closed: () => boolean } {
  const socket = net.connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  let closed = false;
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => undefined);
  socket.on('close', () => (closed = true));
  return { socket, text: () => Buffer.concat(chunks).toString('latin1'), closed: () => closed };
}

function count(text: string, what: string): number {
  return text.split(what).length - 1;
}

async function echoBackend(): Promise<string> {
  const backend = await startBackend((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = `${req.method} ${req.url} xff=${req.headers['x-forwarded-for']} body=${Buffer.concat(chunks).toString()};`;
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) }).end(body);
    });
  });
  return backend.address;
}

describe('HTTP/1.1 fast path', () => {
  it('answers keep-alive requests on one connection as node would, X-Forwarded-For appended', async () => {
    const proxy = await startProxy(tableOf([route('app.test', [await echoBackend()])]));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<net.Socket>();
    try {
      for (const path of ['/one', '/two', '/three']) {
        const reply = await new Promise<{ res: http.IncomingMessage; body: string }>((resolve, reject) => {
          const req = http.get({ port: proxy.port, host: '127.0.0.1', path, agent, headers: { host: 'app.test', 'x-forwarded-for': '10.0.0.1' } }, (res) => {
            let body = '';
            res.setEncoding('latin1');
            res.on('data', (c: string) => (body += c));
            res.on('end', () => resolve({ res, body }));
          });
          req.on('socket', (s: net.Socket) => sockets.add(s));
          req.on('error', reject);
        });
        expect(reply.res.statusCode).toBe(200);
        expect(reply.body).toBe(`GET ${path} xff=10.0.0.1, 127.0.0.1 body=;`);
        expect(reply.res.headers['keep-alive']).toBe('timeout=5');
        expect(reply.res.headers.connection).toBe('keep-alive');
        expect(reply.res.headers.date).toMatch(/GMT$/);
      }
      expect(sockets.size).toBe(1);
    } finally {
      agent.destroy();
    }
  });

  it('answers pipelined requests in order, handing the connection to node at the first request with a body', async () => {
    const proxy = await startProxy(tableOf([route('app.test', [await echoBackend()])]));
    const reply = await sendRaw(
      proxy.port,
      'GET /a HTTP/1.1\r\nHost: app.test\r\n\r\n' +
        'GET /b HTTP/1.1\r\nHost: app.test\r\n\r\n' +
        'POST /c HTTP/1.1\r\nHost: app.test\r\nContent-Length: 5\r\n\r\nhello' +
        'GET /d HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n',
    );
    const bodies = [...reply.matchAll(/(GET|POST) \/(\w) xff=127\.0\.0\.1 body=(\w*);/g)].map((m) => `${m[2]}:${m[3]}`);
    expect(bodies).toEqual(['a:', 'b:', 'c:hello', 'd:']);
    expect(count(reply, 'HTTP/1.1 200 OK')).toBe(4);
  });

  it('refuses Content-Length with Transfer-Encoding (request smuggling) with 400 after fast requests', async () => {
    const proxy = await startProxy(tableOf([route('app.test', [await echoBackend()])]));
    const reply = await sendRaw(
      proxy.port,
      'GET /a HTTP/1.1\r\nHost: app.test\r\n\r\n' +
        'GET /b HTTP/1.1\r\nHost: app.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: app.test\r\n\r\n',
    );
    expect(reply).toContain('GET /a xff');
    expect(reply).toContain('HTTP/1.1 400 ');
    expect(reply).not.toContain('/smuggled');
  });

  it('closes the connection after a response to Connection: close', async () => {
    const proxy = await startProxy(tableOf([route('app.test', [await echoBackend()])]));
    const reply = await sendRaw(proxy.port, 'GET /a HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(reply).toContain('\r\nConnection: close\r\n');
    expect(reply).toContain('GET /a xff');
  });

  it('frames a response without Content-Length as chunked, and sends no body for HEAD', async () => {
    const backend = await startBackend((_req, res) => {
      res.write('part one, ');
      res.end('part two');
    });
    const proxy = await startProxy(tableOf([route('app.test', [backend.address])]));
    const client = rawClient(proxy.port);
    client.socket.write('GET / HTTP/1.1\r\nHost: app.test\r\n\r\n');
    await waitFor(() => client.text().endsWith('0\r\n\r\n'));
    expect(client.text()).toContain('Transfer-Encoding: chunked\r\n');
    const chunked = client.text().split('\r\n\r\n').slice(1).join('\r\n\r\n');
    const decoded = chunked.replace(/([0-9a-f]+)\r\n([^]*?)\r\n/g, (_m, _size: string, data: string) => data);
    expect(decoded).toBe('part one, part two0\r\n\r\n'.replace('0\r\n\r\n', ''));

    const before = client.text().length;
    client.socket.write('HEAD / HTTP/1.1\r\nHost: app.test\r\n\r\nGET / HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n');
    await waitFor(() => client.closed());
    const rest = client.text().slice(before);
    // The HEAD answer is a head alone: the next thing on the wire is the GET's response.
    expect(rest).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*?\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    expect(rest.split('\r\n\r\n')[0]).not.toContain('Transfer-Encoding');
  });

  it('answers a failed backend with 502 and keeps the connection for the next request', async () => {
    const good = await echoBackend();
    const table = tableOf([route('app.test', [await closedAddress()])]);
    const proxy = await startProxy(table);
    const client = rawClient(proxy.port);
    client.socket.write('GET /x HTTP/1.1\r\nHost: app.test\r\n\r\n');
    await waitFor(() => client.text().includes('\r\n\r\n'));
    await waitFor(() => /content-length: (\d+)\r\n[^]*\r\n\r\n/.test(client.text()) && client.text().endsWith('\n'));
    expect(client.text()).toMatch(/^HTTP\/1\.1 502 Bad Gateway\r\n/);
    expect(client.text()).toContain('x-baton-error: upstream-connect\r\n');
    expect(await proxy.errors('upstream-connect')).toBe(1);

    table.current = tableOf([route('app.test', [good])]).current;
    client.socket.write('GET /y HTTP/1.1\r\nHost: app.test\r\n\r\n');
    await waitFor(() => client.text().includes('GET /y xff'));
    expect(client.closed()).toBe(false);
    client.socket.destroy();
  });

  it('tells clients Connection: close while draining, and closes idle connections at the keep-alive timeout', async () => {
    const proxy = await startProxy(tableOf([route('app.test', [await echoBackend()])]), { limits: { keepAliveTimeoutMs: 1000 } });
    const draining = rawClient(proxy.port);
    const idle = rawClient(proxy.port);
    draining.socket.write('GET /a HTTP/1.1\r\nHost: app.test\r\n\r\n');
    idle.socket.write('GET /b HTTP/1.1\r\nHost: app.test\r\n\r\n');
    await waitFor(() => draining.text().includes('GET /a xff') && idle.text().includes('GET /b xff'));
    expect(draining.text()).toContain('Connection: keep-alive\r\n');

    proxy.server.close();
    draining.socket.write('GET /c HTTP/1.1\r\nHost: app.test\r\n\r\n');
    await waitFor(() => draining.closed());
    const last = draining.text().split('GET /a xff')[1] ?? '';
    expect(last).toContain('GET /c xff');
    expect(last).toContain('Connection: close\r\n');
    // The idle one ends at its keep-alive timeout.
    await waitFor(() => idle.closed());
  });

  it('records fast requests in the route metrics', async () => {
    const proxy = await startProxy(tableOf([route('app.test', [await echoBackend()])]));
    await sendRaw(proxy.port, 'GET /a HTTP/1.1\r\nHost: app.test\r\n\r\nGET /b HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n');
    const stats = proxy.metrics.routeStats.of('/app.test:0');
    expect(stats.active).toBe(0);
    expect(stats.requests.reduce((a, b) => a + b, 0)).toBe(2);
    // Two echo bodies went out.
    expect(stats.bytesOut).toBe(2 * 'GET /a xff=127.0.0.1 body=;'.length);
  });
});
