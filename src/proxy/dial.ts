import { connect, type Socket } from 'node:net';
import type { Backend } from '../routing/types.js';

/**
 * What one kind of connection (raw TCP, TLS passthrough, WebSocket) does with each outcome of a
 * dial. Built once per handler and shared by all its dials; `data` is the caller's
 * per-connection value (its route, the bytes already read), handed back to every hook.
 */
export interface DialHooks<T> {
  /** Time a backend has to accept before the next is tried; 0 = no limit. */
  readonly connectTimeoutMs: number;
  /**
   * A backend accepted. The dialer has taken its listeners off both sockets and left the client
   * paused: the caller owns both now (typically it writes what it buffered, then tunnels).
   */
  connected(client: Socket, upstream: Socket, backend: Backend, data: T): void;
  /**
   * `backend` refused or failed (`err`), or did not accept within `connectTimeoutMs` (`err`
   * undefined). Its socket is already destroyed; the next backend is dialled after this returns.
   */
  failed?(backend: Backend, err: Error | undefined, data: T): void;
  /**
   * No backend accepted. `tried` is how many were dialled, `last` describes the last failure
   * ("host:port: reason"). The client is still open and paused but no longer watched: the caller
   * answers or closes it, and gives it an error listener if it stays open.
   */
  exhausted(client: Socket, data: T, tried: number, last: string): void;
}

/**
 * Connects `client` to the first of `backends` that accepts, starting at index `first` and
 * trying each at most once: a backend that refuses, fails or does not accept within the
 * connect timeout is skipped for the next. The client is paused meanwhile, so it cannot make
 * baton buffer; if it closes or fails first, the pending backend connection is destroyed and no
 * hook runs again. A client socket that never started reading (a `pauseOnConnect` listener) does
 * not see its peer's reset until it reads, that is once a backend accepted and `tunnel` pipes it.
 */
export function dial<T>(hooks: DialHooks<T>, client: Socket, backends: readonly Backend[], first: number, data: T): void {
  new Dial(hooks, client, backends, first, data).next();
}

function ignore(): void {}

/**
 * One dial. Its listeners are bound once per connection, not per attempt; the only timer is the
 * upstream socket's own inactivity timeout, armed before connecting.
 */
class Dial<T> {
  private tried = 0;
  private upstream: Socket | undefined;
  private backend: Backend | undefined;
  private lastError: Error | undefined;

  constructor(
    private readonly hooks: DialHooks<T>,
    private readonly client: Socket,
    private readonly backends: readonly Backend[],
    private readonly first: number,
    private readonly data: T,
  ) {
    client.pause();
    client.on('error', this.onClientGone);
    client.on('close', this.onClientGone);
  }

  /** Dials the next backend not tried yet, or hands the client back when none is left. */
  next(): void {
    // Destroyed but its 'close' not emitted yet: onClientGone will end the dial.
    if (this.client.destroyed) return;
    if (this.tried === this.backends.length) {
      this.exhausted();
      return;
    }
    const backend = this.backends[(this.first + this.tried) % this.backends.length] as Backend;
    this.tried += 1;
    this.backend = backend;
    // `timeout` arms the socket's inactivity timer before connecting: with no traffic yet, it is
    // the connect timeout. It is switched off once connected.
    const upstream = connect({ host: backend.host, port: backend.port, allowHalfOpen: true, noDelay: true, timeout: this.hooks.connectTimeoutMs });
    this.upstream = upstream;
    upstream.once('connect', this.onConnect);
    upstream.once('timeout', this.onTimeout);
    upstream.once('error', this.onError);
  }

  private readonly onConnect = (): void => {
    const { upstream, backend, client } = this;
    if (upstream === undefined || backend === undefined) return;
    if (client.destroyed) {
      // Destroyed before its 'close' was emitted: onClientGone will find nothing to drop.
      this.drop(upstream);
      return;
    }
    this.detach(upstream);
    this.upstream = undefined;
    this.release();
    upstream.setTimeout(0);
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
    this.drop(upstream);
    this.lastError = err;
    this.hooks.failed?.(backend, err, this.data);
    this.next();
  }

  private exhausted(): void {
    this.release();
    const { backend, lastError } = this;
    const last = backend === undefined ? 'no backend' : `${backend.address}: ${lastError?.message ?? `no connection within ${this.hooks.connectTimeoutMs} ms`}`;
    this.hooks.exhausted(this.client, this.data, this.tried, last);
  }

  /** The client left while a backend was being dialled: stop dialling. */
  private readonly onClientGone = (): void => {
    const { upstream, client } = this;
    this.release();
    // An error is followed by 'close'; nothing of the dial listens any more.
    client.on('error', ignore);
    if (upstream !== undefined) this.drop(upstream);
    client.destroy();
  };

  /** Stops watching the client. */
  private release(): void {
    this.client.removeListener('error', this.onClientGone);
    this.client.removeListener('close', this.onClientGone);
  }

  private drop(upstream: Socket): void {
    this.detach(upstream);
    this.upstream = undefined;
    // Nothing reads a dropped socket's errors any more; they must not become uncaught.
    upstream.on('error', ignore);
    upstream.destroy();
  }

  private detach(upstream: Socket): void {
    upstream.removeListener('connect', this.onConnect);
    upstream.removeListener('timeout', this.onTimeout);
    upstream.removeListener('error', this.onError);
  }
}
