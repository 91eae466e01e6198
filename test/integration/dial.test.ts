import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net, { type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createMetrics } from '../../src/observability/metrics.js';
import { dial, type DialHooks } from '../../src/proxy/dial.js';
import { metricsOnly } from '../../src/proxy/observe.js';
import { tunnel } from '../../src/proxy/tunnel.js';
import type { Backend, BackendPolicy } from '../../src/routing/types.js';
import { UpstreamRegistry, type UpstreamRegistryOptions } from '../../src/upstream/registry.js';
import { waitFor } from '../helpers/wait-for.js';
import { backend, freeTcpPort, portRoute, ROUND_ROBIN } from './tcp-harness.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** What the hooks saw, in order; `data` is the per-connection value handed to `dial`. */
interface Seen {
  readonly failed: { address: string; err: string; data: string }[];
  connected: { address: string; data: string } | undefined;
  exhausted: { tried: number; last: string; clientOpen: boolean; data: string } | undefined;
}

interface DialerOptions {
  readonly connectTimeoutMs: number;
  readonly retries?: number;
  readonly policy?: BackendPolicy;
  readonly breaker?: UpstreamRegistryOptions['breaker'];
}

/**
 * A listener whose every connection is dialled to a route over `backends`: a connected client is
 * tunnelled, an exhausted one closed. Returns its port, what the hooks saw (the last connection's)
 * and the registry. Its sockets start reading at once (no pauseOnConnect), as those of the HTTP
 * and TLS entry points do: the dialer pauses them itself, and still sees them reset.
 */
async function startDialer(backends: readonly Backend[], opts: DialerOptions): Promise<{ port: number; seen: Seen; upstreams: UpstreamRegistry }> {
  const seen: Seen = { failed: [], connected: undefined, exhausted: undefined };
  const metrics = createMetrics();
  const upstreams = new UpstreamRegistry({ logger: pino({ level: 'silent' }), metrics, retries: opts.retries ?? 2, ...(opts.breaker && { breaker: opts.breaker }) });
  cleanups.push(() => upstreams.close());
  const hooks: DialHooks<string> = {
    upstreams,
    connectTimeoutMs: opts.connectTimeoutMs,
    observe: metricsOnly(metrics),
    protocol: 'tcp',
    connected(client, upstream, chosen, data) {
      seen.connected = { address: chosen.address, data };
      tunnel(client, upstream);
    },
    failed(failed, err, data) {
      seen.failed.push({ address: failed.address, err: err === undefined ? 'timeout' : ((err as NodeJS.ErrnoException).code ?? err.message), data });
    },
    exhausted(client, data, tried, last) {
      seen.exhausted = { tried, last, clientOpen: !client.destroyed, data };
      client.destroy();
    },
  };
  const route = { ...portRoute('tcp', 1, []), backends, policy: opts.policy ?? ROUND_ROBIN };
  const clients: Socket[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    clients.push(client);
    dial(hooks, client, route, '127.0.0.1', 'conn-data');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    for (const client of clients) client.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  return { port: (server.address() as AddressInfo).port, seen, upstreams };
}

/** An echo backend on 127.0.0.1; returns its address and how many connections it accepted. */
async function startEcho(): Promise<{ address: string; accepted: () => number }> {
  const sockets: Socket[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.push(socket);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, accepted: () => sockets.length };
}

/**
 * A port that never completes a connection: a child process listens with a backlog of one and
 * then blocks its thread, so once the accept queue is full the kernel drops further SYNs and a
 * connect hangs.
 */
async function blackhole(): Promise<{ address: string; port: number }> {
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
  return { address: `127.0.0.1:${port}`, port };
}

/** How many sockets on this machine are still sending their SYN to 127.0.0.1:`port` (Linux). */
function connectsPendingTo(port: number): number {
  const remote = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const SYN_SENT = '02';
  return readFileSync('/proc/net/tcp', 'latin1')
    .split('\n')
    .slice(1)
    .filter((line) => {
      const fields = line.trim().split(/\s+/);
      return fields[2] === remote && fields[3] === SYN_SENT;
    }).length;
}

function connectClient(port: number): Socket {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  socket.on('error', () => undefined);
  cleanups.push(() => socket.destroy());
  return socket;
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

/** Resolves when the dialer's side closed the connection: the client sees its end (FIN) or a reset. */
function closedByPeer(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    socket.once('end', () => resolve());
    socket.once('close', () => resolve());
    socket.resume();
  });
}

const refusedAddress = async () => `127.0.0.1:${await freeTcpPort()}`;

