import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import net, { type AddressInfo, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import { createTcpHandler } from '../../src/proxy/tcp.js';
import type { RoutingTable } from '../../src/routing/types.js';
import { backendPolicies, UpstreamRegistry } from '../../src/upstream/registry.js';
import { waitFor } from '../helpers/wait-for.js';
import { freeTcpPort, portRoute, portTable, swappable, valueOf } from './tcp-harness.js';

/** The service port the routes name; the test proxy listens on port 0 and hands connections over as this port. */
const PORT = 7000;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

interface Proxy {
  readonly port: number;
  readonly metrics: Metrics;
  readonly upstreams: UpstreamRegistry;
}

interface ProxyOptions {
  connectTimeoutMs?: number;
  drainMs?: number;
  idleTimeoutMs?: number;
}

async function startProxy(tables: { current: RoutingTable }, opts: ProxyOptions = {}): Promise<Proxy> {
  const metrics = createMetrics();
  const upstreams = new UpstreamRegistry({ drainMs: opts.drainMs ?? 30_000, logger: pino({ level: 'silent' }), metrics });
  const handler = createTcpHandler({
    tables,
    upstreams,
    metrics,
    logger: pino({ level: 'silent' }),
    connectTimeoutMs: opts.connectTimeoutMs ?? 2000,
    idleTimeoutMs: opts.idleTimeoutMs ?? 0,
  });
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => handler(socket, PORT));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)), () => upstreams.close());
  return { port: (server.address() as AddressInfo).port, metrics, upstreams };
}

/** A backend on 127.0.0.1 (half-open allowed); returns its address and the sockets it accepted. */
async function startBackend(onConnection: (socket: Socket) => void): Promise<{ address: string; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.push(socket);
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, sockets };
}

const echo = (socket: Socket) => socket.pipe(socket);

function connectClient(port: number): Socket {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  socket.on('error', () => undefined);
  cleanups.push(() => socket.destroy());
  return socket;
}

/** Everything the socket sends until it ends. */
function readToEnd(socket: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  return new Promise((resolve, reject) => {
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
  });
}

/** Sends `text` and resolves with the next `text.length` bytes the socket receives. */
function roundTrip(socket: Socket, text: string): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const onData = (chunk: Buffer) => {
      got += chunk.toString();
      if (got.length >= text.length) {
        socket.removeListener('data', onData);
        resolve(got);
      }
    };
    socket.on('data', onData);
    socket.write(text);
  });
}

/** Resolves when baton closed the connection: the client sees its end (FIN) or a reset. */
function closedByPeer(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    socket.once('end', () => resolve());
    socket.once('close', () => resolve());
    socket.resume();
  });
}
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/**
 * A listening port that never completes a connection: a child process listens with a backlog of
 * one and then blocks its thread, so once two connections fill the accept queue the kernel drops
 * further SYNs and a connect hangs.
 */
