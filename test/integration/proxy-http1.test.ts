import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { closeAll, route, send, sendRaw, sha256, startBackend, startProxy, tableOf, waitFor } from './proxy-harness.js';

afterEach(closeAll);

function named(name: string): http.RequestListener {
  return (_req, res) => res.end(name);
}

describe('HTTP/1.1 proxy: routing', () => {
  it('sends each request to the backend of its Host', async () => {
    const a = await startBackend(named('A'));
    const b = await startBackend(named('B'));
    const proxy = await startProxy(tableOf([route('a.test', [a.address]), route('b.test', [b.address])]));

    expect((await send(proxy.port, { headers: { host: 'a.test' } })).body.toString()).toBe('A');
    expect((await send(proxy.port, { headers: { host: 'B.Test:8080' } })).body.toString()).toBe('B');
  });

  it('spreads requests round robin over the backends of a route', async () => {
    const a = await startBackend(named('A'));
    const b = await startBackend(named('B'));
    const proxy = await startProxy(tableOf([route('app.test', [a.address, b.address])]));

    const seen: string[] = [];
    for (let i = 0; i < 4; i++) seen.push((await send(proxy.port, { headers: { host: 'app.test' } })).body.toString());
    expect(seen).toEqual(['A', 'B', 'A', 'B']);
  });

  it('forwards method, path with query and status as they are', async () => {
    const backend = await startBackend((req, res) => {
      res.writeHead(201, 'Made It', { 'x-echo': `${req.method} ${req.url}` });
      res.end();
    });
    const proxy = await startProxy(tableOf([route('app.test', [backend.address])]));

    const reply = await send(proxy.port, { method: 'PUT', path: '/a/b?c=1&d=%20', headers: { host: 'app.test' }, body: 'x' });
    expect(reply.status).toBe(201);
    expect(reply.headers['x-echo']).toBe('PUT /a/b?c=1&d=%20');
  });
});

describe('HTTP/1.1 proxy: responses', () => {
  it('answers HEAD with the backend headers and no body, and the connection stays usable', async () => {
    const backend = await startBackend((req, res) => {
      res.writeHead(200, { 'content-length': 1234, 'x-method': req.method });
      res.end(req.method === 'HEAD' ? undefined : 'x'.repeat(1234));
    });
    const proxy = await startProxy(tableOf([route('app.test', [backend.address])]));

    const reply = await sendRaw(proxy.port, 'HEAD / HTTP/1.1\r\nHost: app.test\r\n\r\nGET / HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n');
    const [head, second] = reply.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    expect(head?.toLowerCase()).toContain('content-length: 1234');
    expect(head?.toLowerCase()).toContain('x-method: head');
    // The HEAD response carried no body: the next bytes are the GET response.
    expect(second).toMatch(/^HTTP\/1\.1 200 /);
    expect(reply.endsWith('x'.repeat(1234))).toBe(true);
  });

  it('skips interim 1xx responses and relays the final one', async () => {
    const backend = await startBackend((_req, res) => {
      res.writeProcessing();
      res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' }, () => res.end('final'));
    });
    const proxy = await startProxy(tableOf([route('app.test', [backend.address])]));

    const reply = await send(proxy.port, { headers: { host: 'app.test' } });
    expect(reply.status).toBe(200);
    expect(reply.body.toString()).toBe('final');
  });
});

describe('HTTP/1.1 proxy: bodies', () => {
  it('streams several MiB both ways intact (chunked upload, sized download)', async () => {
    const download = randomBytes(6 * 1024 * 1024 + 17);
    const backend = await startBackend((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.writeHead(200, { 'content-length': download.length, 'x-received-sha': sha256(Buffer.concat(chunks)) });
        res.end(download);
      });
    });
    const proxy = await startProxy(tableOf([route('app.test', [backend.address])]));
    const upload = randomBytes(5 * 1024 * 1024 + 3);

    const reply = await new Promise<{ sha: string; body: Buffer; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
      const req = http.request({ port: proxy.port, host: '127.0.0.1', method: 'POST', headers: { host: 'app.test' }, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ sha: String(res.headers['x-received-sha']), body: Buffer.concat(chunks), headers: res.headers }));
      });
      req.on('error', reject);
      // Several writes without a Content-Length: node sends the body chunked.
      for (let offset = 0; offset < upload.length; offset += 256 * 1024) req.write(upload.subarray(offset, offset + 256 * 1024));
      req.end();
    });
    expect(reply.sha).toBe(sha256(upload));
    expect(reply.headers['content-length']).toBe(String(download.length));
    expect(sha256(reply.body)).toBe(sha256(download));
  });

  it('relays a response without Content-Length chunked, intact', async () => {
    const parts = [randomBytes(300_000), randomBytes(1), randomBytes(2_000_000)];
    const backend = await startBackend((_req, res) => {
      for (const part of parts) res.write(part);
      res.end();
    });
    const proxy = await startProxy(tableOf([route('app.test', [backend.address])]));

    const reply = await send(proxy.port, { headers: { host: 'app.test' } });
    expect(reply.headers['transfer-encoding']).toBe('chunked');
    expect(sha256(reply.body)).toBe(sha256(Buffer.concat(parts)));
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

    let received = 0;
    let response: http.IncomingMessage | undefined;
    const done = new Promise<void>((resolve, reject) => {
      const req = http.request({ port: proxy.port, host: '127.0.0.1', headers: { host: 'app.test' }, agent: false }, (res) => {
        response = res;
        res.pause();
        res.on('data', (c: Buffer) => (received += c.length));
        res.on('end', resolve);
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });

    // Poll until the backend has been stuck on the same byte count for a while.
    let last = -1;
    let still = 0;
    await waitFor(() => {
      still = blocked && written === last ? still + 1 : 0;
      last = written;
      return still >= 20;
    }, 'the backend to stop writing (backpressure)', 10_000, 10);
    expect(written).toBeLessThan(total / 2);

    response?.resume();
    await done;
    expect(received).toBe(total);
  });
});

