import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { backendPolicies } from '../../src/upstream/registry.js';
import { buildTable, closeAll, closedAddress, route, sendRaw, sha256, startBackend, startProxy, tableOf, waitFor } from './proxy-harness.js';

const sockets: WebSocket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.terminate();
  await closeAll();
});

interface WsBackend {
  readonly address: string;
  /** Upgrade requests as the backend saw them. */
  readonly requests: http.IncomingMessage[];
  readonly peers: WebSocket[];
}

/** A `ws` echo server: every message comes back as sent. */
async function startWsBackend(): Promise<WsBackend> {
  const requests: http.IncomingMessage[] = [];
  const peers: WebSocket[] = [];
  const backend = await startBackend((_req, res) => res.end('not a websocket request'));
  const wss = new WebSocketServer({ server: backend.server });
  wss.on('connection', (peer, req) => {
    requests.push(req);
    peers.push(peer);
    peer.on('message', (data, isBinary) => peer.send(data, { binary: isBinary }));
  });
  return { address: backend.address, requests, peers };
}

function connect(port: number, host: string, path = '/'): WebSocket {
  const socket = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers: { host } });
  socket.on('error', () => undefined);
  sockets.push(socket);
  return socket;
}

function opened(socket: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
    socket.once('error', reject);
  });
}

function nextMessage(socket: WebSocket): Promise<Buffer> {
  return new Promise((resolve) => socket.once('message', (data: Buffer) => resolve(data)));
}

function closed(socket: WebSocket): Promise<number> {
  return new Promise((resolve) => socket.once('close', (code: number) => resolve(code)));
}

/** The status and headers a refused upgrade got. */
function refusal(socket: WebSocket): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    socket.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    socket.once('open', () => reject(new Error('upgrade accepted')));
  });
}

