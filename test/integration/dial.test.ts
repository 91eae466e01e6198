import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net, { type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { dial, type DialHooks } from '../../src/proxy/dial.js';
import { tunnel } from '../../src/proxy/tunnel.js';
import type { Backend } from '../../src/routing/types.js';
import { waitFor } from '../helpers/wait-for.js';
import { backend, freeTcpPort } from './tcp-harness.js';

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

/**
 * A listener whose every connection is dialled to `backends` from index `first`: a connected
 * client is tunnelled, an exhausted one closed. Returns its port and what the hooks saw. Its
 * sockets start reading at once (no pauseOnConnect), as those of the HTTP and TLS entry points
 * do: the dialer pauses them itself, and still sees them reset.
 */
async function startDialer(backends: readonly Backend[], first: number, connectTimeoutMs: number): Promise<{ port: number; seen: Seen }> {
  const seen: Seen = { failed: [], connected: undefined, exhausted: undefined };
  const hooks: DialHooks<string> = {
    connectTimeoutMs,
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
  const clients: Socket[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    clients.push(client);
    dial(hooks, client, backends, first, 'conn-data');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    for (const client of clients) client.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  return { port: (server.address() as AddressInfo).port, seen };
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

describe('dial: first backend that accepts', () => {
  it('starts at `first`, skips a refusing backend for the next, and connects there', async () => {
    const skipped = await startEcho();
    const good = await startEcho();
    const refused = await refusedAddress();
    const { port, seen } = await startDialer([backend(skipped.address), backend(refused), backend(good.address)], 1, 2000);

    const client = connectClient(port);
    expect(await roundTrip(client, 'ping')).toBe('ping');
    expect(seen.failed).toEqual([{ address: refused, err: 'ECONNREFUSED', data: 'conn-data' }]);
    expect(seen.connected).toEqual({ address: good.address, data: 'conn-data' });
    expect(seen.exhausted).toBeUndefined();
    expect([skipped.accepted(), good.accepted()]).toEqual([0, 1]);
  });

  it('wraps around the list, trying each backend once, and hands the client back open when all refuse', async () => {
    const addresses = [await refusedAddress(), await refusedAddress(), await refusedAddress()];
    const { port, seen } = await startDialer(addresses.map((a) => backend(a)), 2, 2000);

    await closedByPeer(connectClient(port));
    expect(seen.failed.map((f) => [f.address, f.err])).toEqual([
      [addresses[2], 'ECONNREFUSED'],
      [addresses[0], 'ECONNREFUSED'],
      [addresses[1], 'ECONNREFUSED'],
    ]);
    expect(seen.connected).toBeUndefined();
    expect(seen.exhausted).toMatchObject({ tried: 3, clientOpen: true, data: 'conn-data' });
    expect(seen.exhausted?.last).toContain(`${addresses[1]}: `);
  });

  it('skips a backend that does not accept within the connect timeout', async () => {
    const silent = await blackhole();
    const good = await startEcho();
    const { port, seen } = await startDialer([backend(silent.address), backend(good.address)], 0, 200);

    const client = connectClient(port);
    // Sent while the dialer still waits on the silent backend: the paused client keeps it.
    expect(await roundTrip(client, 'early')).toBe('early');
    expect(seen.failed).toEqual([{ address: silent.address, err: 'timeout', data: 'conn-data' }]);
    expect(seen.connected?.address).toBe(good.address);
  });

  it('reports a timeout as the last failure when every backend is silent', async () => {
    const silent = await blackhole();
    const { port, seen } = await startDialer([backend(silent.address)], 0, 200);

    await closedByPeer(connectClient(port));
    expect(seen.failed).toEqual([{ address: silent.address, err: 'timeout', data: 'conn-data' }]);
    expect(seen.exhausted).toMatchObject({ tried: 1, clientOpen: true });
    expect(seen.exhausted?.last).toBe(`${silent.address}: no connection within 200 ms`);
  });

  it('destroys the pending backend connection when the client resets while dialling, and stops', async () => {
    const silent = await blackhole();
    const next = await startEcho();
    // A timeout longer than waitFor's: the pending connect can only end because the dialer destroyed it.
    const { port, seen } = await startDialer([backend(silent.address), backend(next.address)], 0, 20_000);
    const before = connectsPendingTo(silent.port);

    const client = connectClient(port);
    await waitFor(() => connectsPendingTo(silent.port) > before, 'the dialer to be connecting to the silent backend');
    client.resetAndDestroy();
    await waitFor(() => connectsPendingTo(silent.port) === before, 'the pending backend connection to be destroyed');
    expect(seen).toEqual({ failed: [], connected: undefined, exhausted: undefined });
    expect(next.accepted()).toBe(0);
  });
});
