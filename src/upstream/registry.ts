import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { BREAKER_STATE, type BackendStatsTable } from '../observability/backend-stats.js';
import type { Metrics } from '../observability/metrics.js';
import type { Backend, BackendPolicy, HttpRoute, PortRoute, RoutingTable, TlsRoute } from '../routing/types.js';
import { BackendState } from './backend-state.js';
import { pick, type BackendLoad, type PickContext } from './balancer.js';
import { H1Agent, type H1Pool } from './h1-pool.js';
import { BackendBreaker, type BreakerMonitor, type BreakerSettings, type BreakerState } from './breaker.js';

/** The breaker settings of the config (`breaker.*`); a route's `policy.breaker` overrides all but the window. */
export interface BreakerDefaults extends Omit<BreakerSettings, 'responseCodeRatio'> {
  /** Length of the rolling window the error rate is measured over. */
  readonly rollingWindowMs: number;
}

export interface UpstreamRegistryOptions {
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Time to establish a TCP connection to a backend (a route's `policy.timeouts.connectMs` overrides it). Default 3000 ms. */
  readonly connectTimeoutMs?: number;
  /** Idle keep-alive connections to a backend are closed after this. Default 4000 ms. */
  readonly keepAliveTimeoutMs?: number;
  /** Maximum connections per backend. Default 128. */
  readonly connections?: number;
  /** Tracked connections to a backend that left the table are destroyed after this. Default 30000 ms. */
  readonly drainMs?: number;
  readonly breaker?: Partial<BreakerDefaults>;
  /** Extra attempts on other backends after a failed connect (idempotent HTTP requests: also after a reset). Default 2. */
  readonly retries?: number;
}

/** A backend as `/routes` shows it at run time. */
export interface BackendView {
  readonly breaker: BreakerState;
  readonly inFlight: number;
  readonly latencyMs: number;
}

/** What `pick` needs of a route. */
type Pickable = HttpRoute | PortRoute | TlsRoute;

const IDLE: BackendLoad = { inFlight: 0, latencyMs: 0 };

/**
 * The policy each backend address gets: that of the first route of the table (HTTP, then port,
 * then TLS routes, in table order) listing it. An address in two routes with different breaker
 * settings or connect timeouts (rare: one app port behind two routes) follows the first.
 */
export function backendPolicies(table: RoutingTable): Map<string, BackendPolicy> {
  const policies = new Map<string, BackendPolicy>();
  for (const routes of [table.routes, table.portRoutes, table.tlsRoutes]) {
    for (const route of routes) {
      for (const backend of route.backends) if (!policies.has(backend.address)) policies.set(backend.address, route.policy);
    }
  }
  return policies;
}

function sameSettings(a: BreakerSettings, b: BreakerSettings): boolean {
  const ra = a.responseCodeRatio;
  const rb = b.responseCodeRatio;
  return (
    a.errorThresholdPercentage === b.errorThresholdPercentage &&
    a.volumeThreshold === b.volumeThreshold &&
    a.resetTimeoutMs === b.resetTimeoutMs &&
    a.failOn5xx === b.failOn5xx &&
    (ra === rb || (ra !== undefined && rb !== undefined && ra.every((v, i) => v === rb[i])))
  );
}

/**
 * The backend registry: live state per backend address (breaker, in-flight count, latency
 * average, HTTP/1.1 pool, long-lived connections), outside the routing table so that it survives
 * every swap. It is the picker's context: a backend whose breaker is open is not available.
 *
 * `retain` is told the backends of each new table: a backend that left is released once its
 * requests in flight have finished and its connections closed (these are destroyed after
 * `drainMs`); if it comes back first, it keeps everything, breaker state included.
 */
export class UpstreamRegistry implements PickContext {
  /** Extra attempts on other backends after a failure (`config.retries`). */
  readonly retries: number;
  /** Default connect timeout (a route's `policy.timeouts.connectMs` overrides it). */
  readonly connectTimeoutMs: number;
  private readonly states = new Map<string, BackendState>();
  private readonly h1Agent: H1Agent;
  private readonly retriedAfter: Record<'connect' | 'reset', { inc(): void }>;
  private readonly drainMs: number;
  private readonly breakerDefaults: BreakerDefaults;
  private readonly monitor: BreakerMonitor;
  private readonly backendStats: BackendStatsTable;
  private readonly rotationTimer: NodeJS.Timeout;
  /** The policies of the last `retain`; undefined until the first one. */
  private policies: ReadonlyMap<string, BackendPolicy> | undefined;
  private closed = false;
  private readonly release = (state: BackendState): void => this.releaseIfIdle(state);

