import http from 'node:http';
import http2 from 'node:http2';
import net, { type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import type { RateLimitedLog } from '../observability/rate-limited-log.js';
import { createClientErrorHandler } from './client-errors.js';
import { answerThenClose } from './drain.js';
import { FastH1 } from './fast-h1.js';
import type { HttpHandlers } from './handlers.js';
import type { ProxyContext } from './upstream-exchange.js';

export interface HttpServerLimits {
  /** Time for a client to send the request headers (and, here, its first bytes). Default 10000 ms. */
  readonly headersTimeoutMs?: number;
  /** Time for a client to send the whole HTTP/1.1 request. Default 60000 ms. */
  readonly requestTimeoutMs?: number;
  /** Largest request head accepted (HTTP/2: the header list size). Default 16384 bytes. */
  readonly maxHeaderSize?: number;
  /** Idle time after which a client keep-alive connection is closed (HTTP/2: GOAWAY). Default 5000 ms. */
  readonly keepAliveTimeoutMs?: number;
}

/** Handlers from `createHttpHandlers` also carry their context, which turns the fast HTTP/1.1 path on (fast-h1.ts). */
export type EntryHandlers = HttpHandlers & { readonly context?: ProxyContext };

export interface EntryMonitor {
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** For hostile or broken input: every case is counted, the log is rate limited. */
  readonly warnings: RateLimitedLog;
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** Concurrent streams an h2c client may open on one connection. */
const MAX_CONCURRENT_STREAMS = 128;

/** Whether `bytes` start the HTTP/2 preface, or are a prefix of it. */
function matchesPreface(bytes: Buffer): boolean {
  const n = Math.min(bytes.length, PREFACE.length);
  return bytes.compare(PREFACE, 0, n, 0, n) === 0;
}

const OPEN_STREAMS = Symbol('baton.openStreams');
const SESSION = Symbol('baton.session');

interface CountedSession extends http2.ServerHttp2Session {
  [OPEN_STREAMS]?: number;
}

/** A stream remembers its session: node clears `stream.session` by the time 'close' fires. */
interface CountedStream extends http2.ServerHttp2Stream {
  [SESSION]?: CountedSession;
}

function countStream(stream: CountedStream): void {
  const session = stream.session as CountedSession | undefined;
  if (session === undefined) return;
  session[OPEN_STREAMS] = (session[OPEN_STREAMS] ?? 0) + 1;
  stream[SESSION] = session;
  stream.once('close', uncountStream);
}

function uncountStream(this: CountedStream): void {
  const session = this[SESSION];
  if (session !== undefined) session[OPEN_STREAMS] = (session[OPEN_STREAMS] ?? 1) - 1;
}

/**
 * An h2c session with no open stream and no frames either way for the keep-alive time is closed
 * with GOAWAY. One with streams (a slow backend, a quiet gRPC stream) stays: node arms the timer
 * again on the next frame.
 */
function closeIdleSession(this: CountedSession): void {
  if ((this[OPEN_STREAMS] ?? 0) === 0) this.close();
}

/**
 * The plain-HTTP entry point: a `net.Server` (not listening) that reads the first bytes of each
 * connection and hands it to an internal HTTP/1.1 server, or to an internal HTTP/2 server when
 * they are the h2c prior-knowledge preface. Only bytes that still match the preface are waited
 * for; anything else is HTTP/1.1 at once, so the cost is one comparison per connection.
 *
 * `close()` drains (see there); `closeAllConnections()` ends everything at once.
 */
export class PlainHttpEntry extends net.Server {
  private readonly h1: http.Server;
  private readonly h2: http2.Http2Server;
  private readonly fast: FastH1 | null;
  /** Connections still being sniffed, and the HTTP/2 sessions: the HTTP/1.1 server tracks its own. */
  private readonly sniffing = new Set<Socket>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();

  constructor(handlers: EntryHandlers, limits: HttpServerLimits, monitor: EntryMonitor) {
    // As http.Server does: half-open sockets let a response finish after the client's FIN.
    super({ allowHalfOpen: true, noDelay: true });
    const { metrics, logger, warnings } = monitor;
    const headersTimeoutMs = limits.headersTimeoutMs ?? 10_000;
    const keepAliveTimeoutMs = limits.keepAliveTimeoutMs ?? 5000;
    const maxHeaderSize = limits.maxHeaderSize ?? 16_384;

    this.h1 = http.createServer<typeof http.IncomingMessage, typeof http.ServerResponse>(
      {
        ServerResponse: handlers.Response,
        headersTimeout: headersTimeoutMs,
        requestTimeout: limits.requestTimeoutMs ?? 60_000,
        maxHeaderSize,
        keepAliveTimeout: keepAliveTimeoutMs,
        // How often node checks the two timeouts above (default 30 s): a slow client is cut off
        // within a second of its limit.
        connectionsCheckingInterval: 1000,
      },
      handlers.request,
    );
    this.h1.on('clientError', createClientErrorHandler(metrics, logger));
    this.h1.on('upgrade', handlers.upgrade);
    // The HTTP/1.1 server never listens itself; its connection tracking (the timeouts above,
    // closeIdleConnections) starts on 'listening', so it follows this server's.
    this.on('listening', () => this.h1.emit('listening'));
    this.fast = handlers.context === undefined ? null : new FastH1(handlers.context, keepAliveTimeoutMs, maxHeaderSize, (socket, bytes) => this.toHttp1(socket, bytes));

    this.h2 = http2.createServer({ settings: { maxConcurrentStreams: MAX_CONCURRENT_STREAMS, maxHeaderListSize: maxHeaderSize } });
    this.h2.on('stream', countStream);
    this.h2.on('stream', handlers.stream);
    this.h2.on('session', (session: http2.ServerHttp2Session) => {
      metrics.connections.inc({ protocol: 'h2c' });
      this.sessions.add(session);
      session.once('close', () => this.sessions.delete(session));
      // Not setTimeout(ms, callback): that listens once, and the timer may fire while streams are open.
      session.on('timeout', closeIdleSession);
      session.setTimeout(keepAliveTimeoutMs);
    });
    // Garbage after a valid preface, a bad frame, a flood: node ends the session; count and tell.
    this.h2.on('sessionError', (err: NodeJS.ErrnoException, session: http2.ServerHttp2Session) => {
      metrics.connectionErrors.inc({ protocol: 'h2c', reason: 'session-error' });
      warnings.warn('h2c-session-error', { code: err.code, reason: err.message, remote: session.socket?.remoteAddress }, 'h2c session failed');
    });

    this.on('connection', (socket: Socket) => this.sniff(socket, headersTimeoutMs, monitor));
  }

  /**
   * Drains without failing a request: stops accepting ('close' follows once every connection has
   * ended), sends GOAWAY on HTTP/2 sessions, and answers every further HTTP/1.1 request with
   * `Connection: close`. An idle HTTP/1.1 connection is not cut (its client may be sending on it
   * right now): it ends at its keep-alive timeout, which clients were told in `Keep-Alive:`.
   */
  override close(callback?: (err?: Error) => void): this {
    super.close(callback);
    if (this.fast !== null) this.fast.draining = true;
    this.h1.prependListener('request', answerThenClose);
    for (const session of this.sessions) session.close();
    return this;
  }

  closeAllConnections(): void {
    for (const socket of this.sniffing) socket.destroy();
    this.fast?.closeAllConnections();
    this.h1.closeAllConnections();
    for (const session of this.sessions) session.destroy();
    // Stops the HTTP/1.1 server's timeout checks; it never listened, so nothing else happens.
    this.h1.close();
  }

  /** Node's HTTP/1.1 server takes the connection, `bytes` first. */
  private toHttp1(socket: Socket, bytes: Buffer): void {
    socket.pause();
    socket.unshift(bytes);
    this.h1.emit('connection', socket);
    socket.resume();
  }

  private sniff(socket: Socket, timeoutMs: number, { metrics, warnings }: EntryMonitor): void {
    this.sniffing.add(socket);
    let seen: Buffer | null = null;
    const handOff = (bytes: Buffer, h2: boolean) => {
      this.sniffing.delete(socket);
      socket.off('data', onData);
      socket.off('timeout', onTimeout);
      socket.off('error', onError);
      socket.off('close', onClose);
      socket.setTimeout(0);
      if (!h2) {
        if (this.fast === null) this.toHttp1(socket, bytes);
        else this.fast.accept(socket, bytes);
        return;
      }
      socket.pause();
      socket.unshift(bytes);
      // The session reads what was unshifted itself; resuming here would drop it.
      this.h2.emit('connection', socket);
    };
    const onData = (chunk: Buffer) => {
      const bytes: Buffer = seen === null ? chunk : Buffer.concat([seen, chunk]);
      // Most connections are HTTP/1.1 and decided by their first byte.
      if (bytes[0] !== 0x50 || !matchesPreface(bytes)) return handOff(bytes, false);
      if (bytes.length >= PREFACE.length) return handOff(bytes, true);
      seen = bytes;
    };
    const onTimeout = () => {
      metrics.connectionErrors.inc({ protocol: 'http', reason: 'first-bytes-timeout' });
      warnings.warn('http-first-bytes-timeout', { remote: socket.remoteAddress, received: seen?.length ?? 0 }, 'client sent no request in time');
      socket.destroy();
    };
    const onError = () => socket.destroy();
    const onClose = () => this.sniffing.delete(socket);
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.setTimeout(timeoutMs, onTimeout);
  }
}

/** The plain-HTTP entry point (HTTP/1.1 and h2c with prior knowledge on one port), not listening. */
export function createPlainHttpEntry(handlers: EntryHandlers, limits: HttpServerLimits, monitor: EntryMonitor): PlainHttpEntry {
  return new PlainHttpEntry(handlers, limits, monitor);
}
