import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { closeAll, h2Connect, h2Request, route, send, sendRaw, startBackend, startProxy, tableOf, waitFor } from './proxy-harness.js';

afterEach(closeAll);

const PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';
/** An empty SETTINGS frame: length 0, type 4, no flags, stream 0. */
const EMPTY_SETTINGS = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);

function echoProtocol(): http.RequestListener {
  return (req, res) => res.end(`${req.headers.host} ${req.url}`);
}

/** A raw client socket that collects what it receives. */
async function rawClient(port: number): Promise<{ socket: net.Socket; received: () => Buffer; closed: () => boolean }> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  const chunks: Buffer[] = [];
  let closed = false;
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => undefined);
  socket.on('close', () => (closed = true));
  return { socket, received: () => Buffer.concat(chunks), closed: () => closed };
}

describe('plain entry point: HTTP/1.1 and h2c on one port', () => {
  it('serves HTTP/1.1 and h2c prior-knowledge clients side by side', async () => {
    const backend = await startBackend(echoProtocol());
    const proxy = await startProxy(tableOf([route('app.test', [backend.address])]));

    const h1 = await send(proxy.port, { path: '/one', headers: { host: 'app.test' } });
    const session = h2Connect(proxy.port);
    const h2 = await h2Request(session, { ':authority': 'app.test', ':path': '/two' });
    const h2again = await h2Request(session, { ':authority': 'app.test', ':path': '/three' });

    expect(h1.body.toString()).toBe('app.test /one');
    expect(h2.status).toBe(200);
    expect(h2.body.toString()).toBe('app.test /two');
    expect(h2again.body.toString()).toBe('app.test /three');
    expect(await proxy.count('connections', { protocol: 'h2c' })).toBe(1);
  });

  it('takes a preface that arrives in pieces as h2c', async () => {
    const proxy = await startProxy(tableOf([]));
    const firstChunks: number[] = [];
    proxy.server.once('connection', (socket: net.Socket) => socket.once('data', (c: Buffer) => firstChunks.push(c.length)));
    const client = await rawClient(proxy.port);

    client.socket.write(PREFACE.slice(0, 5));
    await waitFor(() => firstChunks.length === 1);
    client.socket.write(PREFACE.slice(5, 17));
    client.socket.write(Buffer.concat([Buffer.from(PREFACE.slice(17), 'latin1'), EMPTY_SETTINGS]));

    // The server's first frame is its own SETTINGS (type 4): it speaks HTTP/2 on this connection.
    await waitFor(() => client.received().length >= 9);
    expect(firstChunks).toEqual([5]);
    expect(client.received()[3]).toBe(4);
    expect(await proxy.count('connections', { protocol: 'h2c' })).toBe(1);
  });

  it('treats first bytes that leave the preface as HTTP/1.1 at once', async () => {
    const proxy = await startProxy(tableOf([]));

    // Starts like the preface ("P"), then diverges.
    const put = await sendRaw(proxy.port, 'PUT /x HTTP/1.1\r\nHost: nowhere.test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    expect(put).toMatch(/^HTTP\/1\.1 404 /);
    expect(put.toLowerCase()).toContain('x-baton-error: no-route');
    // "PRI " then not the preface: the HTTP/1.1 parser refuses the PRI method.
    const pri = await sendRaw(proxy.port, 'PRI /x HTTP/1.1\r\nHost: nowhere.test\r\n\r\n');
    expect(pri).toMatch(/^HTTP\/1\.1 400 /);
    expect(pri.toLowerCase()).toContain('x-baton-error: bad-request');
  });

  it('ends a session that sends garbage after the preface, counts it, and keeps serving', async () => {
    const backend = await startBackend(echoProtocol());
    const proxy = await startProxy(tableOf([route('app.test', [backend.address])]));
    const client = await rawClient(proxy.port);

    client.socket.write(`${PREFACE}this is not a frame, not at all, no\r\n\r\n`);
    await waitFor(() => client.closed());
    await waitFor(async () => (await proxy.count('connectionErrors', { protocol: 'h2c', reason: 'session-error' })) === 1);

    expect((await send(proxy.port, { headers: { host: 'app.test' } })).body.toString()).toBe('app.test /');
    expect((await h2Request(h2Connect(proxy.port), { ':authority': 'app.test' })).status).toBe(200);
  });

  it('closes a connection that sends nothing within the headers timeout, and counts it', async () => {
    const proxy = await startProxy(tableOf([]), { limits: { headersTimeoutMs: 200 } });
    const silent = await rawClient(proxy.port);
    const partial = await rawClient(proxy.port);
    partial.socket.write(PREFACE.slice(0, 10));

    await waitFor(() => silent.closed() && partial.closed());
    expect(await proxy.count('connectionErrors', { protocol: 'http', reason: 'first-bytes-timeout' })).toBe(2);
  });

  it('sends GOAWAY to an h2c session idle for the keep-alive time', async () => {
    const backend = await startBackend(echoProtocol());
    const proxy = await startProxy(tableOf([route('app.test', [backend.address])]), { limits: { keepAliveTimeoutMs: 200 } });
    const session = h2Connect(proxy.port);
    let goaway = false;
    session.on('goaway', () => (goaway = true));

    expect((await h2Request(session, { ':authority': 'app.test' })).status).toBe(200);
    await waitFor(() => goaway && session.closed);
  });

  it('keeps an h2c session with a stream in flight past the keep-alive time', async () => {
    let release: () => void = () => undefined;
    const backend = await startBackend((_req, res) => {
      release = () => res.end('late');
    });
    const proxy = await startProxy(tableOf([route('app.test', [backend.address])]), { limits: { keepAliveTimeoutMs: 100 } });
    const session = h2Connect(proxy.port);
    let goaway = false;
    session.on('goaway', () => (goaway = true));

    const reply = h2Request(session, { ':authority': 'app.test' });
    const start = Date.now();
    await waitFor(() => goaway || Date.now() - start > 600);
    expect(goaway).toBe(false);
    release();
    expect((await reply).body.toString()).toBe('late');
    await waitFor(() => goaway);
  });

  it('close() drains: an idle keep-alive connection still gets its next answer, with Connection: close; h2c gets GOAWAY', async () => {
    const backend = await startBackend(echoProtocol());
    const proxy = await startProxy(tableOf([route('app.test', [backend.address])]));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = () =>
      new Promise<http.IncomingMessage>((resolve, reject) => {
        http.get({ port: proxy.port, host: '127.0.0.1', headers: { host: 'app.test' }, agent }, (res) => res.resume().on('end', () => resolve(res))).on('error', reject);
      });
    expect((await get()).headers.connection).toBe('keep-alive');
    const session = h2Connect(proxy.port);
    await h2Request(session, { ':authority': 'app.test' });
    const goaway = once(session, 'goaway');

    let closed = false;
    proxy.server.close(() => (closed = true));
    await goaway;
    // The listener is closed, so this can only be the idle connection, which was not cut.
    const res = await get();
    expect(res.statusCode).toBe(200);
    expect(res.headers.connection).toBe('close');
    await waitFor(() => closed);
    agent.destroy();
  });
});
