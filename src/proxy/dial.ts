import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { CONN, statusClass, type RouteStats } from '../observability/route-stats.js';
import type { Backend, HttpRoute, PortRoute, TlsRoute } from '../routing/types.js';
import type { BackendState } from '../upstream/backend-state.js';
import type { UpstreamRegistry } from '../upstream/registry.js';
import { PROXY_ERRORS, type ProxyErrorCode } from './errors.js';
import { pathOnly, roundMs, type Observe } from './observe.js';

/**
 * What one kind of connection (raw TCP, TLS passthrough, WebSocket) does with each outcome of a
 * dial. Built once per handler and shared by all its dials; `data` is the caller's
 * per-connection value (its route, the bytes already read), handed back to every hook.
 */
export interface DialHooks<T> {
  /** Backend choice (the route's picker over breakers and load), connection tracking, retries. */
  readonly upstreams: UpstreamRegistry;
  /** Time a backend has to accept before the next is tried, unless the route's `policy.timeouts.connectMs` says otherwise; 0 = no limit. */
  readonly connectTimeoutMs: number;
  /** Where each connection is recorded when the client's socket closes. */
  readonly observe: Observe;
  /** What the record and the access log call these connections. */
  readonly protocol: 'tcp' | 'tls-passthrough' | 'websocket';
  /** What the connection asked for, for its access log line (called only for a line written). */
  describe?(data: T): { readonly host?: string; readonly method?: string; readonly target?: string };
  /**
   * A backend accepted. The dialer has taken its listeners off both sockets, left the client
   * paused, and handed the backend connection to the registry (it counts in flight until it
   * closes, and drains when the backend leaves): the caller owns both now (typically it writes
   * what it buffered, then tunnels).
   */
  connected(client: Socket, upstream: Socket, backend: Backend, data: T): void;
  /**
   * `backend` refused or failed (`err`), or did not accept within the connect timeout (`err`
   * undefined). Its socket is already destroyed; the next backend is dialled after this returns.
   */
  failed?(backend: Backend, err: Error | undefined, data: T): void;
  /**
   * No backend accepted: `tried` were dialled (0: the picker had none to offer, every breaker
   * being open) and `last` describes the last failure ("host:port: reason"). The client is still
   * open and paused: the caller answers or closes it.
   */
  exhausted(client: Socket, data: T, tried: number, last: string): void;
}

/** A route a connection can be dialled for. */
export type DialRoute = PortRoute | TlsRoute | HttpRoute;

/**
 * Connects `client` to a backend of `route`: the route's picker chooses (`clientAddress` for
 * source hashing and the access log, `''` when neither needs it; `stickyId` for a sticky cookie;
 * a backend whose breaker is open is skipped), and a backend that refuses, fails or does not
 * accept within the connect timeout is reported to its breaker and replaced by the
 * picker's next choice, each tried at most once, up to the registry's `retries` extra attempts.
 * The client is paused meanwhile, so it cannot make baton buffer; if it closes or fails first,
 * the pending backend connection is destroyed and no hook runs again. A client socket that never
 * started reading (a `pauseOnConnect` listener) does not see its peer's reset until it reads,
 * that is once a backend accepted and `tunnel` pipes it.
 *
 * The connection counts as active for its route from now until the client's socket closes; then
 * it is recorded (class `conn`, lifetime, every byte each way of the client's socket; a WebSocket
 * that no backend took was answered with an HTTP error and counts by its status) and logged.
 */
export function dial<T>(hooks: DialHooks<T>, client: Socket, route: DialRoute, clientAddress: string, data: T, stickyId?: string): void {
  new Dial(hooks, client, route, clientAddress, data, stickyId).next();
}

function ignore(): void {}

/**
 * One dial, and the record of its connection. Its listeners are bound once per connection, not
 * per attempt; the only timer is the upstream socket's own inactivity timeout, armed before
 * connecting.
 */
class Dial<T> {
  private readonly openedAt = performance.now();
  /** The route's metrics (null when not recorded), active until the client closes. */
  private readonly stats: RouteStats | null;
  /** The dial is over: connected, given up, or the client left. */
  private settled = false;
  private error: ProxyErrorCode | undefined;
  private tried = 0;
  /** Addresses tried already (only after a failure). */
  private exclude: Set<string> | undefined;
  private upstream: Socket | undefined;
  private backend: Backend | undefined;
  private state: BackendState | undefined;
  private probe = false;
  private attemptStartedAt = 0;
  private lastError: Error | undefined;
  private readonly connectTimeoutMs: number;

  constructor(
    private readonly hooks: DialHooks<T>,
    private readonly client: Socket,
    private readonly route: DialRoute,
    private readonly clientAddress: string,
    private readonly data: T,
    private readonly stickyId: string | undefined,
  ) {
    this.connectTimeoutMs = route.policy.timeouts?.connectMs ?? hooks.connectTimeoutMs;
    client.pause();
    // An error is followed by 'close', which does the work.
    client.on('error', ignore);
    client.on('close', this.onClientClosed);
    const routes = hooks.observe.routes;
    this.stats = routes === null ? null : routes.of(route.id);
    if (this.stats !== null) this.stats.active += 1;
    // Closed already: no 'close' is coming, the connection is over before it began.
    if (client.closed) this.onClientClosed();
  }

