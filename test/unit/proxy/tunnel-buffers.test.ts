import net, { type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { tunnel } from '../../../src/proxy/tunnel.js';
import { TunnelBuffers } from '../../../src/proxy/tunnel-buffers.js';
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

interface Ends {
  client?: Socket;
  upstream?: Socket;
  closed: boolean;
}

/**
 * client -> "proxy" (accepts paused, dials, tunnels with `buffers`) -> backend, which starts paused.
 * With `early`, the client sends it at once and the proxy reads it into the client's stream
 * before it dials, as a reader of a first message would.
 */
async function setUp(buffers: TunnelBuffers, early?: string) {
  let backendSocket: Socket | undefined;
  const backendPort = await listen((socket) => (backendSocket = socket), true);
  const ends: Ends = { closed: false };
  const proxyPort = await listen(
    (client) => {
      const read = async () => {
        if (early === undefined) return;
        client.pause();
        await waitFor(() => client.readableLength >= early.length, 'the early bytes to be read');
      };
      void read().then(() => {
        const upstream = net.connect({ port: backendPort, host: '127.0.0.1', allowHalfOpen: true });
        upstream.once('connect', () => {
          ends.client = client;
          ends.upstream = upstream;
          tunnel(client, upstream, 0, () => (ends.closed = true), buffers);
        });
      });
    },
    early === undefined,
  );
  const client = net.connect({ port: proxyPort, host: '127.0.0.1', allowHalfOpen: true });
  client.on('error', () => {});
  if (early !== undefined) client.write(early);
  cleanups.push(() => client.destroy());
  await waitFor(() => ends.upstream !== undefined && backendSocket !== undefined, 'the tunnel');
  return { client, ends: ends as Required<Ends>, backend: () => backendSocket as Socket };
}

/** Everything `socket` receives, as it comes. */
function collect(socket: Socket): { bytes: () => number; data: () => Buffer } {
  const chunks: Buffer[] = [];
  let bytes = 0;
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    bytes += chunk.length;
  });
  socket.resume();
  return { bytes: () => bytes, data: () => Buffer.concat(chunks) };
}

describe('tunnel with reused read buffers', () => {
  it('a backend that does not read stops the client side after one read; the buffer goes back once reads get small', async () => {
    const buffers = new TunnelBuffers();
    const { client, ends, backend } = await setUp(buffers);
    const total = 64 * MiB;
    for (let i = 0; i < total / MiB; i++) client.write(Buffer.alloc(MiB, i));

    await waitFor(() => ends.upstream.writableLength > 0 && buffers.lent === 1, 'the client side to wait on the backend', 10_000);
    // What baton holds for the backend: at most one read, not the client's 64 MiB.
    expect(ends.upstream.writableLength).toBeLessThanOrEqual(buffers.size);
    expect(ends.client.bytesRead).toBeLessThan(total / 2);

    let received = 0;
    backend().on('data', (chunk: Buffer) => (received += chunk.length));
    backend().resume();
    await waitFor(() => received === total, 'every byte at the backend', 20_000);
    // A small read after the large ones: the direction reads into the shared buffer again.
    client.write('x');
    await waitFor(() => received === total + 1, 'the last byte');
    expect(buffers.lent).toBe(0);
  });

  it('a client that does not read stops the backend side after one read', async () => {
    const buffers = new TunnelBuffers();
    const { client, ends, backend } = await setUp(buffers);
    client.pause();
    const total = 64 * MiB;
    for (let i = 0; i < total / MiB; i++) backend().write(Buffer.alloc(MiB, i));

    await waitFor(() => ends.client.writableLength > 0 && buffers.lent === 1, 'the backend side to wait on the client', 10_000);
    expect(ends.client.writableLength).toBeLessThanOrEqual(buffers.size);
    expect(ends.upstream.bytesRead).toBeLessThan(total / 2);

    let received = 0;
    let sum = 0;
    client.on('data', (chunk: Buffer) => {
      // Each MiB is filled with its index: the first byte of every MiB checks order.
      for (let at = (MiB - (received % MiB)) % MiB; at < chunk.length; at += MiB) sum += chunk[at] as number;
      received += chunk.length;
    });
    client.resume();
    await waitFor(() => received === total, 'every byte at the client', 20_000);
    expect(sum).toBe(((total / MiB - 1) * (total / MiB)) / 2);
    // Closing gives back the buffer the backend side still held.
    client.end();
    backend().end();
    await waitFor(() => ends.closed, 'both sockets to close');
    expect(buffers.lent).toBe(0);
  });

  // A write still queued points into the buffer it was read into; `cork()` holds the writes of
  // the backend side in node, as a full kernel buffer would, so that the case is certain.
  it('a queued write read into the shared buffer keeps its bytes while other connections read into it', async () => {
    const buffers = new TunnelBuffers();
    const first = await setUp(buffers);
    const second = await setUp(buffers);
    const atFirst = collect(first.backend());
    first.ends.upstream.cork();
    first.client.write(Buffer.alloc(1000, 'a'));
    await waitFor(() => first.ends.upstream.writableLength === 1000, 'the small read to be queued');
    const atSecond = collect(second.backend());
    second.client.write(Buffer.alloc(1000, 'b'));
    await waitFor(() => atSecond.bytes() === 1000, 'the other connection to pass its bytes');
    first.ends.upstream.uncork();
    await waitFor(() => atFirst.bytes() === 1000, 'the queued bytes');
    expect(atFirst.data().equals(Buffer.alloc(1000, 'a'))).toBe(true);
  });

  it('a queued write from a buffer of its own keeps its bytes while other connections take buffers', async () => {
    const buffers = new TunnelBuffers();
    const first = await setUp(buffers);
    const second = await setUp(buffers);
    const atFirst = collect(first.backend());
    first.client.write(Buffer.alloc(64 * 1024, 'x'));
    // A large read: the next one goes into the direction's own buffer.
    await waitFor(() => atFirst.bytes() === 64 * 1024 && buffers.lent === 1, 'a large read');
    first.ends.upstream.cork();
    first.client.write(Buffer.alloc(1000, 'a'));
    await waitFor(() => first.ends.upstream.writableLength === 1000, 'the small read to be queued');
    const atSecond = collect(second.backend());
    for (let i = 0; i < 4; i++) second.client.write(Buffer.alloc(64 * 1024, 'b'));
    await waitFor(() => atSecond.bytes() === 4 * 64 * 1024, 'the other connection to pass its bytes');
    first.ends.upstream.uncork();
    await waitFor(() => atFirst.bytes() === 64 * 1024 + 1000, 'the queued bytes');
    expect(atFirst.data().subarray(64 * 1024).equals(Buffer.alloc(1000, 'a'))).toBe(true);
  });

  it('bytes a client sent before the tunnel started, still in its stream, arrive first', async () => {
    const buffers = new TunnelBuffers();
    const { client, backend } = await setUp(buffers, 'first');
    client.write(' and after');
    client.end();
    const chunks: Buffer[] = [];
    backend().on('data', (chunk: Buffer) => chunks.push(chunk));
    backend().resume();
    await new Promise((resolve) => backend().once('end', resolve));
    expect(Buffer.concat(chunks).toString()).toBe('first and after');
  });
});
