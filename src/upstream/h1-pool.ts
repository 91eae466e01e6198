import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { RequestBodySender, type BodyOwner } from './h1-request-body.js';
import { H1Error, ResponseReader, type ResponseSink } from './h1-response.js';

/**
 * baton's keep-alive HTTP/1.1 client to one backend: raw sockets, a small strict response reader
 * (h1-response.ts), request bodies streamed with backpressure (h1-request-body.ts), one request
 * at a time per connection. It replaced undici's pool, whose generality cost the most per request
 * of anything left in baton (request object, header validation the client side has done already,
 * a wasm parser, Buffer header pairs turned back into strings).
 *
 * The handler is the one undici's `dispatch` takes (onConnect, onHeaders, onData, onComplete,
 * onError), so the exchange drives both the same way (retries included: a reused connection the
 * backend closed is a reset, which the exchange retries on another backend for idempotent
 * methods). One difference: `abort` ends a request silently, since its caller knows.
 *
 * Timeouts (connect, response head, pause in the body, idle keep-alive) are deadlines checked by
 * one sweep timer per agent, not a timer per request; they fire up to `SWEEP_MS` late.
 */

export interface H1Handler {
  onConnect(abort: (err?: Error) => void): void;
  onHeaders(statusCode: number, rawHeaders: string[], resume: () => void, statusText: string): boolean;
  onData(chunk: Buffer): boolean;
  onComplete(trailers: null): void;
  onError(err: Error): void;
  /** A chunk of the request body went to the backend. */
  onBodySent?(chunk: Buffer): void;
}

export interface H1RequestOptions {
  readonly method: string;
  readonly path: string;
  /** `[name, value, ...]`, hop-by-hop headers already removed. */
  readonly headers: readonly string[];
  /** The request body (Content-Length in `headers`, else sent chunked); null for none. */
  readonly body: Readable | null;
  /** Time for the response head once the request is written; 0 = none. */
  readonly headersTimeout: number;
  /** Longest pause between reads of the body; 0 = none. */
  readonly bodyTimeout: number;
}

export interface H1AgentOptions {
  /** Most connections per backend; requests beyond wait in order. */
  readonly connections: number;
  /** Idle connections are closed after this (sooner when the backend's `Keep-Alive: timeout` says so). */
  readonly keepAliveTimeoutMs: number;
  readonly maxHeaderSize?: number;
}

const SWEEP_MS = 50;
const ABSOLUTE = /^https?:\/\//i;
const INVALID_PATH = /[^\u0021-\u00ff]/;
/** Margin under the backend's announced keep-alive timeout, so baton never reuses a connection the backend is closing. */
const KEEP_ALIVE_MARGIN_MS = 1000;

/** The pools of one registry and the timer that checks their deadlines. */
export class H1Agent {
  private readonly pools = new Set<H1Pool>();
  private timer: NodeJS.Timeout | null = null;
  readonly maxHeaderSize: number;

  constructor(readonly options: H1AgentOptions) {
    this.maxHeaderSize = options.maxHeaderSize ?? 16 * 1024;
  }

  /** A pool for the backend at `address` (`host:port`, `[v6]:port`). */
  pool(address: string, connectTimeoutMs: number): H1Pool {
    const pool = new H1Pool(this, address, connectTimeoutMs);
    this.pools.add(pool);
    return pool;
  }

  /** The pool has a connection: the sweep runs while some pool has one. */
  wake(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(sweepAgent, SWEEP_MS, this);
    this.timer.unref();
  }

  forget(pool: H1Pool): void {
    this.pools.delete(pool);
  }

  sweep(): void {
    const now = performance.now();
    let connections = 0;
    for (const pool of this.pools) connections += pool.sweep(now);
    if (connections === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }
}

function sweepAgent(agent: H1Agent): void {
  agent.sweep();
}

/** One request in a pool: queued, then on a connection. */
class H1Request {
  connection: H1Connection | null = null;
  cancelled = false;
  readonly abort = (): void => this.pool.cancel(this);

  constructor(
    readonly pool: H1Pool,
    readonly options: H1RequestOptions,
    readonly handler: H1Handler,
  ) {}
}

/** The connections and the queue of one backend. */
export class H1Pool {
  private readonly host: string;
  private readonly port: number;
  private readonly idle: H1Connection[] = [];
  private readonly connections = new Set<H1Connection>();
  private readonly queue: H1Request[] = [];
  private closed = false;
  private whenEmpty: (() => void) | null = null;

  constructor(
    readonly agent: H1Agent,
    readonly address: string,
    readonly connectTimeoutMs: number,
  ) {
    const colon = address.lastIndexOf(':');
    const host = address.slice(0, colon);
    this.host = host.startsWith('[') ? host.slice(1, -1) : host;
    this.port = Number(address.slice(colon + 1));
  }

