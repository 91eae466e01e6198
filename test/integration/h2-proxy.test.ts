import { randomBytes } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import {
  closeAll,
  closedAddress,
  h2Connect,
  h2Request,
  route,
  sha256,
  startBackend,
  startProxy,
  startRawBackend,
  tableOf,
  waitFor,
} from './proxy-harness.js';

afterEach(closeAll);

const { NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR } = http2.constants;

describe('HTTP/2 clients to HTTP/1.1 backends', () => {
  it('routes by :authority, which the backend gets as Host, with method, path, query and status', async () => {
    let seen: http.IncomingHttpHeaders = {};
    const backend = await startBackend((req, res) => {
      seen = req.headers;
      res.writeHead(201, { 'x-echo': `${req.method} ${req.url}`, 'set-cookie': ['a=1', 'b=2'] });
      res.end();
    });
    const other = await startBackend((_req, res) => res.end('other'));
    const proxy = await startProxy(tableOf([route('app.test', [backend.address]), route('other.test', [other.address])]));
    const session = h2Connect(proxy.port);

    const reply = await h2Request(session, { ':method': 'PUT', ':authority': 'App.Test:8080', ':path': '/a/b?c=1', 'x-forwarded-proto': 'https' }, 'x');
    expect(reply.status).toBe(201);
    expect(reply.headers['x-echo']).toBe('PUT /a/b?c=1');
    expect(reply.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(seen.host).toBe('App.Test:8080');
    expect(seen['x-forwarded-host']).toBe('App.Test:8080');
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen['x-forwarded-proto']).toBe('http');
    expect((await h2Request(session, { ':authority': 'other.test' })).body.toString()).toBe('other');
  });

  it('uses the host header when the request has no :authority', async () => {
    let host: string | undefined;
    const backend = await startBackend((req, res) => {
      host = req.headers.host;
      res.end('ok');
    });
    const proxy = await startProxy(tableOf([route('app.test', [backend.address])]));

    // node's client sends a host header instead of :authority when given one.
    const reply = await h2Request(h2Connect(proxy.port), { host: 'app.test' });
    expect(reply.body.toString()).toBe('ok');
    expect(host).toBe('app.test');
  });

  it('carries request and response bodies of several MiB intact', async () => {
    const download = randomBytes(6 * 1024 * 1024 + 5);
    const backend = await startBackend((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.writeHead(200, { 'x-received-sha': sha256(Buffer.concat(chunks)), 'x-received-length': Buffer.concat(chunks).length });
        // No Content-Length: the backend sends it chunked.
        for (let offset = 0; offset < download.length; offset += 1024 * 1024) res.write(download.subarray(offset, offset + 1024 * 1024));
        res.end();
      });
    });
    const proxy = await startProxy(tableOf([route('app.test', [backend.address])]));
    const upload = randomBytes(5 * 1024 * 1024 + 3);

    const reply = await h2Request(h2Connect(proxy.port), { ':method': 'POST', ':authority': 'app.test' }, upload);
    expect(reply.headers['x-received-length']).toBe(String(upload.length));
    expect(reply.headers['x-received-sha']).toBe(sha256(upload));
    expect(reply.body.length).toBe(download.length);
    expect(sha256(reply.body)).toBe(sha256(download));
  });

  it('strips Keep-Alive, Transfer-Encoding, Connection and what it names from a backend response', async () => {
    const backend = await startRawBackend(
      'HTTP/1.1 200 OK\r\nConnection: close, X-Hop\r\nKeep-Alive: timeout=5, max=100\r\nTransfer-Encoding: chunked\r\n' +
        'Proxy-Connection: keep-alive\r\nUpgrade: h2c\r\nX-Hop: 1\r\nX-Kept: yes\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n',
    );
    const proxy = await startProxy(tableOf([route('app.test', [backend])]));
    const session = h2Connect(proxy.port);

    const reply = await h2Request(session, { ':authority': 'app.test' });
    expect(reply.status).toBe(200);
    expect(reply.body.toString()).toBe('hello world');
    expect(reply.headers['x-kept']).toBe('yes');
    for (const hop of ['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade', 'x-hop']) expect(reply.headers[hop]).toBeUndefined();
    // The session is still good for more.
    expect((await h2Request(session, { ':authority': 'app.test' })).body.toString()).toBe('hello world');
  });

  it('answers 502 upstream-protocol for a backend response HTTP/2 cannot carry, and nothing of it passes', async () => {
    const backend = await startRawBackend('HTTP/1.1 200 OK\r\nContent-Type: text/a\r\nContent-Type: text/b\r\nContent-Length: 6\r\n\r\nsecret');
    const proxy = await startProxy(tableOf([route('app.test', [backend])]));

    const reply = await h2Request(h2Connect(proxy.port), { ':authority': 'app.test' });
    expect(reply.status).toBe(502);
    expect(reply.headers['x-baton-error']).toBe('upstream-protocol');
    expect(reply.body.toString()).not.toContain('secret');
    expect(await proxy.errors('upstream-protocol')).toBe(1);
  });

  it('answers HEAD and 204 without a body', async () => {
    const backend = await startBackend((req, res) => {
      if (req.url === '/empty') res.writeHead(204).end();
      else res.writeHead(200, { 'content-length': 1234 }).end(req.method === 'HEAD' ? undefined : 'x'.repeat(1234));
    });
    const proxy = await startProxy(tableOf([route('app.test', [backend.address])]));
    const session = h2Connect(proxy.port);

    const head = await h2Request(session, { ':method': 'HEAD', ':authority': 'app.test' });
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe('1234');
    expect(head.body.length).toBe(0);
    const empty = await h2Request(session, { ':authority': 'app.test', ':path': '/empty' });
    expect(empty.status).toBe(204);
  });

  it('applies backpressure: a client that does not read stalls the backend, and resumes it', async () => {
    const total = 64 * 1024 * 1024;
    const chunk = randomBytes(64 * 1024);
    let written = 0;
    let blocked = false;
    const backend = await startBackend((_req, res) => {
      res.writeHead(200, { 'content-length': total });
      const pump = (): void => {
        while (written < total) {
          written += chunk.length;
          if (!res.write(chunk)) {
            blocked = true;
            res.once('drain', () => {
              blocked = false;
              pump();
            });
            return;
          }
        }
        res.end();
      };
      pump();
    });
    const proxy = await startProxy(tableOf([route('app.test', [backend.address])]));
    const stream = h2Connect(proxy.port).request({ ':path': '/', ':authority': 'app.test' });
    stream.pause();
    let received = 0;
    const done = new Promise<void>((resolve, reject) => {
      stream.on('data', (c: Buffer) => (received += c.length));
      stream.on('end', resolve);
      stream.on('error', reject);
    });

    let last = -1;
    let still = 0;
    await waitFor(() => {
      still = blocked && written === last ? still + 1 : 0;
      last = written;
      return still >= 20;
    }, 'the backend to stop writing (backpressure)', 10_000, 10);
    expect(written).toBeLessThan(total / 2);

    stream.resume();
    await done;
    expect(received).toBe(total);
  });
});

