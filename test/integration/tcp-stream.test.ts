import { createHash } from 'node:crypto';
import net, { type AddressInfo, type Socket } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/observability/metrics.js';
import { createTcpHandler } from '../../src/proxy/tcp.js';
import { UpstreamRegistry } from '../../src/upstream/registry.js';
import { waitFor } from '../helpers/wait-for.js';
import { portRoute, portTable, swappable } from './tcp-harness.js';

const MiB = 1024 * 1024;
const PORT = 7000;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return (server.address() as AddressInfo).port;
}

/** `size` bytes of a seeded xorshift32 stream: the same bytes every run. */
function pseudoRandom(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Writes `data` in chunks of pseudo-random sizes (1 B to about 320 KiB) with backpressure, then ends. */
function sendInChunks(socket: Socket, data: Buffer, seed: number): void {
  const sizes = pseudoRandom(4096, seed);
  let at = 0;
  let i = 0;
  const write = (): void => {
    while (at < data.length) {
      const chunk = data.subarray(at, at + (sizes[i++ % sizes.length] as number) * 1283 + 1);
      at += chunk.length;
      if (!socket.write(chunk)) return void socket.once('drain', write);
    }
    socket.end();
  };
  write();
}

/** Length and SHA-256 of everything `socket` sends until it ends, read slowly: paused after every chunk until the next turn of the loop. */
function readSlowly(socket: Socket): Promise<string> {
  const hash = createHash('sha256');
  let bytes = 0;
  return new Promise((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
      socket.pause();
      setImmediate(() => socket.resume());
    });
    socket.once('end', () => resolve(`${bytes}:${hash.digest('hex')}`));
    socket.once('error', reject);
  });
}

const digest = (data: Buffer) => `${data.length}:${createHash('sha256').update(data).digest('hex')}`;

describe('raw TCP streams', () => {
  it('relays known pseudo-random streams on concurrent connections, each way, to slow readers, byte for byte', async () => {
    // The backend reads slowly and sends back what it read, as it reads it: each connection's
    // stream crosses baton twice, and a byte from another connection would change its hash.
    const backend = net.createServer({ allowHalfOpen: true }, (socket) => {
      socket.on('data', (chunk: Buffer) => {
        socket.pause();
        if (socket.write(chunk)) setImmediate(() => socket.resume());
        else socket.once('drain', () => socket.resume());
      });
      socket.on('end', () => socket.end());
    });
    const backendPort = await listen(backend);
    const metrics = createMetrics();
    const upstreams = new UpstreamRegistry({ drainMs: 30_000, logger: pino({ level: 'silent' }), metrics });
    cleanups.push(() => upstreams.close());
    const route = portRoute('tcp', PORT, [`127.0.0.1:${backendPort}`]);
    const handler = createTcpHandler({ tables: swappable(portTable([route])), upstreams, metrics, logger: pino({ level: 'silent' }), connectTimeoutMs: 2000, idleTimeoutMs: 0 });
    const proxyPort = await listen(net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => handler(socket, PORT)));

    const streams = [1, 2, 3, 4].map((seed) => pseudoRandom(6 * MiB, 0x9e3779b9 * seed));
    const results = streams.map((data, i) => {
      const client = net.connect({ port: proxyPort, host: '127.0.0.1', allowHalfOpen: true });
      cleanups.push(() => client.destroy());
      const received = readSlowly(client);
      client.once('connect', () => sendInChunks(client, data, i + 1));
      return received;
    });
    expect(await Promise.all(results)).toEqual(streams.map(digest));
    // The route's byte counters saw every byte each way.
    const stats = metrics.routeStats.of(route.id);
    await waitFor(() => stats.active === 0, 'every connection to be recorded');
    expect(stats.bytesIn).toBe(4 * 6 * MiB);
    expect(stats.bytesOut).toBe(4 * 6 * MiB);
  });
});