describe('WebSocket through the proxy', () => {
  it('echoes text and binary messages, with the forwarded headers at the backend, and counts the tunnel', async () => {
    const backend = await startWsBackend();
    const proxy = await startProxy(tableOf([route('ws.test', [backend.address])]));
    const socket = connect(proxy.port, 'ws.test', '/chat?room=1');
    await opened(socket);

    socket.send('hello');
    expect((await nextMessage(socket)).toString()).toBe('hello');
    socket.send(Buffer.from([0, 1, 2, 255]));
    expect([...(await nextMessage(socket))]).toEqual([0, 1, 2, 255]);

    const req = backend.requests[0];
    expect(req?.url).toBe('/chat?room=1');
    expect(req?.headers.host).toBe('ws.test');
    expect(req?.headers.upgrade).toBe('websocket');
    expect(req?.headers.connection).toBe('upgrade');
    expect(req?.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(req?.headers['x-forwarded-proto']).toBe('http');
    expect(await proxy.count('connections', { protocol: 'websocket' })).toBe(1);
  });

  it('carries messages of several MiB both ways intact', async () => {
    const backend = await startWsBackend();
    const proxy = await startProxy(tableOf([route('ws.test', [backend.address])]));
    const socket = connect(proxy.port, 'ws.test');
    await opened(socket);
    const big = randomBytes(5 * 1024 * 1024 + 7);

    socket.send(big);
    const echoed = await nextMessage(socket);
    expect(echoed.length).toBe(big.length);
    expect(sha256(echoed)).toBe(sha256(big));
  });

  it('passes a close from the client to the backend, and one from the backend to the client', async () => {
    const backend = await startWsBackend();
    const proxy = await startProxy(tableOf([route('ws.test', [backend.address])]));

    const first = connect(proxy.port, 'ws.test');
    await opened(first);
    await waitFor(() => backend.peers.length === 1);
    const backendSaw = closed(backend.peers[0] as WebSocket);
    first.close(4001, 'client leaves');
    expect(await backendSaw).toBe(4001);

    const second = connect(proxy.port, 'ws.test');
    await opened(second);
    await waitFor(() => backend.peers.length === 2);
    const clientSaw = closed(second);
    backend.peers[1]?.close(4002, 'server leaves');
    expect(await clientSaw).toBe(4002);
  });

  it('closes a tunnel idle for websocketIdleTimeoutMs', async () => {
    const backend = await startWsBackend();
    const proxy = await startProxy(tableOf([route('ws.test', [backend.address])]), { websocketIdleTimeoutMs: 300 });
    const socket = connect(proxy.port, 'ws.test');
    await opened(socket);
    const gone = closed(socket);

    // Abnormal closure: the proxy drops the connection, no close frame.
    expect(await gone).toBe(1006);
    await waitFor(() => backend.peers[0]?.readyState === WebSocket.CLOSED);
  });

  it("outlives the HTTP/1.1 server's request and keep-alive timeouts", async () => {
    const backend = await startWsBackend();
    const proxy = await startProxy(tableOf([route('ws.test', [backend.address])]), {
      limits: { headersTimeoutMs: 100, requestTimeoutMs: 200, keepAliveTimeoutMs: 100 },
    });
    const socket = connect(proxy.port, 'ws.test');
    await opened(socket);

    // Node checks its request timeouts once a second: echo past two checks.
    const start = Date.now();
    let round = 0;
    await waitFor(async () => {
      socket.send(`round ${round}`);
      expect((await nextMessage(socket)).toString()).toBe(`round ${round++}`);
      return Date.now() - start > 2200;
    }, 'rounds for the idle timeout span', 10_000, 10);
    expect(socket.readyState).toBe(WebSocket.OPEN);
  });

  it('keeps an open WebSocket across a table swap, even one that drops its route', async () => {
    const backend = await startWsBackend();
    const tables = tableOf([route('ws.test', [backend.address])]);
    const proxy = await startProxy(tables);
    const socket = connect(proxy.port, 'ws.test');
    await opened(socket);

    tables.current = buildTable([route('other.test', [backend.address])], 2);
    socket.send('still there?');
    expect((await nextMessage(socket)).toString()).toBe('still there?');
    // New upgrades see the new table.
    expect((await refusal(connect(proxy.port, 'ws.test'))).status).toBe(404);
  });

  it('tries the next backend when one refuses the connection', async () => {
    const backend = await startWsBackend();
    const proxy = await startProxy(tableOf([route('ws.test', [await closedAddress(), backend.address])]));

    const socket = connect(proxy.port, 'ws.test');
    await opened(socket);
    socket.send('ping');
    expect((await nextMessage(socket)).toString()).toBe('ping');
  });

  it('answers refused upgrades with the usual error codes, raw on the socket', async () => {
    const proxy = await startProxy(tableOf([route('empty.test', []), route('down.test', [await closedAddress(), await closedAddress()])]));

    const cases = [
      ['nowhere.test', 404, 'no-route'],
      ['empty.test', 503, 'no-healthy-backend'],
      ['down.test', 502, 'upstream-connect'],
    ] as const;
    for (const [host, status, code] of cases) {
      const reply = await refusal(connect(proxy.port, host));
      expect([host, reply.status, reply.headers['x-baton-error']]).toEqual([host, status, code]);
      expect(await proxy.errors(code)).toBe(1);
    }
  });

  it('answers 503 all-backends-open once every backend of the route has its breaker open', async () => {
    const policy = { balance: 'roundrobin', sticky: false, breaker: { volumeThreshold: 1 } } as const;
    const tables = tableOf([route('ws.test', [await closedAddress()], { policy })]);
    const proxy = await startProxy(tables);
    proxy.upstreams.retain(backendPolicies(tables.current));

    expect((await refusal(connect(proxy.port, 'ws.test'))).status).toBe(502);
    const reply = await refusal(connect(proxy.port, 'ws.test'));
    expect([reply.status, reply.headers['x-baton-error']]).toEqual([503, 'all-backends-open']);
  });

  it('counts an open WebSocket in flight at its backend, and sends a sticky cookie holder to its backend', async () => {
    const a = await startWsBackend();
    const b = await startWsBackend();
    const policy = { balance: 'roundrobin', sticky: true } as const;
    const proxy = await startProxy(tableOf([route('ws.test', [a.address, b.address], { policy })]));

    const clients = [0, 1, 2].map(() => new WebSocket(`ws://127.0.0.1:${proxy.port}/`, { headers: { host: 'ws.test', cookie: 'baton_sticky=id-1' } }));
    for (const socket of clients) socket.on('error', () => undefined);
    await Promise.all(clients.map(opened));
    expect([a.peers.length, b.peers.length]).toEqual([0, 3]);
    expect(proxy.upstreams.state(b.address)?.inFlight).toBe(3);
    for (const socket of clients) socket.terminate();
    await waitFor(() => proxy.upstreams.state(b.address)?.inFlight === 0);
  });

  it('answers other upgrades, and WebSocket to h2c backends, with 501 upgrade-not-supported', async () => {
    const backend = await startWsBackend();
    const proxy = await startProxy(tableOf([route('ws.test', [backend.address]), route('grpc.test', [backend.address], { backendProtocol: 'h2c' })]));

    const h2c = await sendRaw(proxy.port, 'GET / HTTP/1.1\r\nHost: ws.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n');
    expect(h2c).toMatch(/^HTTP\/1\.1 501 /);
    expect(h2c.toLowerCase()).toContain('x-baton-error: upgrade-not-supported');
    const grpc = await refusal(connect(proxy.port, 'grpc.test'));
    expect([grpc.status, grpc.headers['x-baton-error']]).toEqual([501, 'upgrade-not-supported']);
    expect(backend.requests).toHaveLength(0);
  });

  it('takes Upgrade: WebSocket in any case, and passes frames sent with the request head', async () => {
    const backend = await startWsBackend();
    const proxy = await startProxy(tableOf([route('ws.test', [backend.address])]));
    const client = net.connect(proxy.port, '127.0.0.1');
    client.on('error', () => undefined);
    let received = Buffer.alloc(0);
    client.on('data', (c: Buffer) => (received = Buffer.concat([received, c])));

    // A masked text frame "hi" right behind the handshake, in the same write.
    const mask = [1, 2, 3, 4];
    const frame = Buffer.from([0x81, 0x82, ...mask, 'h'.charCodeAt(0) ^ 1, 'i'.charCodeAt(0) ^ 2]);
    client.write(
      Buffer.concat([
        Buffer.from(
          'GET /raw HTTP/1.1\r\nHost: ws.test\r\nConnection: keep-alive, Upgrade\r\nUpgrade: WebSocket\r\n' +
            'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
        ),
        frame,
      ]),
    );
    // The backend's 101, then its echo: an unmasked text frame "hi".
    await waitFor(() => received.includes(Buffer.from([0x81, 0x02, 0x68, 0x69])));
    expect(received.toString('latin1')).toMatch(/^HTTP\/1\.1 101 /);
    client.destroy();
  });
});
