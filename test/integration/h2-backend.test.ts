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
  startH2cBackend,
  startProxy,
  tableOf,
  waitFor,
  type H2cBackend,
} from './proxy-harness.js';

afterEach(closeAll);

const { NGHTTP2_CANCEL } = http2.constants;

/** A gRPC-like service: reads the request, answers with a body and grpc-status trailers. */
async function grpcLike(seen: http2.IncomingHttpHeaders[] = []): Promise<H2cBackend> {
  return startH2cBackend((stream, headers) => {
    seen.push(headers);
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const body = Buffer.concat(chunks);
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'x-received-sha': sha256(body) }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'fine' }));
      stream.end(headers[':path'] === '/big' ? BIG : `echo ${body.length}`);
    });
  });
}

const BIG = randomBytes(4 * 1024 * 1024 + 11);

/** An HTTP/1.1 request through the proxy that also collects trailers. */
function h1Request(port: number, opts: { method?: string; path?: string; headers: http.OutgoingHttpHeaders; body?: Buffer }): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer; trailers: NodeJS.Dict<string> }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path ?? '/', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), trailers: res.trailers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('h2c backends', () => {
  it('serves HTTP/2 clients with body and trailers, passing :authority, te and forwarded headers', async () => {
    const seen: http2.IncomingHttpHeaders[] = [];
    const backend = await grpcLike(seen);
    const proxy = await startProxy(tableOf([route('grpc.test', [backend.address], { backendProtocol: 'h2c' })]));
    const session = h2Connect(proxy.port);

    const reply = await h2Request(
      session,
      { ':method': 'POST', ':authority': 'grpc.test', ':path': '/pkg.Svc/Call', 'content-type': 'application/grpc', te: 'trailers' },
      Buffer.from('request'),
    );
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/grpc');
    expect(reply.body.toString()).toBe('echo 7');
    expect(reply.trailers['grpc-status']).toBe('0');
    expect(reply.trailers['grpc-message']).toBe('fine');
    const headers = seen[0] ?? {};
    expect(headers[':authority']).toBe('grpc.test');
    expect(headers[':path']).toBe('/pkg.Svc/Call');
    expect(headers[':method']).toBe('POST');
    expect(headers.te).toBe('trailers');
    expect(headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(headers['x-forwarded-proto']).toBe('http');
  });

  it('serves HTTP/1.1 clients, trailers included', async () => {
    const backend = await grpcLike();
    const proxy = await startProxy(tableOf([route('grpc.test', [backend.address], { backendProtocol: 'h2c' })]));

    const reply = await h1Request(proxy.port, { method: 'POST', headers: { host: 'grpc.test', te: 'trailers' }, body: Buffer.from('hello') });
    expect(reply.status).toBe(200);
    expect(reply.body.toString()).toBe('echo 5');
    expect(reply.trailers['grpc-status']).toBe('0');
  });

  it('carries several MiB both ways intact, for both kinds of client', async () => {
    const backend = await grpcLike();
    const proxy = await startProxy(tableOf([route('grpc.test', [backend.address], { backendProtocol: 'h2c' })]));
    const upload = randomBytes(3 * 1024 * 1024 + 1);

    const h2 = await h2Request(h2Connect(proxy.port), { ':method': 'POST', ':authority': 'grpc.test', ':path': '/big' }, upload);
    expect(h2.headers['x-received-sha']).toBe(sha256(upload));
    expect(sha256(h2.body)).toBe(sha256(BIG));
    const h1 = await h1Request(proxy.port, { method: 'POST', path: '/big', headers: { host: 'grpc.test' }, body: upload });
    expect(h1.headers['x-received-sha']).toBe(sha256(upload));
    expect(sha256(h1.body)).toBe(sha256(BIG));
  });

  it('multiplexes concurrent streaming calls over one session per backend', async () => {
    const open: http2.ServerHttp2Stream[] = [];
    const backend = await startH2cBackend((stream) => {
      open.push(stream);
      stream.respond({ ':status': 200 });
      // Echo until the client ends: a bidirectional streaming call.
      stream.pipe(stream);
    });
    const proxy = await startProxy(tableOf([route('grpc.test', [backend.address], { backendProtocol: 'h2c' })]));
    const session = h2Connect(proxy.port);

    const calls = [1, 2, 3].map(() => session.request({ ':method': 'POST', ':path': '/stream', ':authority': 'grpc.test' }));
    // All three are open at the backend while every request body is still streaming.
    await waitFor(() => open.length === 3);
    const replies = calls.map(
      (call, i) =>
        new Promise<string>((resolve) => {
          let text = '';
          call.on('data', (c: Buffer) => (text += c.toString()));
          call.on('end', () => resolve(text));
          call.end(`call ${i}`);
        }),
    );
    expect(await Promise.all(replies)).toEqual(['call 0', 'call 1', 'call 2']);
    expect(backend.sessions.length).toBe(1);
    expect(proxy.h2cSessions.size).toBe(1);
  });

  it('answers 502 upstream-connect when the backend is down, and 504 when it does not answer in time', async () => {
    const silent = await startH2cBackend(() => undefined);
    const proxy = await startProxy(
      tableOf([route('down.test', [await closedAddress()], { backendProtocol: 'h2c' }), route('slow.test', [silent.address], { backendProtocol: 'h2c' })]),
      { upstream: { headersTimeoutMs: 200 } },
    );
    const session = h2Connect(proxy.port);

    const h2 = await h2Request(session, { ':authority': 'down.test' });
    expect([h2.status, h2.headers['x-baton-error']]).toEqual([502, 'upstream-connect']);
    const h1 = await h1Request(proxy.port, { headers: { host: 'down.test' } });
    expect([h1.status, h1.headers['x-baton-error']]).toEqual([502, 'upstream-connect']);
    const slow = await h2Request(session, { ':authority': 'slow.test' });
    expect([slow.status, slow.headers['x-baton-error']]).toEqual([504, 'upstream-timeout']);
    expect(await proxy.errors('upstream-connect')).toBe(2);
  });

  it('answers 502 upstream-connect for a backend address that is none, and keeps serving', async () => {
    const backend = await grpcLike();
    const proxy = await startProxy(
      tableOf([route('bad.test', ['not an address:1'], { backendProtocol: 'h2c' }), route('grpc.test', [backend.address], { backendProtocol: 'h2c' })]),
    );

    const h1 = await h1Request(proxy.port, { headers: { host: 'bad.test' } });
    expect([h1.status, h1.headers['x-baton-error']]).toEqual([502, 'upstream-connect']);
    const h2 = await h2Request(h2Connect(proxy.port), { ':authority': 'bad.test' });
    expect([h2.status, h2.headers['x-baton-error']]).toEqual([502, 'upstream-connect']);
    expect((await h1Request(proxy.port, { method: 'POST', headers: { host: 'grpc.test' }, body: Buffer.from('x') })).status).toBe(200);
  });

  it('resets the client stream, or breaks the HTTP/1.1 response, when the backend resets mid-response', async () => {
    const backend = await startH2cBackend((stream) => {
      stream.respond({ ':status': 200 });
      // destroy, not close(code): node's close() ends the stream normally before the reset.
      stream.write('partial', () => stream.destroy(new Error('backend fails')));
    });
    const proxy = await startProxy(tableOf([route('grpc.test', [backend.address], { backendProtocol: 'h2c' })]));

    const h2 = await h2Request(h2Connect(proxy.port), { ':authority': 'grpc.test' }).then(
      () => undefined,
      (err: { rstCode?: number }) => err,
    );
    expect(h2?.rstCode).toBe(http2.constants.NGHTTP2_INTERNAL_ERROR);
    const h1 = await h1Request(proxy.port, { headers: { host: 'grpc.test' } }).then(
      () => 'complete',
      () => 'broken',
    );
    expect(h1).toBe('broken');
  });

  it('cancels the backend stream when the client resets its own', async () => {
    const codes: number[] = [];
    const backend = await startH2cBackend((stream) => {
      stream.on('close', () => codes.push(stream.rstCode));
      stream.respond({ ':status': 200 });
      stream.write('first');
    });
    const proxy = await startProxy(tableOf([route('grpc.test', [backend.address], { backendProtocol: 'h2c' })]));
    const call = h2Connect(proxy.port).request({ ':method': 'POST', ':path': '/', ':authority': 'grpc.test' });
    call.on('error', () => undefined);
    await new Promise((resolve) => call.once('data', resolve));

    call.close(NGHTTP2_CANCEL);
    await waitFor(() => codes.length === 1);
    expect(codes).toEqual([NGHTTP2_CANCEL]);
  });

  it('opens a new session after the backend sent GOAWAY, and closes sessions of backends that left', async () => {
    const backend = await grpcLike();
    const proxy = await startProxy(tableOf([route('grpc.test', [backend.address], { backendProtocol: 'h2c' })]));
    const session = h2Connect(proxy.port);

    expect((await h2Request(session, { ':method': 'POST', ':authority': 'grpc.test' }, 'a')).status).toBe(200);
    backend.sessions[0]?.goaway();
    await waitFor(() => proxy.h2cSessions.size === 0);
    expect((await h2Request(session, { ':method': 'POST', ':authority': 'grpc.test' }, 'b')).status).toBe(200);
    expect(backend.sessions.length).toBe(2);

    proxy.h2cSessions.retain(new Set());
    expect(proxy.h2cSessions.size).toBe(0);
    await waitFor(() => backend.sessions[1]?.destroyed === true);
  });
});