  constructor(opts: UpstreamRegistryOptions) {
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 3000;
    // The headers and body timeouts are set per request (they may be a route's).
    this.h1Agent = new H1Agent({ connections: opts.connections ?? 128, keepAliveTimeoutMs: opts.keepAliveTimeoutMs ?? 4000 });
    this.drainMs = opts.drainMs ?? 30_000;
    const breaker = opts.breaker ?? {};
    this.breakerDefaults = {
      errorThresholdPercentage: breaker.errorThresholdPercentage ?? 50,
      volumeThreshold: breaker.volumeThreshold ?? 20,
      resetTimeoutMs: breaker.resetTimeoutMs ?? 10_000,
      rollingWindowMs: breaker.rollingWindowMs ?? 10_000,
      failOn5xx: breaker.failOn5xx ?? true,
    };
    const rotation = new EventEmitter();
    // One listener per breaker's window.
    rotation.setMaxListeners(0);
    this.rotationTimer = setInterval(() => rotation.emit('rotate'), Math.max(1, Math.floor(this.breakerDefaults.rollingWindowMs / 10)));
    this.rotationTimer.unref();
    this.monitor = { logger: opts.logger, metrics: opts.metrics, rotation, rollingWindowMs: this.breakerDefaults.rollingWindowMs };
    this.backendStats = opts.metrics.backendStats;
    this.retries = opts.retries ?? 2;
    const retries = opts.metrics.upstreamRetries;
    this.retriedAfter = { connect: retries.labels({ reason: 'connect' }), reset: retries.labels({ reason: 'reset' }) };
  }

  /** Number of backends with live state. */
  get size(): number {
    return this.states.size;
  }

  /** The state of the backend at `address` (`host:port`, `[v6]:port`), created when first asked for. */
  backend(address: string): BackendState {
    let state = this.states.get(address);
    if (state === undefined) {
      const policy = this.policies?.get(address);
      state = new BackendState(address, new BackendBreaker(address, this.breakerSettings(policy), this.monitor), this.release);
      // Dialled from an older table after it left: released again once idle.
      state.leaving = this.closed || (this.policies !== undefined && policy === undefined);
      this.states.set(address, state);
    }
    return state;
  }

  /** The HTTP/1.1 pool of a backend, created when first asked for. Throws for an address that is not `host:port`. */
  pool(state: BackendState): H1Pool {
    if (state.pool !== undefined) return state.pool;
    const connectTimeoutMs = this.connectTimeoutFor(state.address);
    const pool = this.h1Agent.pool(state.address, connectTimeoutMs);
    state.pool = pool;
    state.poolConnectTimeoutMs = connectTimeoutMs;
    return pool;
  }

  /** The connect timeout for `address`: its route's `policy.timeouts.connectMs`, else the registry's. */
  connectTimeoutFor(address: string): number {
    return this.policies?.get(address)?.timeouts?.connectMs ?? this.connectTimeoutMs;
  }

  /** PickContext: a backend whose breaker is open (or half-open with its probe out) is not available. */
  available(backend: Backend): boolean {
    return this.states.get(backend.address)?.available ?? true;
  }

  /** PickContext: requests in flight and latency average. */
  load(backend: Backend): BackendLoad {
    return this.states.get(backend.address) ?? IDLE;
  }

  /** The backend for a new request or connection of `route`, skipping `exclude` (addresses already tried). */
  pick(route: Pickable, clientAddress: string, stickyId?: string, exclude?: ReadonlySet<string>): Backend | undefined {
    return pick(route, this, clientAddress, stickyId, exclude);
  }

  /** Counts a request or connection sent to another backend after a failed connect or a reset. */
  retried(reason: 'connect' | 'reset'): void {
    this.retriedAfter[reason].inc();
  }

  /** Counts a failed attempt on the backend at `address` by its error code (`baton_backend_errors_total`). */
  attemptFailed(address: string, code: string): void {
    this.backendStats.failed(address, code);
  }

  /**
   * Holds an established long-lived connection (raw TCP, TLS passthrough, WebSocket) to `state`'s
   * backend until it closes: it stays counted in flight until then (the caller's `begin()`), and
   * is destroyed `drainMs` after the backend left the table. After `close()` it is destroyed at once.
   */
  track(state: BackendState, socket: Socket): void {
    if (socket.closed) {
      state.end();
      return;
    }
    state.sockets.add(socket);
    socket.once('close', () => {
      state.sockets.delete(socket);
      state.end();
    });
    if (this.closed) socket.destroy();
    else if (state.leaving) this.scheduleDrain(state);
  }

  /**
   * The backends of the new table, with the policy each follows (see `backendPolicies`). Those
   * not in it are released once idle: their pools close (requests in flight finish, for at most
   * `drainMs`; a later request builds a new pool) and their connections are destroyed after `drainMs`. Those still
   * in it take the new policy's breaker settings and connect timeout (a pool built with another
   * connect timeout is closed gracefully and built again on the next request), and their breaker
   * state is told to the metrics again (their series may be new: see BackendStatsTable.retain).
   */
  retain(policies: ReadonlyMap<string, BackendPolicy>): void {
    this.policies = policies;
    for (const state of this.states.values()) this.follow(state);
  }

