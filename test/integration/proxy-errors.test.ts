import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { closeAll, closedAddress, route, send, sendRaw, startBackend, startProxy, startRawBackend, tableOf, waitFor } from './proxy-harness.js';

afterEach(closeAll);

describe('HTTP/1.1 proxy: error responses', () => {
  it('answers 404 no-route naming the host', async () => {
    const proxy = await startProxy(tableOf([]));

    const reply = await send(proxy.port, { headers: { host: 'nowhere.test' } });
    expect(reply.status).toBe(404);
    expect(reply.headers['x-baton-error']).toBe('no-route');
    expect(reply.headers['content-type']).toMatch(/^text\/plain/);
    expect(reply.body.toString()).toContain('no route for host "nowhere.test"');
    expect(await proxy.errors('no-route')).toBe(1);
  });

  it('answers 503 no-healthy-backend for a route without backends', async () => {
    const proxy = await startProxy(tableOf([route('app.test', [])]));

    const reply = await send(proxy.port, { headers: { host: 'app.test' } });
    expect(reply.status).toBe(503);
    expect(reply.headers['x-baton-error']).toBe('no-healthy-backend');
    expect(await proxy.errors('no-healthy-backend')).toBe(1);
  });

  it('answers 502 upstream-connect when nothing listens on the backend port', async () => {
    const proxy = await startProxy(tableOf([route('app.test', [await closedAddress()])]));

    const get = await send(proxy.port, { headers: { host: 'app.test' } });
    expect(get.status).toBe(502);
    expect(get.headers['x-baton-error']).toBe('upstream-connect');
    // With a request body, too: the client still gets an answer, not a reset.
    const post = await send(proxy.port, { method: 'POST', headers: { host: 'app.test' }, body: Buffer.alloc(100_000) });
    expect(post.status).toBe(502);
    expect(post.headers['x-baton-error']).toBe('upstream-connect');
    expect(await proxy.errors('upstream-connect')).toBe(2);
  });

  it('answers 502 upstream-connect for a backend address undici cannot parse, and keeps serving', async () => {
    const good = await startBackend((_req, res) => res.end('fine'));
    const proxy = await startProxy(tableOf([route('bad.test', ['not an address:1']), route('good.test', [good.address])]));

    const reply = await send(proxy.port, { headers: { host: 'bad.test' } });
    expect(reply.status).toBe(502);
    expect(reply.headers['x-baton-error']).toBe('upstream-connect');
    expect((await send(proxy.port, { headers: { host: 'good.test' } })).body.toString()).toBe('fine');
  });

  it('answers 502 upstream-reset when the backend drops the connection before answering', async () => {
    const backend = await startBackend((req) => req.socket.destroy());
    const proxy = await startProxy(tableOf([route('app.test', [backend.address])]));

    const reply = await send(proxy.port, { headers: { host: 'app.test' } });
    expect(reply.status).toBe(502);
    expect(reply.headers['x-baton-error']).toBe('upstream-reset');
    expect(await proxy.errors('upstream-reset')).toBe(1);
  });

  it('breaks the client connection when the backend drops it mid-response (no clean short body)', async () => {
    const backend = await startBackend((req, res) => {
      // Chunked: a proxy that ended the response cleanly here would pass a short body off as complete.
      res.write('partial');
      setImmediate(() => req.socket.destroy());
    });
    const proxy = await startProxy(tableOf([route('app.test', [backend.address])]));

    await expect(send(proxy.port, { headers: { host: 'app.test' } })).rejects.toThrow();
    await waitFor(async () => (await proxy.errors('upstream-reset')) === 1);
  });

  it('answers 504 upstream-timeout when the backend sends no headers in time', async () => {
    const backend = await startBackend(() => undefined);
    const proxy = await startProxy(tableOf([route('app.test', [backend.address])]), { upstream: { headersTimeoutMs: 200 } });

    const reply = await send(proxy.port, { headers: { host: 'app.test' } });
    expect(reply.status).toBe(504);
    expect(reply.headers['x-baton-error']).toBe('upstream-timeout');
  });

  it('answers 502 upstream-protocol when the backend does not speak HTTP', async () => {
    const backend = await startRawBackend('SSH-2.0-OpenSSH_9.6\r\n');
    const proxy = await startProxy(tableOf([route('app.test', [backend])]));

    const reply = await send(proxy.port, { headers: { host: 'app.test' } });
    expect(reply.status).toBe(502);
    expect(reply.headers['x-baton-error']).toBe('upstream-protocol');
  });

  it('answers 400 for a request target it cannot forward (OPTIONS *)', async () => {
    const backend = await startBackend((_req, res) => res.end('reached'));
    const proxy = await startProxy(tableOf([route('app.test', [backend.address])]));

    const reply = await sendRaw(proxy.port, 'OPTIONS * HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 400 /);
    expect(reply.toLowerCase()).toContain('x-baton-error: bad-request');
  });

  it('refuses two Host headers with 400', async () => {
    const backend = await startBackend((_req, res) => res.end('reached'));
    const proxy = await startProxy(tableOf([route('a.test', [backend.address]), route('b.test', [backend.address])]));

    const reply = await sendRaw(proxy.port, 'GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\nConnection: close\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 400 /);
    expect(reply.toLowerCase()).toContain('x-baton-error: bad-request');
    expect(reply).not.toContain('reached');
  });
});

describe('HTTP/1.1 proxy: hostile and impatient clients', () => {
  it('answers a malformed request line with 400 bad-request and closes the connection', async () => {
    const proxy = await startProxy(tableOf([]));

    // sendRaw resolves only once the proxy has closed the connection.
    const reply = await sendRaw(proxy.port, 'THIS IS NOT HTTP\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 400 /);
    expect(reply.toLowerCase()).toContain('x-baton-error: bad-request');
    expect(await proxy.errors('bad-request')).toBe(1);
  });

  it('answers oversized headers with 431 bad-request and closes the connection', async () => {
    const proxy = await startProxy(tableOf([]), { limits: { maxHeaderSize: 2048 } });

    const reply = await sendRaw(proxy.port, `GET / HTTP/1.1\r\nHost: a.test\r\nX-Big: ${'x'.repeat(4096)}\r\n\r\n`);
    expect(reply).toMatch(/^HTTP\/1\.1 431 /);
    expect(reply.toLowerCase()).toContain('x-baton-error: bad-request');
    expect(await proxy.errors('bad-request')).toBe(1);
  });

  it('answers a client that stalls in its headers with 408 request-timeout and closes', async () => {
    const proxy = await startProxy(tableOf([]), { limits: { headersTimeoutMs: 200, requestTimeoutMs: 400 } });

    // No blank line: the request head never completes.
    const reply = await sendRaw(proxy.port, 'GET / HTTP/1.1\r\nHost: a.test\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 408 /);
    expect(reply.toLowerCase()).toContain('x-baton-error: request-timeout');
    expect(await proxy.errors('request-timeout')).toBe(1);
  });

  it('aborts the upstream request when the client aborts mid-upload, and keeps serving', async () => {
    let received = 0;
    let backendSawAbort = false;
    const backend = await startBackend((req, res) => {
      if (req.method === 'GET') {
        res.end('still here');
        return;
      }
      req.on('data', (c: Buffer) => (received += c.length));
      req.on('close', () => {
        if (!req.complete) backendSawAbort = true;
      });
    });
    const proxy = await startProxy(tableOf([route('app.test', [backend.address])]));

    const req = http.request({ port: proxy.port, host: '127.0.0.1', method: 'POST', headers: { host: 'app.test', 'content-length': 10_000_000 }, agent: false });
    req.on('error', () => undefined);
    req.write(Buffer.alloc(1_000_000));
    await waitFor(() => received > 0);
    req.destroy();

    await waitFor(() => backendSawAbort);
    expect((await send(proxy.port, { headers: { host: 'app.test' } })).body.toString()).toBe('still here');
  });

  it('aborts the upstream request when the client leaves mid-response', async () => {
    let backendClosed = false;
    const backend = await startBackend((_req, res) => {
      res.on('close', () => (backendClosed = true));
      res.write('first chunk');
      // Never ends: only an abort from the proxy closes this response.
    });
    const proxy = await startProxy(tableOf([route('app.test', [backend.address])]));

    const req = http.request({ port: proxy.port, host: '127.0.0.1', headers: { host: 'app.test' }, agent: false });
    req.on('error', () => undefined);
    req.end();
    const res = await new Promise<http.IncomingMessage>((resolve) => req.on('response', resolve));
    res.on('error', () => undefined);
    await new Promise((resolve) => res.once('data', resolve));
    req.destroy();

    await waitFor(() => backendClosed);
  });
});
