import { createServer, type Server, type Socket } from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { H1Agent, type H1Handler, type H1Pool, type H1RequestOptions } from '../../src/upstream/h1-pool.js';
import { waitFor } from '../helpers/wait-for.js';

/** A raw HTTP/1.1 backend: `answer` writes what it likes for each request head it reads. */
interface RawBackend {
  readonly address: string;
  readonly heads: string[];
  /** Connections accepted, and those closed. */
  accepted: number;
  closed: number;
  readonly sockets: Set<Socket>;
}

const servers: Server[] = [];
const accepted = new Set<Socket>();
afterEach(async () => {
  for (const socket of accepted) socket.destroy();
  accepted.clear();
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

/** A backend on 127.0.0.1 that counts connections and gives each to `onConnection`. */
async function listen(onConnection: (socket: Socket, backend: RawBackend) => void): Promise<RawBackend> {
  const backend: RawBackend = { address: '', heads: [], accepted: 0, closed: 0, sockets: new Set() };
  const server = createServer((socket) => {
    backend.accepted += 1;
    backend.sockets.add(socket);
    accepted.add(socket);
    socket.on('close', () => {
      backend.closed += 1;
      backend.sockets.delete(socket);
    });
    socket.on('error', () => undefined);
    onConnection(socket, backend);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return Object.assign(backend, { address: `127.0.0.1:${port}` });
}

/** A raw HTTP/1.1 backend: `answer` writes what it likes for each request head it reads (bodies are not expected). */
function rawBackend(answer: (socket: Socket, head: string, n: number) => void): Promise<RawBackend> {
  return listen((socket, backend) => {
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      let end: number;
      while ((end = buffered.indexOf('\r\n\r\n')) !== -1) {
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        backend.heads.push(head);
        answer(socket, head, backend.heads.length);
      }
    });
  });
}

/** Records what a pool tells one request. */
class Recorder implements H1Handler {
  status = 0;
  headers: string[] = [];
  readonly chunks: Buffer[] = [];
  completed = false;
  error: (Error & { code?: string }) | null = null;
  abort: (() => void) | null = null;
  resume: (() => void) | null = null;
  onBodySent?: (chunk: Buffer) => void;

  constructor(private readonly pauseOnData = false) {}

  onConnect(abort: () => void): void {
    this.abort = abort;
  }
  onHeaders(status: number, headers: string[], resume: () => void): boolean {
    this.status = status;
    this.headers = headers;
    this.resume = resume;
    return true;
  }
  onData(chunk: Buffer): boolean {
    this.chunks.push(Buffer.from(chunk));
    return !this.pauseOnData;
  }
  onComplete(): void {
    this.completed = true;
  }
  onError(err: Error): void {
    this.error = err;
  }
  get bytes(): number {
    return this.chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  }
  get done(): boolean {
    return this.completed || this.error !== null;
  }
}

const GET: H1RequestOptions = { method: 'GET', path: '/', headers: ['host', 'app.test'], body: null, headersTimeout: 5000, bodyTimeout: 5000 };

function ok(body = 'ok'): (socket: Socket) => void {
  return (socket) => socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
}

const agents: H1Pool[] = [];
afterEach(() => {
  for (const pool of agents.splice(0)) pool.destroy();
});

function poolFor(backend: { address: string }, options: Partial<ConstructorParameters<typeof H1Agent>[0]> = {}, connectTimeoutMs = 2000): H1Pool {
  const agent = new H1Agent({ connections: 8, keepAliveTimeoutMs: 4000, ...options });
  const pool = agent.pool(backend.address, connectTimeoutMs);
  agents.push(pool);
  return pool;
}

async function request(pool: H1Pool, options: H1RequestOptions = GET, handler = new Recorder()): Promise<Recorder> {
  pool.dispatch(options, handler);
  await waitFor(() => handler.done);
  return handler;
}

describe('H1Pool: keep-alive connections to one backend', () => {
  it('sends the request head as given and reuses one connection for requests in sequence', async () => {
    const backend = await rawBackend(ok('hi'));
    const pool = poolFor(backend);
    for (let i = 0; i < 3; i++) {
      const reply = await request(pool);
      expect(reply.status).toBe(200);
      expect(Buffer.concat(reply.chunks).toString()).toBe('hi');
    }
    expect(backend.accepted).toBe(1);
    expect(backend.heads[0]).toBe('GET / HTTP/1.1\r\nhost: app.test\r\nconnection: keep-alive');
  });

  it('names the backend when the request has no Host, and says a body-less POST has no body', async () => {
    const backend = await rawBackend(ok());
    const pool = poolFor(backend);
    await request(pool, { ...GET, method: 'POST', headers: [] });
    expect(backend.heads[0]).toBe(`POST / HTTP/1.1\r\nhost: ${backend.address}\r\nconnection: keep-alive\r\ncontent-length: 0`);
  });

  it('opens no more than its connection limit and serves queued requests in turn', async () => {
    const pending: Socket[] = [];
    const backend = await rawBackend((socket) => pending.push(socket));
    const pool = poolFor(backend, { connections: 2 });
    const replies = Array.from({ length: 5 }, () => new Recorder());
    for (const reply of replies) pool.dispatch(GET, reply);
    await waitFor(() => pending.length === 2);
    // Answer whatever arrives until all five are done; a third connection would show in `accepted`.
    while (!replies.every((reply) => reply.done)) {
      pending.shift()?.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(replies.every((reply) => reply.status === 200)).toBe(true);
    expect(backend.accepted).toBe(2);
  });

  it('stops reading while the handler is paused and finishes the body after resume', async () => {
    const size = 16 * 1024 * 1024;
    const backend = await rawBackend((socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${size}\r\n\r\n`);
      socket.write(Buffer.alloc(size, 0x61));
    });
    const pool = poolFor(backend);
    const reply = new Recorder(true);
    pool.dispatch(GET, reply);
    await waitFor(() => reply.chunks.length > 0);
    await new Promise((resolve) => setTimeout(resolve, 200));
    // One read, maybe a few already in flight; nowhere near the whole body.
    expect(reply.bytes).toBeLessThan(size / 2);
    expect(reply.completed).toBe(false);
    while (!reply.completed) {
      reply.resume?.();
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    expect(reply.bytes).toBe(size);
  });

  it('closes an idle connection after its keep-alive timeout', async () => {
    const backend = await rawBackend(ok());
    const pool = poolFor(backend, { keepAliveTimeoutMs: 150 });
    await request(pool);
    await waitFor(() => backend.closed === 1);
    await request(pool);
    expect(backend.accepted).toBe(2);
  });

  it('does not reuse a connection past the keep-alive timeout the backend announced, less a second', async () => {
    const backend = await rawBackend((socket) => socket.write('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=1\r\nContent-Length: 0\r\n\r\n'));
    const pool = poolFor(backend);
    await request(pool);
    await waitFor(() => backend.closed === 1);
  });

  it('opens a new connection when the backend closed the idle one', async () => {
    const backend = await rawBackend(ok());
    const pool = poolFor(backend);
    await request(pool);
    for (const socket of backend.sockets) socket.end();
    await waitFor(() => backend.closed === 1);
    const reply = await request(pool);
    expect(reply.status).toBe(200);
    expect(backend.accepted).toBe(2);
  });

  it('closes the connection when the response cannot be reused (smuggled bytes after it)', async () => {
    const backend = await rawBackend((socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil'));
    const pool = poolFor(backend);
    const first = await request(pool);
    expect(Buffer.concat(first.chunks).toString()).toBe('ok');
    await waitFor(() => backend.closed === 1);
    const second = await request(pool);
    expect(Buffer.concat(second.chunks).toString()).toBe('ok');
    expect(backend.accepted).toBe(2);
  });
});

describe('H1Pool: request bodies', () => {
  /** A backend that reads one request per connection at a time, head and body as the head frames it, and answers 200 at the body's end. */
  async function bodyBackend(): Promise<RawBackend & { bodies: string[] }> {
    const bodies: string[] = [];
    const backend = await listen((socket, seen) => {
      let wire = '';
      socket.on('data', (chunk) => {
        wire += chunk.toString('latin1');
        const end = wire.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = wire.slice(0, end);
        const rest = wire.slice(end + 4);
        const length = /content-length: (\d+)/i.exec(head);
        let body: string | null = null;
        if (length !== null && rest.length >= Number(length[1])) body = rest.slice(0, Number(length[1]));
        if (length === null && rest.endsWith('0\r\n\r\n')) body = rest;
        if (body === null) return;
        seen.heads.push(head);
        bodies.push(body);
        wire = '';
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      });
    });
    return Object.assign(backend, { bodies });
  }

  it('streams a body with a Content-Length as it is, and counts what it sent', async () => {
    const backend = await bodyBackend();
    const pool = poolFor(backend);
    const sent: number[] = [];
    const reply = new Recorder();
    reply.onBodySent = (chunk: Buffer) => sent.push(chunk.length);
    pool.dispatch({ ...GET, method: 'POST', headers: ['content-length', '11'], body: Readable.from([Buffer.from('hello '), Buffer.from('world')]) }, reply);
    await waitFor(() => reply.done);
    expect(reply.status).toBe(200);
    expect(backend.bodies).toEqual(['hello world']);
    expect(sent.reduce((a, b) => a + b, 0)).toBe(11);
  });

  it('sends a body without a length chunked', async () => {
    const backend = await bodyBackend();
    const reply = await request(poolFor(backend), { ...GET, method: 'POST', headers: [], body: Readable.from([Buffer.from('abc'), Buffer.from('defgh')]) });
    expect(reply.status).toBe(200);
    expect(backend.heads[0]).toContain('transfer-encoding: chunked');
    expect(backend.bodies).toEqual(['3\r\nabc\r\n5\r\ndefgh\r\n0\r\n\r\n']);
  });

  it('does not reuse a connection answered before its body was all sent', async () => {
    const backend = await rawBackend((socket) => socket.write('HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n'));
    const pool = poolFor(backend);
    const body = new PassThrough();
    body.write('part of it');
    const reply = await request(pool, { ...GET, method: 'POST', headers: ['content-length', '1000'], body });
    expect(reply.status).toBe(413);
    await waitFor(() => backend.closed === 1);
  });

  it('stops reading the body while the backend does not read, and fails the request when the body fails', async () => {
    // A backend that accepts and never reads: the kernel buffers fill.
    const backend = await listen((socket) => socket.pause());
    const pool = poolFor(backend);
    let produced = 0;
    const body = new Readable({
      read() {
        produced += 64 * 1024;
        this.push(Buffer.alloc(64 * 1024));
      },
    });
    const reply = new Recorder();
    pool.dispatch({ ...GET, method: 'POST', headers: ['content-length', String(1024 * 1024 * 1024)], body }, reply);
    await waitFor(() => produced > 0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Socket buffers hold some MiB; nowhere near the 1 GiB offered.
    expect(produced).toBeLessThan(64 * 1024 * 1024);
    body.destroy(new Error('client went away'));
    await waitFor(() => reply.done);
    expect(reply.error?.code).toBe('BATON_REQUEST_BODY');
  });
});

describe('H1Pool: failures', () => {
  it('reports a refused connection', async () => {
    const backend = await rawBackend(ok());
    const address = backend.address;
    await new Promise((resolve) => servers.pop()?.close(resolve));
    const reply = await request(poolFor({ address }));
    expect(reply.error?.code).toBe('ECONNREFUSED');
  });

  it('times out a backend that sends no response head, and closes that connection', async () => {
    const backend = await rawBackend(() => undefined);
    const pool = poolFor(backend);
    const reply = await request(pool, { ...GET, headersTimeout: 150 });
    expect(reply.error?.code).toBe('BATON_HEADERS_TIMEOUT');
    await waitFor(() => backend.closed === 1);
  });

  it('times out a body that stops flowing', async () => {
    const backend = await rawBackend((socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
    const reply = await request(poolFor(backend), { ...GET, bodyTimeout: 150 });
    expect(reply.status).toBe(200);
    expect(reply.error?.code).toBe('BATON_BODY_TIMEOUT');
  });

  it('reports a connection closed before the response ended', async () => {
    const backend = await rawBackend((socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
    const reply = await request(poolFor(backend));
    expect(reply.error?.code).toBe('BATON_SOCKET_CLOSED');
  });

  it('refuses a target it cannot forward without opening a connection', async () => {
    const backend = await rawBackend(ok());
    const reply = await request(poolFor(backend), { ...GET, method: 'OPTIONS', path: '*' });
    expect(reply.error?.code).toBe('BATON_INVALID_REQUEST');
    expect(backend.accepted).toBe(0);
  });

  it('aborting a request mid-response closes its connection and reports nothing more', async () => {
    const backend = await rawBackend((socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
    const pool = poolFor(backend);
    const reply = new Recorder();
    pool.dispatch(GET, reply);
    await waitFor(() => reply.chunks.length === 1);
    reply.abort?.();
    await waitFor(() => backend.closed === 1);
    expect(reply.done).toBe(false);
  });

  it('close(): fails queued requests, lets the running one finish, then resolves', async () => {
    const pending: Socket[] = [];
    const backend = await rawBackend((socket) => pending.push(socket));
    const pool = poolFor(backend, { connections: 1 });
    const running = new Recorder();
    const queued = new Recorder();
    pool.dispatch(GET, running);
    await waitFor(() => pending.length === 1);
    pool.dispatch(GET, queued);
    let closed = false;
    void pool.close().then(() => (closed = true));
    expect(queued.error?.code).toBe('BATON_POOL_CLOSED');
    pending[0]?.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    await waitFor(() => closed);
    expect(running.completed).toBe(true);
    const late = await request(pool);
    expect(late.error?.code).toBe('BATON_POOL_CLOSED');
  });
});
