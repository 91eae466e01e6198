import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { RuntimeStatus } from './admin/routes-view.js';
import type { Config } from './config/schema.js';
import { AccessLog } from './observability/access-log.js';
import type { BackendStatsTable } from './observability/backend-stats.js';
import type { Metrics } from './observability/metrics.js';
import { RateLimitedLog } from './observability/rate-limited-log.js';
import type { RouteStatsTable } from './observability/route-stats.js';
import { createHttpHandlers } from './proxy/http-handlers.js';
import { createHttpsEntry, type HttpsEntry } from './proxy/https.js';
import { ServiceListeners } from './proxy/listeners.js';
import type { Observe } from './proxy/observe.js';
import { createPlainHttpEntry, type PlainHttpEntry } from './proxy/plain-entry.js';
import { createTcpHandler } from './proxy/tcp.js';
import { CertStore } from './proxy/tls/cert-store.js';
import { TlsPassthrough } from './proxy/tls/passthrough.js';
import { UdpProxy } from './proxy/udp.js';
import { replacedSince, type RouteReplacements } from './routing/routing-table.js';
import type { RoutingTable, TableSource } from './routing/types.js';
import { closeServer, listen } from './server-lifecycle.js';
import { H2cSessions } from './upstream/h2c-sessions.js';
import { UpstreamRegistry } from './upstream/registry.js';
import { TableBackends } from './upstream/table-backends.js';

/** Internal switches, not user settings. */
export interface DataPathOptions {
  /**
   * Record per-route metrics (requests, latency, bytes, active). Default true; bench/metrics-cost.mjs
   * turns it off to measure what recording costs.
   */
  readonly recordRouteMetrics?: boolean;
}

/** The route ids of a table, whose metric series are kept. */
function routeIds(table: RoutingTable): Set<string> {
  const ids = new Set<string>();
  for (const routes of [table.routes, table.portRoutes, table.tlsRoutes]) for (const route of routes) ids.add(route.id);
  return ids;
}

/** Whether a derived table's replaced routes open or close a service listener (a port or protocol that moved). */
function movesListener(before: RoutingTable, replaced: RouteReplacements): boolean {
  for (const [i, route] of replaced.portRoutes ?? []) {
    const old = before.portRoutes[i];
    if (old?.port !== route.port || old.protocol !== route.protocol) return true;
  }
  for (const [i, route] of replaced.tlsRoutes ?? []) if (before.tlsRoutes[i]?.port !== route.port) return true;
  return false;
}

/**
 * Everything on the data path, built from the config around one table source: the HTTP entry
 * point (HTTP/1.1 and h2c), the optional HTTPS entry point (TLS, h2, passthrough by SNI), the
 * service-port listeners (TCP, UDP, TLS on its own port) and the backend registry they share
 * (breakers, balancing, retries). Every request, tunnel and UDP flow is recorded in the per-route
 * metrics and, when `accessLog` is set, in the access log.
 */
export class DataPath {
  private readonly upstreams: UpstreamRegistry;
  private readonly h2cSessions: H2cSessions;
  private readonly plain: PlainHttpEntry;
  private readonly certs: CertStore | undefined;
  private readonly https: HttpsEntry | undefined;
  private readonly services: ServiceListeners;
  private readonly accessLog: AccessLog | null;
  private readonly routeStats: RouteStatsTable;
  private readonly backendStats: BackendStatsTable;
  private readonly backends = new TableBackends();
  /** The table of the last `onSwap`. */
  private previous: RoutingTable | undefined;

