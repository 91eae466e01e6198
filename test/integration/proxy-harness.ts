/**
 * Shared pieces of the proxy tests: a hand-built routing table, backends, a running proxy, a
 * client, and polling. Everything listens on 127.0.0.1, port 0, and is closed by `closeAll`.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import type { HttpRoute, RoutingTable, TableSource } from '../../src/routing/types.js';
import { RateLimitedLog } from '../../src/observability/rate-limited-log.js';
import type { HttpHandlers } from '../../src/proxy/handlers.js';
import { createHttpHandlers, type HttpHandlersOptions } from '../../src/proxy/http-handlers.js';
import { createPlainHttpEntry, type HttpServerLimits } from '../../src/proxy/plain-entry.js';
import { H2cSessions } from '../../src/upstream/h2c-sessions.js';
import { UpstreamRegistry, type UpstreamRegistryOptions } from '../../src/upstream/registry.js';

export function route(
  host: string,
  addresses: readonly string[],
  opts: Partial<Pick<HttpRoute, 'redirectToHttps' | 'hsts' | 'backendProtocol' | 'policy'>> = {},
): HttpRoute {
  return {
    id: `/${host}:0`,
    appIds: [`/${host}`],
    hosts: [host],
    path: '/',
    redirectToHttps: opts.redirectToHttps ?? false,
    hsts: opts.hsts ?? false,
    backendProtocol: opts.backendProtocol ?? 'http1',
    backends: addresses.map((address, i) => {
      const colon = address.lastIndexOf(':');
      return { address, host: address.slice(0, colon), port: Number(address.slice(colon + 1)), taskId: `t${i}`, appId: `/${host}`, id: `id-${i}`, weight: 1 };
    }),
    policy: opts.policy ?? { balance: 'roundrobin', sticky: false },
    status: [],
    cursor: 0,
  };
}

/** A table that matches the Host header (port stripped, any case) exactly. */
export function buildTable(routes: readonly HttpRoute[], version = 1): RoutingTable {
  const byHost = new Map(routes.flatMap((r) => r.hosts.map((h) => [h, r] as const)));
  return {
    version,
    builtAt: Date.now(),
    routes,
    portRoutes: [],
    tlsRoutes: [],
    disabled: [],
    certificates: [],
    lookupHttp: (host) => byHost.get(host.replace(/:\d+$/, '').toLowerCase()),
    lookupPort: () => undefined,
    lookupTls: () => undefined,
  };
}

/** A table source over `buildTable`; a test swaps tables by assigning `current`, as the holder does. */
export function tableOf(routes: readonly HttpRoute[]): { current: RoutingTable } {
  return { current: buildTable(routes) };
}

const cleanups: (() => Promise<void>)[] = [];

export async function closeAll(): Promise<void> {
  const pending = cleanups.splice(0);
  await Promise.all(pending.map((fn) => fn()));
}

async function listen(server: http.Server | net.Server | http2.Http2Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function track(server: http.Server | PlainEntry): void {
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
}

export interface Backend {
  readonly server: http.Server;
  readonly address: string;
}

export async function startBackend(handler: http.RequestListener): Promise<Backend> {
  const server = http.createServer(handler);
  const port = await listen(server);
  track(server);
  return { server, address: `127.0.0.1:${port}` };
}

export interface H2cBackend {
  readonly server: http2.Http2Server;
  readonly address: string;
  /** Sessions (connections) the backend has accepted. */
  readonly sessions: http2.ServerHttp2Session[];
}

/** An h2c backend (HTTP/2 cleartext, prior knowledge), as a gRPC service is. */
export async function startH2cBackend(onStream: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void): Promise<H2cBackend> {
  const server = http2.createServer();
  const sessions: http2.ServerHttp2Session[] = [];
  server.on('session', (session) => sessions.push(session));
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    onStream(stream, headers);
  });
  const port = await listen(server);
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const session of sessions) session.destroy();
        server.close(() => resolve());
      }),
  );
  return { server, address: `127.0.0.1:${port}`, sessions };
}

/** A TCP backend that answers each connection's first bytes with `reply`, then closes. */
export async function startRawBackend(reply: string): Promise<string> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.once('data', () => socket.end(reply));
  });
  const port = await listen(server);
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return `127.0.0.1:${port}`;
}

/** An address where nothing listens (a port just bound and released). */
export async function closedAddress(): Promise<string> {
  const server = net.createServer();
  const port = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `127.0.0.1:${port}`;
}