  dispatch(options: H1RequestOptions, handler: H1Handler): void {
    const request = new H1Request(this, options, handler);
    handler.onConnect(request.abort);
    if (this.closed) {
      handler.onError(new H1Error('BATON_POOL_CLOSED', 'the backend pool is closed'));
      return;
    }
    // What undici refused: a target in neither origin nor absolute form (`OPTIONS *`), or a byte a request line cannot carry.
    const path = options.path;
    if ((path.charCodeAt(0) !== 0x2f && !ABSOLUTE.test(path)) || INVALID_PATH.test(path)) {
      handler.onError(new H1Error('BATON_INVALID_REQUEST', 'request target cannot be forwarded'));
      return;
    }
    this.schedule(request);
  }

  /** Refuses new requests, fails queued ones, closes idle connections and busy ones once their response ends. */
  close(): Promise<void> {
    this.closed = true;
    for (const request of this.queue.splice(0)) request.handler.onError(new H1Error('BATON_POOL_CLOSED', 'the backend pool is closed'));
    for (const connection of this.idle.splice(0)) connection.socket.destroy();
    if (this.connections.size === 0) {
      this.agent.forget(this);
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.whenEmpty = resolve;
    });
  }

  /** Closes, and cuts the requests still running. */
  destroy(): void {
    void this.close();
    for (const connection of this.connections) connection.fail(new H1Error('BATON_POOL_CLOSED', 'the backend pool was destroyed'));
  }

  cancel(request: H1Request): void {
    if (request.cancelled) return;
    request.cancelled = true;
    const connection = request.connection;
    if (connection !== null) {
      // Mid-response: the connection cannot carry another request.
      connection.request = null;
      connection.socket.destroy();
      return;
    }
    const at = this.queue.indexOf(request);
    if (at !== -1) this.queue.splice(at, 1);
  }

  /** A connection is ready for a request: the next queued one, or it waits idle. */
  free(connection: H1Connection): void {
    if (this.closed) {
      connection.socket.destroy();
      return;
    }
    const next = this.queue.shift();
    if (next !== undefined) {
      connection.send(next);
      return;
    }
    connection.idleSince = performance.now();
    this.idle.push(connection);
  }

  /** A connection never connected: the first request waiting gets the error. */
  connectFailed(err: Error): void {
    this.queue.shift()?.handler.onError(err);
  }

  /** A connection failed under `request`. */
  requestFailed(request: H1Request, err: Error): void {
    if (request.cancelled) return;
    request.cancelled = true;
    request.handler.onError(err);
  }

  removed(connection: H1Connection): void {
    this.connections.delete(connection);
    const at = this.idle.indexOf(connection);
    if (at !== -1) this.idle.splice(at, 1);
    if (this.closed) {
      if (this.connections.size === 0) {
        this.agent.forget(this);
        this.whenEmpty?.();
        this.whenEmpty = null;
      }
    } else {
      // Requests still queued need a connection now that this one is gone.
      this.openIfNeeded();
    }
  }

  /** Checks the deadlines of every connection; returns how many there are. */
  sweep(now: number): number {
    for (const connection of this.connections) connection.check(now);
    return this.connections.size;
  }

  private schedule(request: H1Request): void {
    const connection = this.idle.pop();
    if (connection !== undefined) {
      connection.send(request);
      return;
    }
    this.queue.push(request);
    this.openIfNeeded();
  }

  /** Opens a connection when requests wait and fewer are opening than wait, within the limit. */
  private openIfNeeded(): void {
    if (this.queue.length === 0 || this.connections.size >= this.agent.options.connections) return;
    let connecting = 0;
    for (const connection of this.connections) if (!connection.connected) connecting++;
    if (connecting >= this.queue.length) return;
    const connection = new H1Connection(this, connect({ host: this.host, port: this.port, noDelay: true }), this.agent.maxHeaderSize);
    connection.deadline = performance.now() + this.connectTimeoutMs;
    this.connections.add(connection);
    this.agent.wake();
  }
}

/** One keep-alive connection to the backend. */
class H1Connection implements ResponseSink, BodyOwner {
  connected = false;
  request: H1Request | null = null;
  /** When the running phase (connect, head, body pause) times out; 0 = never. */
  deadline = 0;
  idleSince = 0;
  private headersTimeout = 0;
  private bodyTimeout = 0;
  /** The request body being written; null when none or written. */
  private sender: RequestBodySender | null = null;
  private paused = false;
  private error: Error | null = null;
  private readonly reader: ResponseReader;

  constructor(
    private readonly pool: H1Pool,
    readonly socket: Socket,
    maxHeaderSize: number,
  ) {
    this.reader = new ResponseReader(maxHeaderSize);
    socket.on('connect', this.onConnect);
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    socket.on('drain', this.onDrain);
  }