  /**
   * As `retain`, when only the backends at `changed` may have come, left or changed policy since
   * the last call (`policies` describes the whole new table): the others are not looked at.
   */
  retainChanged(policies: ReadonlyMap<string, BackendPolicy>, changed: Iterable<string>): void {
    this.policies = policies;
    for (const address of changed) {
      const state = this.states.get(address);
      if (state !== undefined) this.follow(state);
    }
  }

  /** The run-time state of one backend, for `/routes`; undefined when it never had traffic. */
  state(address: string): BackendView | undefined {
    const state = this.states.get(address);
    return state && { breaker: state.breaker.state, inFlight: state.inFlight, latencyMs: Math.round(state.latencyMs * 100) / 100 };
  }

  /** Every backend with live state, by address. */
  snapshot(): Record<string, BackendView> {
    const view: Record<string, BackendView> = {};
    for (const address of [...this.states.keys()].sort()) view[address] = this.state(address) as BackendView;
    return view;
  }

  /** Closes every pool (requests in flight finish first), destroys every tracked connection, stops every breaker. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.rotationTimer);
    const pools: Promise<void>[] = [];
    for (const state of this.states.values()) {
      clearTimeout(state.drainTimer);
      for (const socket of state.sockets) socket.destroy();
      if (state.pool !== undefined) pools.push(state.pool.close());
      state.pool = undefined;
      state.leaving = true;
      state.breaker.shutdown();
    }
    this.states.clear();
    await Promise.all(pools);
  }

  private breakerSettings(policy: BackendPolicy | undefined): BreakerSettings {
    const d = this.breakerDefaults;
    const p = policy?.breaker;
    if (p === undefined) return d;
    return {
      errorThresholdPercentage: p.errorThresholdPercentage ?? d.errorThresholdPercentage,
      volumeThreshold: p.volumeThreshold ?? d.volumeThreshold,
      resetTimeoutMs: p.resetTimeoutMs ?? d.resetTimeoutMs,
      failOn5xx: p.failOn5xx ?? d.failOn5xx,
      ...(p.responseCodeRatio !== undefined && { responseCodeRatio: p.responseCodeRatio }),
    };
  }

  /** Brings one backend's state in line with its policy in the last `retain`. */
  private follow(state: BackendState): void {
    const policy = this.policies?.get(state.address);
    if (policy === undefined) {
      this.leave(state);
      return;
    }
    if (state.leaving) {
      state.leaving = false;
      clearTimeout(state.drainTimer);
      state.drainTimer = undefined;
    }
    const settings = this.breakerSettings(policy);
    if (!sameSettings(settings, state.breaker.settings)) state.breaker.configure(settings);
    this.backendStats.breaker(state.address, BREAKER_STATE[state.breaker.state]);
    if (state.pool !== undefined && state.poolConnectTimeoutMs !== this.connectTimeoutFor(state.address)) this.closePool(state);
  }

  private leave(state: BackendState): void {
    if (!state.leaving) {
      state.leaving = true;
      this.closePool(state, this.drainMs);
      if (state.sockets.size > 0) this.scheduleDrain(state);
    }
    this.releaseIfIdle(state);
  }

  /** Forgets a leaving backend once nothing is in flight to it. */
  private releaseIfIdle(state: BackendState): void {
    if (!state.leaving || state.inFlight > 0 || state.sockets.size > 0) return;
    if (this.states.get(state.address) !== state) return;
    this.states.delete(state.address);
    clearTimeout(state.drainTimer);
    this.closePool(state);
    state.breaker.shutdown();
  }

  /**
   * Closes a backend's pool gracefully: idle keep-alive connections at once, busy ones when their
   * request ends. With `deadlineMs`, requests still in flight by then are cut (a backend going out
   * of service must not keep a connection for as long as its slowest client wants).
   */
  private closePool(state: BackendState, deadlineMs?: number): void {
    const pool = state.pool;
    if (pool === undefined) return;
    state.pool = undefined;
    const closed = pool.close();
    if (deadlineMs === undefined) return;
    const deadline = setTimeout(() => pool.destroy(), deadlineMs);
    deadline.unref();
    void closed.then(() => clearTimeout(deadline));
  }

  private scheduleDrain(state: BackendState): void {
    if (state.drainTimer !== undefined) return;
    state.drainTimer = setTimeout(() => {
      state.drainTimer = undefined;
      for (const socket of state.sockets) socket.destroy();
    }, this.drainMs);
    // Open connections keep the process alive by themselves; the timer need not.
    state.drainTimer.unref();
  }
}
