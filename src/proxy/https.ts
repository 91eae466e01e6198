import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createH2Server, type ServerHttp2Session } from 'node:http2';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import { RateLimitedLog } from '../observability/rate-limited-log.js';
import type { TableSource } from '../routing/types.js';
import type { UpstreamRegistry } from '../upstream/registry.js';
import { createClientErrorHandler } from './client-errors.js';
import { answerThenClose } from './drain.js';
import type { HttpHandlers } from './handlers.js';
import type { Observe } from './observe.js';
import type { CertStore } from './tls/cert-store.js';
import { readClientHello, type HelloOutcome } from './tls/hello-reader.js';
import { TlsPassthrough } from './tls/passthrough.js';
import { TlsRejects } from './tls/rejects.js';

export interface HttpsLimits {
  /** Time for the ClientHello, for the TLS handshake, and for HTTP/1.1 request headers. */
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  /** Largest HTTP/1.1 request head; the HTTP/2 header list limit too. */
  readonly maxHeaderSize: number;
  /** Idle HTTP/1.1 keep-alive connections and HTTP/2 sessions with no frames this long are closed. */
  readonly keepAliveTimeoutMs: number;
}

export interface HttpsEntryOptions {
  readonly tables: TableSource;
  readonly certs: CertStore;
  readonly handlers: HttpHandlers;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly limits: HttpsLimits;
  /** Passthrough: time to connect to one backend before trying the next. */
  readonly connectTimeoutMs: number;
  /** Passthrough tunnels idle this long in both directions are closed; 0 = never (tcpIdleTimeoutMs). */
  readonly idleTimeoutMs?: number;
  /** The backend registry: passthrough backends are picked over it, and drained when they leave. */
  readonly registry: UpstreamRegistry;
  /** Where passthrough connections are recorded (the handlers record HTTP); default: per-route metrics, no access log. */
  readonly observe?: Observe;
}

export interface HttpsEntry {
  /** The HTTPS port's server, not listening: the caller listens. */
  readonly server: Server;
  /** For TLS routes with their own port (the listener manager calls it): passthrough by SNI only. */
  onOwnPortConnection(socket: Socket, port: number): void;
  /** Drains: stops accepting, answers further HTTP/1.1 requests with `Connection: close`, sends GOAWAY to HTTP/2 sessions. */
  close(): void;
  /** Ends every terminated connection at once (the grace period is over). */
  closeAllConnections(): void;
}

/** HTTP/2 server settings for clients over TLS. */
const H2_SETTINGS = { maxConcurrentStreams: 100 } as const;

function closeIdleSession(this: ServerHttp2Session): void {
  // Graceful: GOAWAY, streams in flight finish, the client opens a new connection when it needs one.
  this.close();
}

/**
 * The HTTPS entry point. Each connection's ClientHello is read first (bounded in size and time):
 * a server name with a TLS passthrough route goes to that route's backends untouched; anything
 * else is terminated here with the certificate the SNI name picks (the default one without SNI)
 * and served as HTTP/2 or HTTP/1.1 by ALPN, through the same handlers as plain HTTP.
 *
 * Inside, termination is a `tls.Server` that no one listens on (sockets are injected after the
 * ClientHello has been peeked at and pushed back), and each secured socket goes to an HTTP/2 or
 * an HTTP/1.1 server by its ALPN protocol. Separate servers rather than `allowHTTP1` on a
 * secure HTTP/2 server: that one takes no HTTP/1.1 server options, and a 'request' listener on
 * it would also answer HTTP/2 streams through the compatibility layer.
 */