  send(request: H1Request): void {
    this.request = request;
    request.connection = this;
    const { method, path, headers, body, headersTimeout, bodyTimeout } = request.options;
    let head = `${method} ${path} HTTP/1.1\r\n`;
    let host = false;
    let length = false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i] as string;
      if (name.length === 4 && name.toLowerCase() === 'host') host = true;
      else if (name.length === 14 && name.toLowerCase() === 'content-length') length = true;
      head += `${name}: ${headers[i + 1] as string}\r\n`;
    }
    // As undici: a request without Host names the backend; a body-less POST says it has none.
    if (!host) head += `host: ${this.pool.address}\r\n`;
    head += 'connection: keep-alive\r\n';
    if (body !== null) {
      if (!length) head += 'transfer-encoding: chunked\r\n';
    } else if (!length && (method === 'POST' || method === 'PUT' || method === 'PATCH')) {
      head += 'content-length: 0\r\n';
    }
    this.reader.expect(method);
    this.headersTimeout = headersTimeout;
    this.bodyTimeout = bodyTimeout;
    this.socket.write(`${head}\r\n`, 'latin1');
    if (body === null) {
      this.finished();
      return;
    }
    // The time for the response head starts once the body is written (as undici's headersTimeout).
    this.deadline = 0;
    this.sender = new RequestBodySender(body, this.socket, !length, this);
  }

  /** BodyOwner: the request is written; its response head is due within the headers timeout. */
  finished(): void {
    this.sender = null;
    if (!this.reader.started) this.deadline = this.headersTimeout > 0 ? performance.now() + this.headersTimeout : 0;
  }

  sent(chunk: Buffer): void {
    this.request?.handler.onBodySent?.(chunk);
  }

  failed(err: Error): void {
    this.fail(err);
  }

  /** Ends the running request with `err` and closes the connection. */
  fail(err: Error): void {
    this.error ??= err;
    this.socket.destroy();
  }

  check(now: number): void {
    if (this.request !== null || !this.connected) {
      if (this.deadline !== 0 && now >= this.deadline) this.fail(this.timeoutError());
      return;
    }
    let limit = this.pool.agent.options.keepAliveTimeoutMs;
    const hint = this.reader.keepAliveHint;
    if (hint > 0) limit = Math.min(limit, hint * 1000 - KEEP_ALIVE_MARGIN_MS);
    if (now - this.idleSince >= limit) this.socket.destroy();
  }

  head(status: number, statusText: string, rawHeaders: string[]): void {
    const request = this.request;
    if (request === null) return;
    this.deadline = this.bodyTimeout > 0 ? performance.now() + this.bodyTimeout : 0;
    // false: the handler will not relay it and has aborted the request.
    request.handler.onHeaders(status, rawHeaders, this.resume, statusText);
  }

  body(chunk: Buffer): void {
    const request = this.request;
    if (request === null) return;
    if (!request.handler.onData(chunk) && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  complete(reusable: boolean): void {
    const request = this.request;
    // Aborted while its response was being read: the socket is closing.
    if (request === null) return;
    this.request = null;
    request.connection = null;
    request.cancelled = true;
    this.deadline = 0;
    // Answered before the body was all sent (a 413, say): what is left of it cannot be skipped on this connection.
    if (this.sender !== null) {
      this.sender.stop();
      this.sender = null;
      reusable = false;
    }
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
    if (reusable) this.pool.free(this);
    else this.socket.destroy();
    request.handler.onComplete(null);
  }

  private timeoutError(): H1Error {
    if (!this.connected) return new H1Error('BATON_CONNECT_TIMEOUT', `no connection to ${this.pool.address} within ${this.pool.connectTimeoutMs} ms`);
    if (this.reader.started) return new H1Error('BATON_BODY_TIMEOUT', 'the backend paused its response body too long');
    return new H1Error('BATON_HEADERS_TIMEOUT', 'no response head from the backend in time');
  }

  private readonly resume = (): void => {
    if (!this.paused) return;
    this.paused = false;
    if (this.request !== null) this.deadline = this.bodyTimeout > 0 ? performance.now() + this.bodyTimeout : 0;
    this.socket.resume();
  };

  private readonly onConnect = (): void => {
    this.connected = true;
    this.deadline = 0;
    this.pool.free(this);
  };

  private readonly onData = (chunk: Buffer): void => {
    if (this.request === null) {
      // Bytes on an idle connection: nothing asked for them.
      this.socket.destroy();
      return;
    }
    if (this.bodyTimeout > 0 && this.deadline !== 0) this.deadline = performance.now() + this.bodyTimeout;
    try {
      this.reader.feed(chunk, this);
    } catch (err) {
      this.fail(err as Error);
    }
  };

  private readonly onEnd = (): void => {
    if (this.request !== null && this.reader.ended(this)) return;
    this.socket.destroy();
  };

  private readonly onError = (err: Error): void => {
    this.error ??= err;
  };

  private readonly onDrain = (): void => {
    this.sender?.drained();
  };

  private readonly onClose = (): void => {
    const request = this.request;
    this.request = null;
    this.sender?.stop();
    this.sender = null;
    if (!this.connected) {
      this.pool.connectFailed(this.error ?? new H1Error('BATON_SOCKET_CLOSED', 'the backend closed the connection'));
    } else if (request !== null) {
      request.connection = null;
      this.pool.requestFailed(request, this.error ?? new H1Error('BATON_SOCKET_CLOSED', 'the backend closed the connection before the response ended'));
    }
    this.pool.removed(this);
  };
}