async function blackhole(): Promise<string> {
  const script = `const s=require('net').createServer().listen({port:0,host:'127.0.0.1',backlog:1},()=>{process.stdout.write(s.address().port+'\\n');Atomics.wait(new Int32Array(new SharedArrayBuffer(4)),0,0)})`;
  const child: ChildProcess = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanups.push(() => child.kill('SIGKILL'));
  const port = await new Promise<number>((resolve) => child.stdout?.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
  let connected = 0;
  for (let i = 0; i < 3; i++) {
    const filler = net.connect(port, '127.0.0.1', () => (connected += 1));
    filler.on('error', () => undefined);
    cleanups.push(() => filler.destroy());
  }
  await waitFor(() => connected >= 2, 'the accept queue to fill');
  return `127.0.0.1:${port}`;
}

describe('raw TCP proxy', () => {
  it('relays 32 MiB each way byte for byte', async () => {
    const received = createHash('sha256');
    const { address } = await startBackend((socket) => {
      socket.on('data', (chunk: Buffer) => received.update(chunk));
      echo(socket);
    });
    const proxy = await startProxy(swappable(portTable([portRoute('tcp', PORT, [address])])));
    const payload = randomBytes(32 * 1024 * 1024);
    const client = connectClient(proxy.port);
    const echoed = readToEnd(client);
    client.end(payload);
    const back = await echoed;
    expect(back.length).toBe(payload.length);
    expect(sha256(back)).toBe(sha256(payload));
    expect(received.digest('hex')).toBe(sha256(payload));
    expect(await valueOf(proxy.metrics.connections, { protocol: 'tcp' })).toBe(1);
  });

  it('half-close: a client that ended still receives the backend reply', async () => {
    const { address } = await startBackend((socket) => {
      let question = '';
      socket.on('data', (chunk: Buffer) => (question += chunk.toString()));
      socket.on('end', () => socket.end(`answer to ${question}`));
    });
    const proxy = await startProxy(swappable(portTable([portRoute('tcp', PORT, [address])])));
    const client = connectClient(proxy.port);
    const reply = readToEnd(client);
    client.end('question');
    expect((await reply).toString()).toBe('answer to question');
  });

  it('half-close: after the backend ended, the client can still send', async () => {
    const got: { text: string; ended: boolean } = { text: '', ended: false };
    const { address } = await startBackend((socket) => {
      socket.end('bye');
      socket.on('data', (chunk: Buffer) => (got.text += chunk.toString()));
      socket.on('end', () => (got.ended = true));
    });
    const proxy = await startProxy(swappable(portTable([portRoute('tcp', PORT, [address])])));
    const client = connectClient(proxy.port);
    expect((await readToEnd(client)).toString()).toBe('bye');
    client.end('still here');
    await waitFor(() => got.ended, 'the backend to see the client end');
    expect(got.text).toBe('still here');
  });

  it('a refused backend is skipped for the next one', async () => {
    const refused = `127.0.0.1:${await freeTcpPort()}`;
    const { address } = await startBackend(echo);
    const proxy = await startProxy(swappable(portTable([portRoute('tcp', PORT, [refused, address])])));
    const client = connectClient(proxy.port);
    expect(await roundTrip(client, 'ping')).toBe('ping');
    expect(await valueOf(proxy.metrics.connectionErrors, { protocol: 'tcp', reason: 'upstream-connect' })).toBe(1);
  });

  it('closes the client and counts it when every backend refuses', async () => {
    const route = portRoute('tcp', PORT, [`127.0.0.1:${await freeTcpPort()}`, `127.0.0.1:${await freeTcpPort()}`]);
    const proxy = await startProxy(swappable(portTable([route])));
    const client = connectClient(proxy.port);
    let data = '';
    client.on('data', (chunk: Buffer) => (data += chunk.toString()));
    await closedByPeer(client);
    expect(data).toBe('');
    expect(await valueOf(proxy.metrics.connectionErrors, { protocol: 'tcp', reason: 'upstream-connect' })).toBe(2);
    expect(await valueOf(proxy.metrics.connectionErrors, { protocol: 'tcp', reason: 'upstream-unreachable' })).toBe(1);
    expect(await valueOf(proxy.metrics.connections, { protocol: 'tcp' })).toBe(0);
  });

  it('opens the breaker of a refusing backend, then closes clients at once as all-backends-open', async () => {
    const refused = `127.0.0.1:${await freeTcpPort()}`;
    const tables = swappable(portTable([portRoute('tcp', PORT, [refused], { balance: 'roundrobin', sticky: false, breaker: { volumeThreshold: 2 } })]));
    const proxy = await startProxy(tables);
    proxy.upstreams.retain(backendPolicies(tables.current));
    await closedByPeer(connectClient(proxy.port));
    await closedByPeer(connectClient(proxy.port));
    expect(proxy.upstreams.state(refused)?.breaker).toBe('open');
    await closedByPeer(connectClient(proxy.port));
    expect(await valueOf(proxy.metrics.connectionErrors, { protocol: 'tcp', reason: 'upstream-connect' })).toBe(2);
    expect(await valueOf(proxy.metrics.connectionErrors, { protocol: 'tcp', reason: 'all-backends-open' })).toBe(1);
  });

  it('counts an open connection in flight at its backend until it closes', async () => {
    const { address } = await startBackend(echo);
    const proxy = await startProxy(swappable(portTable([portRoute('tcp', PORT, [address])])));
    const client = connectClient(proxy.port);
    expect(await roundTrip(client, 'hi')).toBe('hi');
    expect(proxy.upstreams.state(address)?.inFlight).toBe(1);
    client.destroy();
    await waitFor(() => proxy.upstreams.state(address)?.inFlight === 0, 'the connection to stop counting');
  });

  it("follows the route's tunnel idle timeout over the handler's", async () => {
    const { address } = await startBackend(echo);
    const policy = { balance: 'roundrobin', sticky: false, timeouts: { tunnelIdleMs: 150 } } as const;
    const proxy = await startProxy(swappable(portTable([portRoute('tcp', PORT, [address], policy)])), { idleTimeoutMs: 0 });
    const client = connectClient(proxy.port);
    expect(await roundTrip(client, 'hi')).toBe('hi');
    await closedByPeer(client);
  });

  it('a backend that does not answer in time is skipped for the next one', async () => {
    const silent = await blackhole();
    const { address } = await startBackend(echo);
    const proxy = await startProxy(swappable(portTable([portRoute('tcp', PORT, [silent, address])])), { connectTimeoutMs: 300 });
    const client = connectClient(proxy.port);
    expect(await roundTrip(client, 'ping')).toBe('ping');
    expect(await valueOf(proxy.metrics.connectionErrors, { protocol: 'tcp', reason: 'upstream-timeout' })).toBe(1);
  });

  it('closes connections on a port with no route or no backend, and counts them', async () => {
    const tables = swappable(portTable([]));
    const proxy = await startProxy(tables);
    await closedByPeer(connectClient(proxy.port));
    tables.current = portTable([portRoute('tcp', PORT, [])]);
    await closedByPeer(connectClient(proxy.port));
    expect(await valueOf(proxy.metrics.connectionErrors, { protocol: 'tcp', reason: 'no-route' })).toBe(1);
    expect(await valueOf(proxy.metrics.connectionErrors, { protocol: 'tcp', reason: 'no-healthy-backend' })).toBe(1);
  });

  it('closes a connection idle both ways for idleTimeoutMs', async () => {
    const { address, sockets } = await startBackend(echo);
    const proxy = await startProxy(swappable(portTable([portRoute('tcp', PORT, [address])])), { idleTimeoutMs: 200 });
    const client = connectClient(proxy.port);
    expect(await roundTrip(client, 'hi')).toBe('hi');
    await closedByPeer(client);
    await waitFor(() => sockets[0]?.closed, 'the backend side to close');
  });

  it('spreads connections round robin over the backends', async () => {
    const a = await startBackend(echo);
    const b = await startBackend(echo);
    const proxy = await startProxy(swappable(portTable([portRoute('tcp', PORT, [a.address, b.address])])));
    for (let i = 0; i < 4; i++) expect(await roundTrip(connectClient(proxy.port), `c${i}`)).toBe(`c${i}`);
    expect(a.sockets.length).toBe(2);
    expect(b.sockets.length).toBe(2);
  });

  it('a table swap leaves an open connection working; new connections use the new table', async () => {
    const a = await startBackend(echo);
    const b = await startBackend(echo);
    const tables = swappable(portTable([portRoute('tcp', PORT, [a.address])]));
    const proxy = await startProxy(tables);
    const client = connectClient(proxy.port);
    expect(await roundTrip(client, 'before')).toBe('before');

    tables.current = portTable([portRoute('tcp', PORT, [b.address])]);
    expect(await roundTrip(client, 'after')).toBe('after');
    expect(await roundTrip(connectClient(proxy.port), 'new')).toBe('new');
    expect(a.sockets.length).toBe(1);
    expect(b.sockets.length).toBe(1);
  });
});

describe('raw TCP drain when a backend leaves', () => {
  /** What main does on every swap: the new table, then the registry keeps only its backends. */
  function swap(tables: { current: RoutingTable }, proxy: Proxy, addresses: string[]): void {
    tables.current = portTable([portRoute('tcp', PORT, addresses)]);
    proxy.upstreams.retain(backendPolicies(tables.current));
  }

  it('closes its open connection after drainMs, not before', async () => {
    const drainMs = 500;
    const a = await startBackend(echo);
    const b = await startBackend(echo);
    const tables = swappable(portTable([portRoute('tcp', PORT, [a.address])]));
    const proxy = await startProxy(tables, { drainMs });
    const client = connectClient(proxy.port);
    expect(await roundTrip(client, 'one')).toBe('one');

    const gone = closedByPeer(client);
    const left = performance.now();
    swap(tables, proxy, [b.address]);
    expect(await roundTrip(client, 'two')).toBe('two');
    await gone;
    // Timers never fire early; the margin covers the event loop's cached clock.
    expect(performance.now() - left).toBeGreaterThanOrEqual(drainMs - 50);
    await waitFor(() => a.sockets[0]?.closed, 'the backend side to close');
  });

  it('keeps the connection of a backend that comes back within drainMs', async () => {
    const a = await startBackend(echo);
    const b = await startBackend(echo);
    const tables = swappable(portTable([portRoute('tcp', PORT, [a.address, b.address])]));
    const proxy = await startProxy(tables, { drainMs: 300 });
    const toA = connectClient(proxy.port);
    expect(await roundTrip(toA, 'a')).toBe('a');
    const toB = connectClient(proxy.port);
    expect(await roundTrip(toB, 'b')).toBe('b');
    expect([a.sockets.length, b.sockets.length]).toEqual([1, 1]);

    // Both leave at once; only A comes back. B's drain firing shows A's would have fired by now.
    const bGone = closedByPeer(toB);
    swap(tables, proxy, []);
    swap(tables, proxy, [a.address]);
    await bGone;
    expect(await roundTrip(toA, 'still')).toBe('still');
  });

  it('the registry closing destroys every open connection', async () => {
    const a = await startBackend(echo);
    const proxy = await startProxy(swappable(portTable([portRoute('tcp', PORT, [a.address])])));
    const client = connectClient(proxy.port);
    expect(await roundTrip(client, 'x')).toBe('x');
    const gone = closedByPeer(client);
    await proxy.upstreams.close();
    await gone;
  });
});