  /** Dials the picker's next backend, or hands the client back when there is none or no retry left. */
  next(): void {
    // Destroyed but its 'close' not emitted yet: onClientClosed will end the dial.
    if (this.client.destroyed) return;
    const { upstreams } = this.hooks;
    const backend = this.tried > upstreams.retries ? undefined : upstreams.pick(this.route, this.clientAddress, this.stickyId, this.exclude);
    if (backend === undefined) {
      this.exhausted();
      return;
    }
    if (this.tried > 0) upstreams.retried('connect');
    this.tried += 1;
    this.backend = backend;
    const state = upstreams.backend(backend.address);
    this.state = state;
    this.probe = state.begin();
    this.attemptStartedAt = performance.now();
    // `timeout` arms the socket's inactivity timer before connecting: with no traffic yet, it is
    // the connect timeout. It is switched off once connected.
    const upstream = connect({ host: backend.host, port: backend.port, allowHalfOpen: true, noDelay: true, timeout: this.connectTimeoutMs });
    this.upstream = upstream;
    // Plain listeners (no once wrappers): detach() takes all three off at the first outcome.
    upstream.on('connect', this.onConnect);
    upstream.on('timeout', this.onTimeout);
    upstream.on('error', this.onError);
  }

  private readonly onConnect = (): void => {
    const { upstream, backend, state, client } = this;
    if (upstream === undefined || backend === undefined || state === undefined) return;
    if (client.destroyed) {
      // Destroyed before its 'close' was emitted: onClientClosed will find nothing to drop.
      this.drop(upstream, false);
      return;
    }
    this.detach(upstream);
    this.upstream = undefined;
    this.state = undefined;
    this.settled = true;
    upstream.setTimeout(0);
    state.sample(performance.now() - this.attemptStartedAt);
    state.breaker.succeeded(this.probe);
    // The attempt's in-flight count now belongs to the connection, until it closes.
    this.hooks.upstreams.track(state, upstream);
    this.hooks.connected(client, upstream, backend, this.data);
  };

  private readonly onTimeout = (): void => {
    this.failed(undefined);
  };

  private readonly onError = (err: Error): void => {
    this.failed(err);
  };

  private failed(err: Error | undefined): void {
    const { upstream, backend } = this;
    if (upstream === undefined || backend === undefined) return;
    this.drop(upstream, true);
    this.lastError = err;
    this.hooks.upstreams.attemptFailed(backend.address, 'upstream-connect');
    (this.exclude ??= new Set()).add(backend.address);
    this.hooks.failed?.(backend, err, this.data);
    this.next();
  }

  private exhausted(): void {
    this.settled = true;
    const { backend, lastError } = this;
    this.error = this.tried === 0 ? 'all-backends-open' : 'upstream-connect';
    const last = backend === undefined ? 'no backend available' : `${backend.address}: ${lastError?.message ?? `no connection within ${this.connectTimeoutMs} ms`}`;
    this.hooks.exhausted(this.client, this.data, this.tried, last);
  }

  /** The client's socket closed: a dial still running stops, and the connection is recorded. */
  private readonly onClientClosed = (): void => {
    if (!this.settled) {
      this.settled = true;
      if (this.upstream !== undefined) this.drop(this.upstream, false);
    }
    this.record();
  };

  private record(): void {
    const { observe, protocol } = this.hooks;
    const { client, stats, error, backend, route } = this;
    const ms = performance.now() - this.openedAt;
    const bytesIn = client.bytesRead;
    const bytesOut = client.bytesWritten;
    // A WebSocket no backend took was answered with an HTTP error.
    const status = error !== undefined && protocol === 'websocket' ? PROXY_ERRORS[error].status : undefined;
    if (stats !== null) {
      stats.active -= 1;
      stats.done(status === undefined ? CONN : statusClass(status), ms / 1000, bytesIn, bytesOut);
    }
    const log = observe.accessLog;
    if (log === null || !log.wants(error !== undefined)) return;
    const asked = this.hooks.describe?.(this.data);
    log.write({
      route: route.id,
      app: backend?.appId ?? route.appIds[0],
      backend: backend?.address,
      method: asked?.method,
      host: asked?.host,
      path: asked?.target === undefined ? undefined : pathOnly(asked.target),
      protocol,
      status,
      durationMs: roundMs(ms),
      bytesIn,
      bytesOut,
      error,
      client: this.clientAddress,
    });
  }

  /** Abandons the pending attempt; `backendFailed`: its breaker counts a failure (else the probe, if it was one, is given back). */
  private drop(upstream: Socket, backendFailed: boolean): void {
    this.detach(upstream);
    this.upstream = undefined;
    // Nothing reads a dropped socket's errors any more; they must not become uncaught.
    upstream.on('error', ignore);
    upstream.destroy();
    const state = this.state;
    if (state === undefined) return;
    this.state = undefined;
    if (backendFailed) state.breaker.failed(this.probe);
    else state.breaker.abandoned(this.probe);
    state.end();
  }

  private detach(upstream: Socket): void {
    upstream.removeListener('connect', this.onConnect);
    upstream.removeListener('timeout', this.onTimeout);
    upstream.removeListener('error', this.onError);
  }
}