describe('dial: a backend that accepts, chosen by the picker', () => {
  it('replaces a refusing backend with another and connects there', async () => {
    const good = await startEcho();
    const refused = await refusedAddress();
    const { port, seen } = await startDialer([backend(refused), backend(good.address)], { connectTimeoutMs: 2000 });

    // Round robin: at least one of the two connections is offered the refusing backend first.
    expect(await roundTrip(connectClient(port), 'ping')).toBe('ping');
    expect(await roundTrip(connectClient(port), 'pong')).toBe('pong');
    expect(seen.failed.length).toBeGreaterThanOrEqual(1);
    for (const failure of seen.failed) expect(failure).toEqual({ address: refused, err: 'ECONNREFUSED', data: 'conn-data' });
    expect(seen.connected).toEqual({ address: good.address, data: 'conn-data' });
    expect(seen.exhausted).toBeUndefined();
    expect(good.accepted()).toBe(2);
  });

  it('tries each backend at most once and hands the client back open when all refuse', async () => {
    const addresses = [await refusedAddress(), await refusedAddress(), await refusedAddress()];
    const { port, seen } = await startDialer(
      addresses.map((a) => backend(a)),
      { connectTimeoutMs: 2000, retries: 5 },
    );

    await closedByPeer(connectClient(port));
    expect(seen.failed.map((f) => f.err)).toEqual(['ECONNREFUSED', 'ECONNREFUSED', 'ECONNREFUSED']);
    expect(new Set(seen.failed.map((f) => f.address))).toEqual(new Set(addresses));
    expect(seen.connected).toBeUndefined();
    expect(seen.exhausted).toMatchObject({ tried: 3, clientOpen: true, data: 'conn-data' });
    expect(seen.exhausted?.last).toContain(`${seen.failed[2]?.address}: `);
  });

  it('stops after the registry\'s retries', async () => {
    const addresses = [await refusedAddress(), await refusedAddress(), await refusedAddress(), await refusedAddress()];
    const { port, seen } = await startDialer(
      addresses.map((a) => backend(a)),
      { connectTimeoutMs: 2000, retries: 1 },
    );

    await closedByPeer(connectClient(port));
    expect(seen.failed).toHaveLength(2);
    expect(seen.exhausted).toMatchObject({ tried: 2, clientOpen: true });
  });

  it('skips a backend that does not accept within the connect timeout', async () => {
    const silent = await blackhole();
    const good = await startEcho();
    const { port, seen } = await startDialer([backend(silent.address), backend(good.address)], { connectTimeoutMs: 200 });

    // One of the two is offered the silent backend first. Sent while the dialer still waits on
    // it: the paused client keeps the bytes.
    const [one, two] = [connectClient(port), connectClient(port)];
    expect(await Promise.all([roundTrip(one, 'early'), roundTrip(two, 'later')])).toEqual(['early', 'later']);
    expect(seen.failed.length).toBeGreaterThanOrEqual(1);
    for (const failure of seen.failed) expect(failure).toEqual({ address: silent.address, err: 'timeout', data: 'conn-data' });
    expect(good.accepted()).toBe(2);
  });

  it("takes the route's connect timeout over the default, and reports it as the last failure", async () => {
    const silent = await blackhole();
    const { port, seen } = await startDialer([backend(silent.address)], {
      connectTimeoutMs: 20_000,
      policy: { ...ROUND_ROBIN, timeouts: { connectMs: 200 } },
    });

    await closedByPeer(connectClient(port));
    expect(seen.failed).toEqual([{ address: silent.address, err: 'timeout', data: 'conn-data' }]);
    expect(seen.exhausted).toMatchObject({ tried: 1, clientOpen: true });
    expect(seen.exhausted?.last).toBe(`${silent.address}: no connection within 200 ms`);
  });

  it('dials nothing once the only backend\'s breaker is open, and says none was tried', async () => {
    const refused = await refusedAddress();
    const { port, seen, upstreams } = await startDialer([backend(refused)], {
      connectTimeoutMs: 2000,
      breaker: { volumeThreshold: 1, errorThresholdPercentage: 50, resetTimeoutMs: 60_000 },
    });

    await closedByPeer(connectClient(port));
    expect(upstreams.state(refused)?.breaker).toBe('open');
    seen.failed.length = 0;
    await closedByPeer(connectClient(port));
    expect(seen.failed).toEqual([]);
    expect(seen.exhausted).toMatchObject({ tried: 0, clientOpen: true, last: 'no backend available' });
  });

  it('counts an open connection in flight until it closes', async () => {
    const good = await startEcho();
    const { port, upstreams } = await startDialer([backend(good.address)], { connectTimeoutMs: 2000 });

    const client = connectClient(port);
    expect(await roundTrip(client, 'hi')).toBe('hi');
    expect(upstreams.state(good.address)?.inFlight).toBe(1);
    client.destroy();
    await waitFor(() => upstreams.state(good.address)?.inFlight === 0, 'the connection to stop counting');
  });

  it('destroys the pending backend connection when the client resets while dialling, and stops', async () => {
    const silent = await blackhole();
    // A timeout longer than waitFor's: the pending connect can only end because the dialer destroyed it.
    const { port, seen, upstreams } = await startDialer([backend(silent.address)], { connectTimeoutMs: 20_000 });
    const before = connectsPendingTo(silent.port);

    const client = connectClient(port);
    await waitFor(() => connectsPendingTo(silent.port) > before, 'the dialer to be connecting to the silent backend');
    client.resetAndDestroy();
    await waitFor(() => connectsPendingTo(silent.port) === before, 'the pending backend connection to be destroyed');
    expect(seen).toEqual({ failed: [], connected: undefined, exhausted: undefined });
    // Neither in flight nor held against the backend's breaker.
    expect(upstreams.state(silent.address)).toEqual({ breaker: 'closed', inFlight: 0, latencyMs: 0 });
  });
});
