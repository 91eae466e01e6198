import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Backend, HttpRoute, PortRoute, TlsRoute } from '../routing/types.js';
import type { BackendState } from '../upstream/backend-state.js';
import type { UpstreamRegistry } from '../upstream/registry.js';

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
   * open and paused but no longer watched: the caller answers or closes it, and gives it an error
   * listener if it stays open.
   */
  exhausted(client: Socket, data: T, tried: number, last: string): void;
}

/** A route a connection can be dialled for. */
export type DialRoute = PortRoute | TlsRoute | HttpRoute;

/**
 * Connects `client` to a backend of `route`: the route's picker chooses (`clientAddress` for
 * source hashing, `stickyId` for a sticky cookie; a backend whose breaker is open is skipped), and a backend that refuses, fails
 * or does not accept within the connect timeout is reported to its breaker and replaced by the
 * picker's next choice, each tried at most once, up to the registry's `retries` extra attempts.
 * The client is paused meanwhile, so it cannot make baton buffer; if it closes or fails first,
 * the pending backend connection is destroyed and no hook runs again. A client socket that never
 * started reading (a `pauseOnConnect` listener) does not see its peer's reset until it reads,
 * that is once a backend accepted and `tunnel` pipes it.
 */
export function dial<T>(hooks: DialHooks<T>, client: Socket, route: DialRoute, clientAddress: string, data: T, stickyId?: string): void {
  new Dial(hooks, client, route, clientAddress, data, stickyId).next();
}

function ignore(): void {}

/**
 * One dial. Its listeners are bound once per connection, not per attempt; the only timer is the
 * upstream socket's own inactivity timeout, armed before connecting.
 */
class Dial<T> {
  private tried = 0;
  /** Addresses tried already (only after a failure). */
  private exclude: Set<string> | undefined;
  private upstream: Socket | undefined;
  private backend: Backend | undefined;
  private state: BackendState | undefined;
  private probe = false;
  private startedAt = 0;
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
    client.on('error', this.onClientGone);
    client.on('close', this.onClientGone);
  }

  /** Dials the picker's next backend, or hands the client back when there is none or no retry left. */
  next(): void {
    // Destroyed but its 'close' not emitted yet: onClientGone will end the dial.
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
    this.startedAt = performance.now();
    // `timeout` arms the socket's inactivity timer before connecting: with no traffic yet, it is
    // the connect timeout. It is switched off once connected.
    const upstream = connect({ host: backend.host, port: backend.port, allowHalfOpen: true, noDelay: true, timeout: this.connectTimeoutMs });
    this.upstream = upstream;
    upstream.once('connect', this.onConnect);
    upstream.once('timeout', this.onTimeout);
    upstream.once('error', this.onError);
  }

  private readonly onConnect = (): void => {
    const { upstream, backend, state, client } = this;
    if (upstream === undefined || backend === undefined || state === undefined) return;
    if (client.destroyed) {
      // Destroyed before its 'close' was emitted: onClientGone will find nothing to drop.
      this.drop(upstream, false);
      return;
    }
    this.detach(upstream);
    this.upstream = undefined;
    this.state = undefined;
    this.release();
    upstream.setTimeout(0);
    state.sample(performance.now() - this.startedAt);
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
    (this.exclude ??= new Set()).add(backend.address);
    this.hooks.failed?.(backend, err, this.data);
    this.next();
  }

  private exhausted(): void {
    this.release();
    const { backend, lastError } = this;
    const last = backend === undefined ? 'no backend available' : `${backend.address}: ${lastError?.message ?? `no connection within ${this.connectTimeoutMs} ms`}`;
    this.hooks.exhausted(this.client, this.data, this.tried, last);
  }

  /** The client left while a backend was being dialled: stop dialling. */
  private readonly onClientGone = (): void => {
    const { upstream, client } = this;
    this.release();
    // An error is followed by 'close'; nothing of the dial listens any more.
    client.on('error', ignore);
    if (upstream !== undefined) this.drop(upstream, false);
    client.destroy();
  };

  /** Stops watching the client. */
  private release(): void {
    this.client.removeListener('error', this.onClientGone);
    this.client.removeListener('close', this.onClientGone);
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