describe('HTTP/2 clients: errors', () => {
  it('answers the HTTP/1.1 error codes on the stream', async () => {
    const proxy = await startProxy(
      tableOf([route('empty.test', []), route('down.test', [await closedAddress()]), route('slow.test', [(await startBackend(() => undefined)).address])]),
      { upstream: { headersTimeoutMs: 200 } },
    );
    const session = h2Connect(proxy.port);

    const cases = [
      ['nowhere.test', 404, 'no-route'],
      ['empty.test', 503, 'no-healthy-backend'],
      ['down.test', 502, 'upstream-connect'],
      ['slow.test', 504, 'upstream-timeout'],
    ] as const;
    for (const [host, status, code] of cases) {
      const reply = await h2Request(session, { ':authority': host });
      expect([host, reply.status, reply.headers['x-baton-error']]).toEqual([host, status, code]);
      expect(reply.headers['content-type']).toMatch(/^text\/plain/);
      expect(await proxy.errors(code)).toBe(1);
    }
    const post = await h2Request(session, { ':method': 'POST', ':authority': 'down.test' }, Buffer.alloc(100_000));
    expect(post.status).toBe(502);
  });

  it('answers CONNECT with 501 upgrade-not-supported', async () => {
    const proxy = await startProxy(tableOf([]));
    const session = h2Connect(proxy.port);

    const reply = await h2Request(session, { ':method': 'CONNECT', ':authority': 'example.test:443' } as http2.OutgoingHttpHeaders);
    expect(reply.status).toBe(501);
    expect(reply.headers['x-baton-error']).toBe('upgrade-not-supported');
  });

  it('resets the stream when the backend fails after the response began', async () => {
    const backend = await startBackend((_req, res) => {
      res.writeHead(200, { 'content-length': 100_000 });
      res.write('partial', () => res.socket?.destroy());
    });
    const proxy = await startProxy(tableOf([route('app.test', [backend.address])]));

    const failure = await h2Request(h2Connect(proxy.port), { ':authority': 'app.test' }).then(
      () => undefined,
      (err: { rstCode?: number }) => err,
    );
    expect(failure?.rstCode).toBe(NGHTTP2_INTERNAL_ERROR);
    expect(await proxy.errors('upstream-reset')).toBe(1);
  });

  it('aborts the backend request when the client resets its stream, before or during the response', async () => {
    const closed: string[] = [];
    const backend = await startBackend((req, res) => {
      res.on('close', () => closed.push(req.url ?? ''));
      if (req.url === '/streaming') {
        res.writeHead(200);
        res.write('first');
      }
    });
    const proxy = await startProxy(tableOf([route('app.test', [backend.address])]));
    const session = h2Connect(proxy.port);

    const waiting = session.request({ ':path': '/waiting', ':authority': 'app.test' });
    waiting.on('error', () => undefined);
    const streaming = session.request({ ':path': '/streaming', ':authority': 'app.test' });
    streaming.on('error', () => undefined);
    await new Promise((resolve) => streaming.once('data', resolve));
    await waitFor(() => backend.server.listenerCount('request') > 0 && closed.length === 0);

    // Any code: node reports resets other than CANCEL as stream errors, which must not crash baton.
    waiting.close(NGHTTP2_INTERNAL_ERROR);
    streaming.close(NGHTTP2_CANCEL);
    await waitFor(() => closed.length === 2);
    expect(closed.sort()).toEqual(['/streaming', '/waiting']);
    // The session survives its streams.
    expect(session.closed).toBe(false);
  });
});
