import net, { type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { tunnel } from '../../../src/proxy/tunnel.js';
import { waitFor } from '../../helpers/wait-for.js';

const MiB = 1024 * 1024;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function listen(onConnection: (socket: Socket) => void, pauseOnConnect: boolean): Promise<number> {
  const sockets: Socket[] = [];
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect }, (socket) => {
    sockets.push(socket);
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  return (server.address() as AddressInfo).port;
}

/** client -> "proxy" (tunnel) -> a backend that reads nothing until `resume()`. */
async function setUp() {
  let backendSocket: Socket | undefined;
  const backendPort = await listen((socket) => (backendSocket = socket), true);
  const ends: { client?: Socket; upstream?: Socket } = {};
  const proxyPort = await listen((client) => {
    const upstream = net.connect({ port: backendPort, host: '127.0.0.1', allowHalfOpen: true });
    upstream.once('connect', () => {
      ends.client = client;
      ends.upstream = upstream;
      tunnel(client, upstream);
    });
  }, true);
  const client = net.connect({ port: proxyPort, host: '127.0.0.1', allowHalfOpen: true });
  client.on('error', () => {});
  cleanups.push(() => client.destroy());
  await waitFor(() => ends.upstream !== undefined && backendSocket !== undefined, 'the tunnel');
  return { client, ends: ends as Required<typeof ends>, backend: () => backendSocket as Socket };
}

describe('tunnel backpressure', () => {
  it('a backend that does not read stops the tunnel reading its client; nothing is lost once it reads', async () => {
    const { client, ends, backend } = await setUp();
    const total = 64 * MiB;
    // The client queues everything at once: only the tunnel's backpressure bounds what baton holds.
    for (let i = 0; i < total / MiB; i++) client.write(Buffer.alloc(MiB, i));
    client.end();

    await waitFor(() => ends.client.isPaused() && ends.upstream.writableNeedDrain, 'the tunnel to stop reading its client', 10_000);
    // What baton holds in memory for the backend: about one read, not the client's 64 MiB.
    expect(ends.upstream.writableLength).toBeLessThanOrEqual(MiB);
    expect(ends.client.bytesRead).toBeLessThan(total / 2);

    let received = 0;
    let sum = 0;
    const done = new Promise<void>((resolve) => backend().on('end', resolve));
    backend().on('data', (chunk: Buffer) => {
      // Each MiB is filled with its index: the sum of first bytes of each MiB boundary checks order.
      for (let at = (MiB - (received % MiB)) % MiB; at < chunk.length; at += MiB) sum += chunk[at] as number;
      received += chunk.length;
    });
    backend().resume();
    await done;
    expect(received).toBe(total);
    expect(sum).toBe(((total / MiB - 1) * (total / MiB)) / 2);
  });

  it('a client that does not read stops the tunnel reading the backend', async () => {
    const { client, ends, backend } = await setUp();
    client.pause();
    const total = 64 * MiB;
    for (let i = 0; i < total / MiB; i++) backend().write(Buffer.alloc(MiB, i));

    await waitFor(() => ends.upstream.isPaused() && ends.client.writableNeedDrain, 'the tunnel to stop reading the backend', 10_000);
    expect(ends.client.writableLength).toBeLessThanOrEqual(MiB);
    expect(ends.upstream.bytesRead).toBeLessThan(total / 2);

    let received = 0;
    client.on('data', (chunk: Buffer) => (received += chunk.length));
    client.resume();
    await waitFor(() => received === total, 'every byte at the client', 20_000);
  });
});