  constructor(
    private readonly config: Readonly<Config>,
    tables: TableSource,
    private readonly logger: Logger,
    metrics: Metrics,
    options: DataPathOptions = {},
  ) {
    const { upstream, server } = config;
    this.routeStats = metrics.routeStats;
    this.backendStats = metrics.backendStats;
    this.accessLog = AccessLog.open({ target: config.accessLog, sample: config.accessLogSample, logger });
    const observe: Observe = { routes: options.recordRouteMetrics === false ? null : metrics.routeStats, accessLog: this.accessLog };
    this.upstreams = new UpstreamRegistry({
      logger,
      metrics,
      connectTimeoutMs: upstream.connectTimeoutMs,
      keepAliveTimeoutMs: upstream.keepAliveTimeoutMs,
      connections: upstream.connections,
      drainMs: config.drainMs,
      breaker: config.breaker,
      retries: config.retries,
    });
    this.h2cSessions = new H2cSessions(logger, { connectTimeoutMs: upstream.connectTimeoutMs });
    const handlers = createHttpHandlers({
      tables,
      upstreams: this.upstreams,
      h2cSessions: this.h2cSessions,
      logger,
      metrics,
      trustedProxies: new Set(config.trustedProxies),
      upstream,
      websocketIdleTimeoutMs: config.websocketIdleTimeoutMs,
      observe,
    });
    this.plain = createPlainHttpEntry(handlers, server, { metrics, logger, warnings: new RateLimitedLog(logger) });
    if (config.https) {
      this.certs = new CertStore({ ...(config.certs !== undefined && { dir: config.certs }), logger });
      this.https = createHttpsEntry({
        tables,
        certs: this.certs,
        handlers,
        metrics,
        logger,
        limits: server,
        connectTimeoutMs: upstream.connectTimeoutMs,
        idleTimeoutMs: config.tcpIdleTimeoutMs,
        registry: this.upstreams,
        observe,
      });
    }
    const passthrough = new TlsPassthrough({
      tables,
      metrics,
      logger,
      connectTimeoutMs: upstream.connectTimeoutMs,
      helloTimeoutMs: server.headersTimeoutMs,
      idleTimeoutMs: config.tcpIdleTimeoutMs,
      registry: this.upstreams,
      observe,
    });
    const onTcp = createTcpHandler({ tables, upstreams: this.upstreams, metrics, logger, connectTimeoutMs: upstream.connectTimeoutMs, idleTimeoutMs: config.tcpIdleTimeoutMs, observe });
    this.services = new ServiceListeners({
      bind: config.serviceBind,
      logger,
      metrics,
      onTcp,
      onTls: (socket, port) => passthrough.onOwnPortConnection(socket, port),
      udp: (port) =>
        new UdpProxy({ port, tables, metrics, logger, idleTimeoutMs: config.udpIdleTimeoutMs, maxFlows: config.udpMaxFlows, upstreams: this.upstreams, observe }),
    });
  }

  /**
   * A new table is live: release backends that left, follow its service ports and certificates,
   * and drop the metric series of routes and backends that left. A table derived from the last
   * one (a task event) costs the routes it replaced; any other, the whole table.
   */
  onSwap(table: RoutingTable): void {
    const previous = this.previous;
    if (table === previous) return;
    this.previous = table;
    const replaced = previous && replacedSince(previous, table);
    const changed = previous && replaced && this.backends.follow(previous, replaced);
    if (!previous || !replaced || !changed) {
      this.swapWhole(table);
      return;
    }
    const { policies, apps } = this.backends;
    // Route ids stay at their positions in a derived table: the route series stay as they are.
    // Before the registry, which tells the breaker states of the backends it keeps.
    this.backendStats.retainChanged(apps, changed);
    this.upstreams.retainChanged(policies, changed);
    this.h2cSessions.retainChanged(policies, changed);
    if (movesListener(previous, replaced)) this.services.reconcile(table);
    if (table.certificates !== previous.certificates) this.certs?.setExtraFiles(table.certificates);
  }

  private swapWhole(table: RoutingTable): void {
    this.backends.rebuild(table);
    const { policies, apps } = this.backends;
    this.routeStats.retain(routeIds(table));
    this.backendStats.retain(apps);
    this.upstreams.retain(policies);
    this.h2cSessions.retain(policies);
    this.services.reconcile(table);
    this.certs?.setExtraFiles(table.certificates);
  }

  /**
   * Opens the HTTP entry point, and the HTTPS one when configured (certificates loaded first).
   * Rejects when the access log file cannot be opened.
   */
  async listen(): Promise<{ http: AddressInfo; https?: AddressInfo }> {
    await this.accessLog?.ready();
    const http = await listen(this.plain, this.config.http.host, this.config.http.port);
    if (!this.https || !this.config.https) return { http };
    await this.certs?.start();
    if (this.certs?.status().default === undefined) this.logger.warn('HTTPS entry point without any certificate: set --certs or BATON_{n}_SSL_CERT labels');
    return { http, https: await listen(this.https.server, this.config.https.host, this.config.https.port) };
  }

  /** `/routes` run-time data: the listeners and certificates, and the live state of each backend that has had traffic. */
  runtime(): RuntimeStatus {
    return { listeners: this.services.status(), ...(this.certs && { certificates: this.certs.status() }), backends: this.upstreams.snapshot() };
  }

  /**
   * Stops accepting everywhere and lets requests in flight finish; what is still open after
   * `shutdownGraceMs` (long requests, WebSocket and TCP tunnels) is closed. The access log is
   * flushed last.
   */
  async close(): Promise<void> {
    const httpsClosed = this.https?.server.listening ? once(this.https.server, 'close') : undefined;
    this.https?.close();
    this.certs?.close();
    const closed = Promise.all([closeServer(this.plain), this.services.close(), httpsClosed]);
    const grace = new Promise<void>((resolve) => setTimeout(resolve, this.config.shutdownGraceMs).unref());
    await Promise.race([closed, grace]);
    const upstreamsClosed = Promise.all([this.upstreams.close(), this.h2cSessions.close()]);
    this.plain.closeAllConnections();
    this.https?.closeAllConnections();
    await Promise.all([closed, upstreamsClosed]);
    await this.accessLog?.close();
  }
}
