/**
 * Shared pieces of the proxy tests: a hand-built routing table, backends, a running proxy, a
 * client, and polling. Everything listens on 127.0.0.1, port 0, and is closed by `closeAll`.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import type { HttpRoute, RoutingTable, TableSource } from '../../src/routing/types.js';
import { createHttpProxy, type HttpProxyOptions } from '../../src/proxy/http1.js';
import { UpstreamRegistry, type UpstreamRegistryOptions } from '../../src/upstream/registry.js';

export function route(host: string, addresses: readonly string[]): HttpRoute {
  return {
    id: `/${host}:0`,
    appIds: [`/${host}`],
    hosts: [host],
    path: '/',
    backends: addresses.map((address, i) => {
      const colon = address.lastIndexOf(':');
      return { address, host: address.slice(0, colon), port: Number(address.slice(colon + 1)), taskId: `t${i}`, appId: `/${host}` };
    }),
    status: [],
    cursor: 0,
  };
}

/** A table that matches the Host header (port stripped, any case) exactly. */
export function tableOf(routes: readonly HttpRoute[]): TableSource {
  const byHost = new Map(routes.flatMap((r) => r.hosts.map((h) => [h, r] as const)));
  const table: RoutingTable = {
    version: 1,
    builtAt: Date.now(),
    routes,
    disabled: [],
    lookupHttp: (host) => byHost.get(host.replace(/:\d+$/, '').toLowerCase()),
  };
  return { current: table };
}

const cleanups: (() => Promise<void>)[] = [];

export async function closeAll(): Promise<void> {
  const pending = cleanups.splice(0);
  await Promise.all(pending.map((fn) => fn()));
}

async function listen(server: http.Server | net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function track(server: http.Server): void {
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

export interface RunningProxy {
  readonly port: number;
  readonly metrics: Metrics;
  readonly upstreams: UpstreamRegistry;
  /** Value of `baton_proxy_errors_total{code}`. */
  errors(code: string): Promise<number>;
}

export async function startProxy(
  tables: TableSource,
  opts: { registry?: UpstreamRegistryOptions } & Partial<Pick<HttpProxyOptions, 'trustedProxies' | 'limits'>> = {},
): Promise<RunningProxy> {
  const metrics = createMetrics();
  const upstreams = new UpstreamRegistry(opts.registry);
  const server = createHttpProxy({ tables, upstreams, metrics, logger: pino({ level: 'silent' }), trustedProxies: opts.trustedProxies, limits: opts.limits });
  const port = await listen(server);
  track(server);
  cleanups.push(() => upstreams.close());
  return {
    port,
    metrics,
    upstreams,
    async errors(code) {
      const values = (await metrics.proxyErrors.get()).values;
      return values.find((v) => v.labels.code === code)?.value ?? 0;
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

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