describe('HTTP/1.1 proxy: forwarded headers', () => {
  it('strips hop-by-hop headers both ways, including those Connection names', async () => {
    let seen: string[] = [];
    let connection: string | undefined;
    const backend = await startBackend((req, res) => {
      connection = req.headers.connection;
      seen = req.rawHeaders.filter((_, i) => i % 2 === 0).map((h) => h.toLowerCase());
      res.setHeader('connection', 'x-resp-hop');
      res.setHeader('x-resp-hop', '1');
      res.setHeader('keep-alive', 'timeout=99');
      res.setHeader('proxy-authenticate', 'Basic realm="x"');
      res.setHeader('x-kept', 'yes');
      res.end('ok');
    });
    const proxy = await startProxy(tableOf([route('app.test', [backend.address])]));

    // Raw bytes: node's client refuses to send some of these headers itself.
    const reply = await sendRaw(
      proxy.port,
      'GET / HTTP/1.1\r\nHost: app.test\r\nConnection: close, X-Secret-Hop\r\nX-Secret-Hop: drop me\r\n' +
        'Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nTrailer: x-t\r\n' +
        'Proxy-Authorization: Basic c2VjcmV0\r\nX-Custom: kept\r\n\r\n',
    );
    const head = reply.slice(0, reply.indexOf('\r\n\r\n')).toLowerCase();
    expect(head).toMatch(/^http\/1\.1 200 /);
    expect(seen).toContain('x-custom');
    // undici sets its own Connection for the upstream connection; the client's does not pass.
    expect(connection).toBe('keep-alive');
    for (const hop of ['x-secret-hop', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'proxy-authorization']) {
      expect(seen).not.toContain(hop);
    }
    expect(head).toContain('\r\nx-kept: yes');
    expect(head).not.toContain('x-resp-hop');
    expect(head).not.toContain('proxy-authenticate');
    expect(head).not.toContain('timeout=99');
  });

  it('keeps Host, appends the client to X-Forwarded-For and replaces X-Forwarded-Proto/Host', async () => {
    let headers: http.IncomingHttpHeaders = {};
    const backend = await startBackend((req, res) => {
      headers = req.headers;
      res.end();
    });
    const proxy = await startProxy(tableOf([route('app.test', [backend.address])]));

    await send(proxy.port, {
      headers: { host: 'App.Test:8080', 'x-forwarded-for': '10.0.0.1, 10.0.0.2', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.test' },
    });
    expect(headers.host).toBe('App.Test:8080');
    expect(headers['x-forwarded-for']).toBe('10.0.0.1, 10.0.0.2, 127.0.0.1');
    expect(headers['x-forwarded-proto']).toBe('http');
    expect(headers['x-forwarded-host']).toBe('App.Test:8080');
  });

  it('keeps X-Forwarded-Proto/Host sent by a trusted proxy', async () => {
    let headers: http.IncomingHttpHeaders = {};
    const backend = await startBackend((req, res) => {
      headers = req.headers;
      res.end();
    });
    const proxy = await startProxy(tableOf([route('app.test', [backend.address])]), { trustedProxies: new Set(['127.0.0.1']) });

    await send(proxy.port, { headers: { host: 'app.test', 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'www.example.com' } });
    expect(headers['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
    expect(headers['x-forwarded-proto']).toBe('https');
    expect(headers['x-forwarded-host']).toBe('www.example.com');
  });

  it('answers Expect: 100-continue and forwards the body', async () => {
    const backend = await startBackend((req, res) => {
      req.pipe(res);
    });
    const proxy = await startProxy(tableOf([route('app.test', [backend.address])]));

    const body = await new Promise<string>((resolve, reject) => {
      const req = http.request(
        { port: proxy.port, host: '127.0.0.1', method: 'POST', headers: { host: 'app.test', expect: '100-continue', 'content-length': 5 }, agent: false },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(text));
        },
      );
      req.on('continue', () => req.end('hello'));
      req.on('error', reject);
    });
    expect(body).toBe('hello');
  });
});
