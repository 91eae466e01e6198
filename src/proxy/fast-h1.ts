import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { ProxyContext } from './upstream-exchange.js';
import { readStickyCookie } from '../upstream/sticky.js';
import { PROXY_ERRORS, errorBody, type ProxyErrorCode } from './errors.js';
import { parseFastHead, type FastHead } from './fast-head.js';
import { normaliseAddress, rewriteRequestHeaders } from './forwarded.js';
import { UpstreamExchange } from './upstream-exchange.js';

/**
 * The HTTP/1.1 fast path of the plain entry point. node's HTTP server costs about a third of
 * baton's CPU per request (IncomingMessage, ServerResponse, their streams and events); for the
 * common request it is not needed: a whole head of a body-less request, routed to HTTP/1.1
 * backends, is parsed here (fast-head.ts), forwarded through the same exchange as node's path
 * (pools, retries, breakers, timeouts, metrics, access log) and answered by writing the response
 * head and body straight to the socket. Any other request, and every later one on its connection,
 * goes to node's server with nothing consumed.
 */

/** Pipelined bytes kept while a response is running before the socket stops being read. */
const MAX_PENDING = 64 * 1024;
const CONN = Symbol('baton.fastConnection');
/** Bodies up to this size go out in one write with their head. */
const ONE_WRITE_BODY = 4096;

interface FastSocket extends Socket {
  [CONN]?: FastConnection;
}

/** Shared by the fast connections of one entry point. */
export class FastH1 {
  /** The entry point drains: every response says `Connection: close` and closes. */
  draining = false;
  private readonly sockets = new Set<Socket>();
  private readonly keepAliveLines: string;
  private dateAt = 0;
  private dateLine = '';

  constructor(
    readonly ctx: ProxyContext,
    readonly keepAliveTimeoutMs: number,
    readonly maxHeaderSize: number,
    /** Gives the connection to node's server, `bytes` unread. */
    private readonly toHttp1: (socket: Socket, bytes: Buffer) => void,
  ) {
    // What node's server says on a keep-alive response.
    this.keepAliveLines = `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(keepAliveTimeoutMs / 1000)}\r\n`;
  }

  /** A new HTTP/1.1 connection and its first bytes. */
  accept(socket: Socket, bytes: Buffer): void {
    this.sockets.add(socket);
    const conn = new FastConnection(this, socket);
    (socket as FastSocket)[CONN] = conn;
    for (const [event, listener] of SOCKET_LISTENERS) socket.on(event, listener);
    socket.setTimeout(this.keepAliveTimeoutMs);
    conn.received(bytes);
  }

  /** Takes the connection off the fast path and gives it, with `bytes`, to node's server. */
  handOff(socket: Socket, bytes: Buffer): void {
    this.sockets.delete(socket);
    for (const [event, listener] of SOCKET_LISTENERS) socket.off(event, listener);
    socket.setTimeout(0);
    (socket as FastSocket)[CONN] = undefined;
    this.toHttp1(socket, bytes);
  }

  forget(socket: Socket): void {
    this.sockets.delete(socket);
  }

  closeAllConnections(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  /** `Date`, `Connection` (and `Keep-Alive`) lines as node's server writes them. */
  trailingLines(date: boolean, close: boolean): string {
    const connection = close ? 'Connection: close\r\n' : this.keepAliveLines;
    if (date) return connection;
    const now = Date.now();
    if (now - this.dateAt >= 1000) {
      this.dateAt = now - (now % 1000);
      this.dateLine = `Date: ${new Date(now).toUTCString()}\r\n`;
    }
    return this.dateLine + connection;
  }
}

function onData(this: FastSocket, chunk: Buffer): void {
  this[CONN]?.received(chunk);
}

function onEnd(this: FastSocket): void {
  this[CONN]?.clientEnded();
}

function onClose(this: FastSocket): void {
  this[CONN]?.socketClosed();
}

function onError(this: FastSocket): void {
  this.destroy();
}

function onDrain(this: FastSocket): void {
  this[CONN]?.exchange?.drained();
}

/** node's server destroys an idle keep-alive connection; one waiting for its backend stays. */
function onTimeout(this: FastSocket): void {
  if (this[CONN]?.exchange === null) this.destroy();
}

/** What a fast connection listens to: `accept` adds them all, `handOff` takes them all off again. */
const SOCKET_LISTENERS: readonly (readonly [string, (this: FastSocket, ...args: any[]) => void])[] = [
  ['data', onData],
  ['end', onEnd],
  ['close', onClose],
  ['error', onError],
  ['drain', onDrain],
  ['timeout', onTimeout],
];

function processPending(conn: FastConnection): void {
  conn.processPending();
}

/** `Cookie` headers joined as node joins them. */
function cookieOf(raw: readonly string[]): string | undefined {
  let cookie: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 6 && name.toLowerCase() === 'cookie') cookie = cookie === undefined ? (raw[i + 1] as string) : `${cookie}; ${raw[i + 1] as string}`;
  }
  return cookie;
}