type PlainEntry = ReturnType<typeof createPlainHttpEntry>;

export interface RunningProxy {
  readonly port: number;
  readonly server: PlainEntry;
  readonly metrics: Metrics;
  readonly upstreams: UpstreamRegistry;
  readonly h2cSessions: H2cSessions;
  /** The handlers behind the entry point, for tests that serve them on a TLS server. */
  readonly handlers: HttpHandlers;
  /** Value of `baton_proxy_errors_total{code}`. */
  errors(code: string): Promise<number>;
  /** Value of a labelled counter, e.g. `connections`, `{ protocol: 'websocket' }`. */
  count(metric: 'connections' | 'connectionErrors', labels: Record<string, string>): Promise<number>;
}

export interface ProxyOptions extends Partial<Pick<HttpHandlersOptions, 'trustedProxies' | 'upstream' | 'websocketIdleTimeoutMs'>> {
  readonly registry?: Omit<UpstreamRegistryOptions, 'logger' | 'metrics'>;
  readonly limits?: HttpServerLimits;
}

/** The plain-HTTP entry point (HTTP/1.1 and h2c) over the HTTP handlers, listening on 127.0.0.1. */
export async function startProxy(tables: TableSource, opts: ProxyOptions = {}): Promise<RunningProxy> {
  const metrics = createMetrics();
  const logger = pino({ level: 'silent' });
  const upstreams = new UpstreamRegistry({ ...opts.registry, logger, metrics });
  const h2cSessions = new H2cSessions(logger, { connectTimeoutMs: opts.registry?.connectTimeoutMs });
  const handlers = createHttpHandlers({
    tables,
    upstreams,
    h2cSessions,
    metrics,
    logger,
    trustedProxies: opts.trustedProxies,
    upstream: opts.upstream,
    websocketIdleTimeoutMs: opts.websocketIdleTimeoutMs,
  });
  const server = createPlainHttpEntry(handlers, opts.limits ?? {}, { metrics, logger, warnings: new RateLimitedLog(logger) });
  const port = await listen(server);
  track(server);
  cleanups.push(() => upstreams.close(), () => h2cSessions.close());
  return {
    port,
    server,
    metrics,
    upstreams,
    h2cSessions,
    handlers,
    async errors(code) {
      const values = (await metrics.proxyErrors.get()).values;
      return values.find((v) => v.labels.code === code)?.value ?? 0;
    },
    async count(metric, labels) {
      const values = (await metrics[metric].get()).values;
      const found = values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k as keyof typeof v.labels] === l));
      return found?.value ?? 0;
    },
  };
}

export interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

/** One request through a fresh connection; resolves with the whole response. */
export function send(
  port: number,
  opts: { method?: string; path?: string; headers?: http.OutgoingHttpHeaders | string[]; body?: Buffer | string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path ?? '/', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Writes raw bytes and collects everything until the server closes the connection. */
export function sendRaw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

/** An h2c (prior knowledge) client session to 127.0.0.1:`port`, destroyed by `closeAll`. */
export function h2Connect(port: number, url = `http://127.0.0.1:${port}`, options: http2.SecureClientSessionOptions = {}): http2.ClientHttp2Session {
  const session = http2.connect(url, options);
  // Tests look at streams; a session error (the proxy going away) is not theirs to fail on.
  session.on('error', () => undefined);
  cleanups.push(async () => {
    session.destroy();
  });
  return session;
}

export interface H2Reply {
  readonly status: number;
  readonly headers: http2.IncomingHttpHeaders;
  readonly body: Buffer;
  readonly trailers: http2.IncomingHttpHeaders;
}

/** One HTTP/2 request on `session`; resolves with the whole response, rejects (with `rstCode`) on a reset. */
export function h2Request(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Buffer | string): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers[':method'] === 'CONNECT' ? headers : { ':path': '/', ...headers }, { endStream: body === undefined });
    let status = 0;
    let responseHeaders: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => {
      status = Number(h[':status']);
      responseHeaders = h;
    });
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve({ status, headers: responseHeaders, body: Buffer.concat(chunks), trailers }));
    // A reset comes as 'error', then 'close' with the RST code: reject there, with the code.
    stream.on('error', () => undefined);
    stream.on('close', () => {
      if (stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) reject(Object.assign(new Error(`stream reset with code ${stream.rstCode}`), { rstCode: stream.rstCode }));
    });
    if (body !== undefined) stream.end(body);
  });
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export { waitFor } from '../helpers/wait-for.js';