export function createHttpsEntry(opts: HttpsEntryOptions): HttpsEntry {
  const { tables, certs, handlers, metrics, logger, limits } = opts;
  const rejects = new TlsRejects(metrics, new RateLimitedLog(logger));
  const passthrough = new TlsPassthrough({
    tables,
    metrics,
    logger,
    connectTimeoutMs: opts.connectTimeoutMs,
    helloTimeoutMs: limits.headersTimeoutMs,
    idleTimeoutMs: opts.idleTimeoutMs ?? 0,
    registry: opts.registry,
    rejects,
    ...(opts.observe !== undefined && { observe: opts.observe }),
  });

  const http1 = createHttpServer<typeof IncomingMessage, typeof ServerResponse>(
    {
      ServerResponse: handlers.Response,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      maxHeaderSize: limits.maxHeaderSize,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // As for plain HTTP: a slow client is cut off within a second of its limit.
      connectionsCheckingInterval: 1000,
    },
    handlers.request,
  );
  http1.on('upgrade', handlers.upgrade);
  http1.on('clientError', createClientErrorHandler(metrics, logger));
  // node starts enforcing headersTimeout/requestTimeout when a server starts listening; this one
  // never listens (connections are injected), so start it by hand.
  http1.emit('listening');

  const h2 = createH2Server({ settings: { ...H2_SETTINGS, maxHeaderListSize: limits.maxHeaderSize } });
  const sessions = new Set<ServerHttp2Session>();
  h2.on('stream', handlers.stream);
  h2.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    session.setTimeout(limits.keepAliveTimeoutMs, closeIdleSession);
  });
  h2.on('sessionError', (err: NodeJS.ErrnoException, session: ServerHttp2Session) => {
    // A reset is a client going away, not a protocol problem.
    rejects.count(err.code === 'ECONNRESET' ? 'client-closed' : 'h2-session', session.socket as Socket | undefined, { err: err.message });
  });

  const tls = createTlsServer({
    SNICallback: certs.sniCallback,
    ALPNProtocols: ['h2', 'http/1.1'],
    handshakeTimeout: limits.headersTimeoutMs,
  });
  let defaultVersion = -1;
  const useCurrentDefault = (): void => {
    // The server's own context serves clients without SNI (node calls SNICallback only with a name).
    if (certs.version === defaultVersion) return;
    defaultVersion = certs.version;
    const credentials = certs.defaultCredentials();
    tls.setSecureContext(credentials ? { cert: credentials.cert, key: credentials.key } : {});
  };
  tls.on('secureConnection', (socket: TLSSocket) => {
    metrics.connections.inc({ protocol: 'tls' });
    if (!socket.servername) logger.debug({ remote: socket.remoteAddress }, 'TLS client sent no SNI; served the default certificate');
    (socket.alpnProtocol === 'h2' ? h2 : http1).emit('connection', socket);
  });
  tls.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
    const reason = err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT' ? 'handshake-timeout' : err.code === 'ECONNRESET' ? 'client-closed' : 'handshake';
    rejects.reject(socket, reason, { err: err.message });
  });

  const outcome: HelloOutcome = {
    hello(socket, hello, bytes) {
      const serverName = hello.serverName;
      const route = serverName === undefined ? undefined : tables.current.lookupTls(serverName);
      if (route !== undefined && serverName !== undefined) {
        passthrough.forward(socket, bytes, route, serverName);
        return;
      }
      useCurrentDefault();
      socket.unshift(bytes);
      tls.emit('connection', socket);
    },
    fail(socket, reason, detail) {
      rejects.reject(socket, reason, detail === undefined ? {} : { detail });
    },
  };
  const server = createNetServer({ allowHalfOpen: true, noDelay: true }, (socket) => readClientHello(socket, limits.headersTimeoutMs, outcome));

  return {
    server,
    onOwnPortConnection: (socket, port) => passthrough.onOwnPortConnection(socket, port),
    close() {
      server.close();
      http1.prependListener('request', answerThenClose);
      for (const session of sessions) session.close();
    },
    closeAllConnections() {
      http1.closeAllConnections();
      // Stops the timeout checker started above; the server was never listening, so the callback's error is expected.
      http1.close(() => {});
      for (const session of sessions) session.destroy();
    },
  };
}