/** One client connection on the fast path: requests one at a time, pipelined ones queued. */
class FastConnection {
  exchange: FastExchange | null = null;
  /** Bytes of the requests after the running one. */
  private pending: Buffer | null = null;
  private paused = false;
  /** This response is the connection's last. */
  closeAfter = false;
  private readonly client: string;
  private readonly trustClient: boolean;

  constructor(
    readonly fast: FastH1,
    readonly socket: Socket,
  ) {
    this.client = normaliseAddress(socket.remoteAddress);
    this.trustClient = fast.ctx.trusted.has(this.client);
  }

  received(chunk: Buffer): void {
    if (this.exchange !== null || this.pending !== null) {
      this.pending = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
      if (this.pending.length > MAX_PENDING && !this.paused) {
        this.paused = true;
        this.socket.pause();
      }
      return;
    }
    this.process(chunk);
  }

  processPending(): void {
    const pending = this.pending;
    if (pending === null || this.exchange !== null || this.socket.destroyed) return;
    this.pending = null;
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
    this.process(pending);
  }

  /**
   * The client sent FIN. As node's server does (it does not allow half-open HTTP connections),
   * nothing more is answered: a response still running is cut, which aborts its upstream request.
   */
  clientEnded(): void {
    if (this.exchange === null) this.socket.end();
    else this.socket.destroy();
  }

  socketClosed(): void {
    this.fast.forget(this.socket);
    this.exchange?.clientLeft();
    this.exchange = null;
  }

  /** The running exchange is over: the next request, if any, or the end of the connection. */
  responded(): void {
    this.exchange = null;
    if (this.closeAfter) this.socket.end();
    else if (this.pending !== null) process.nextTick(processPending, this);
  }

  private process(bytes: Buffer): void {
    const head = parseFastHead(bytes, 0, this.fast.maxHeaderSize);
    if (head === null || !this.start(head, bytes)) this.fast.handOff(this.socket, bytes);
  }

  /** Forwards the request when it is a fast one; false (nothing done) when node's path must take it. */
  private start(head: FastHead, bytes: Buffer): boolean {
    const { ctx } = this.fast;
    const exchange = new FastExchange(this, ctx);
    const headers = rewriteRequestHeaders(head.rawHeaders, this.client, this.trustClient, exchange, 'http');
    const route = ctx.tables.current.lookupHttp(exchange.host, head.target);
    // No route, no backend, a redirect, an h2c backend: node's path answers those.
    if (route === undefined || route.redirectToHttps || route.backends.length === 0 || route.backendProtocol !== 'http1') return false;
    exchange.client = this.client;
    exchange.method = head.method;
    exchange.target = head.target;
    exchange.routed(route);
    this.pending = head.end < bytes.length ? bytes.subarray(head.end) : null;
    this.closeAfter = head.close || this.fast.draining;
    this.exchange = exchange;
    exchange.forward(route.policy.sticky ? readStickyCookie(cookieOf(head.rawHeaders)) : undefined, headers, null);
    return true;
  }
}

/** One fast request: the exchange of node's path, writing its response to the socket itself. */
class FastExchange extends UpstreamExchange {
  /** The response status once its head is made; 0 before. */
  private status = 0;
  /** The response head, until it goes out with the first body bytes (one write). */
  private head: string | null = null;
  private chunked = false;
  private paused = false;
  private recorded = false;

  constructor(
    private readonly conn: FastConnection,
    ctx: ProxyContext,
  ) {
    super(ctx);
  }

  protected respond(statusCode: number, statusText: string, headers: string[]): boolean {
    let head = `HTTP/1.1 ${statusCode} ${statusText}\r\n`;
    let length = false;
    let date = false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i] as string;
      if (name.length === 14 && name.toLowerCase() === 'content-length') length = true;
      else if (name.length === 4 && name.toLowerCase() === 'date') date = true;
      head += `${name}: ${headers[i + 1] as string}\r\n`;
    }
    head += this.conn.fast.trailingLines(date, this.conn.closeAfter);
    // As node's server frames a response without Content-Length: chunked, unless it has no body.
    if (!length && this.method !== 'HEAD' && statusCode !== 204 && statusCode !== 304) {
      head += 'Transfer-Encoding: chunked\r\n';
      this.chunked = true;
    }
    this.head = `${head}\r\n`;
    this.status = statusCode;
    return true;
  }

  protected write(chunk: Buffer): boolean {
    // An empty chunk would end a chunked body early.
    if (chunk.length === 0) return true;
    const socket = this.conn.socket;
    if (this.head !== null && !this.chunked && chunk.length <= ONE_WRITE_BODY) {
      // The head and a small body as one string: cheaper than a corked writev of the two.
      const ok = socket.write(this.head + chunk.toString('latin1'), 'latin1');
      this.head = null;
      if (!ok) this.paused = true;
      return ok;
    }
    socket.cork();
    if (this.head !== null) {
      socket.write(this.head, 'latin1');
      this.head = null;
    }
    let ok: boolean;
    if (this.chunked) {
      socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
      socket.write(chunk);
      ok = socket.write('\r\n', 'latin1');
    } else {
      ok = socket.write(chunk);
    }
    socket.uncork();
    // The client is slower than the backend: the pool stops reading until the socket drains.
    if (!ok) this.paused = true;
    return ok;
  }

  drained(): void {
    if (!this.paused) return;
    this.paused = false;
    this.resumeUpstream();
  }

  protected end(): void {
    const socket = this.conn.socket;
    const tail = this.chunked ? '0\r\n\r\n' : '';
    if (this.head !== null) {
      socket.write(this.head + tail, 'latin1');
      this.head = null;
    } else if (tail !== '') {
      socket.write(tail, 'latin1');
    }
    this.complete(this.status);
  }

  override reject(code: ProxyErrorCode, message?: string): void {
    super.reject(code, message);
    this.complete(this.status !== 0 ? this.status : PROXY_ERRORS[code].status);
  }

  protected sendError(code: ProxyErrorCode, message?: string): number {
    const socket = this.conn.socket;
    if (socket.destroyed || this.recorded) return 0;
    this.ctx.metrics.proxyErrors.inc({ code });
    // The response has begun: break it, so the client cannot take a truncated body for a whole one.
    if (this.status !== 0) {
      socket.destroy();
      return 0;
    }
    const body = errorBody(code, message);
    const status = PROXY_ERRORS[code].status;
    const length = Buffer.byteLength(body);
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
        'content-type: text/plain; charset=utf-8\r\n' +
        `content-length: ${length}\r\n` +
        'x-content-type-options: nosniff\r\n' +
        `x-baton-error: ${code}\r\n` +
        this.conn.fast.trailingLines(false, this.conn.closeAfter) +
        '\r\n' +
        (this.method === 'HEAD' ? '' : body),
    );
    return this.method === 'HEAD' ? 0 : length;
  }

  protected get clientGone(): boolean {
    return this.conn.socket.destroyed;
  }

  /** The socket closed while this request ran: it is recorded (499 before a response) and its upstream request aborted. */
  clientLeft(): void {
    if (this.recorded) return;
    this.recorded = true;
    this.closed(this.status !== 0 ? this.status : 499, 'http/1.1');
  }

  private complete(status: number): void {
    if (this.recorded) return;
    this.recorded = true;
    this.closed(status, 'http/1.1');
    this.conn.responded();
  }
}
