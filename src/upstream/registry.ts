import type { Socket } from 'node:net';
import { Pool, type Dispatcher } from 'undici';

export interface UpstreamRegistryOptions {
  /** Time to establish a TCP connection to a backend. Default 5000 ms. */
  readonly connectTimeoutMs?: number;
  /** Time from the request being sent to the response headers. Default 60000 ms. */
  readonly headersTimeoutMs?: number;
  /** Longest pause between two chunks of a response body. Default 60000 ms. */
  readonly bodyTimeoutMs?: number;
  /** Idle keep-alive connections to a backend are closed after this. Default 4000 ms. */
  readonly keepAliveTimeoutMs?: number;
  /** Maximum connections per backend. Default 128. */
  readonly connections?: number;
  /** Tracked connections to a backend that left the table are destroyed after this. Default 30000 ms. */
  readonly drainMs?: number;
}

/**
 * The backend registry: one undici Pool per backend address, created on first use, and the
 * long-lived connections (raw TCP, TLS passthrough, WebSocket) open to each address. It lives
 * outside the routing table, so connections survive table swaps; `retain` closes the pools of
 * backends no longer in any table and drains their tracked connections.
 */
export class UpstreamRegistry {
  private readonly pools = new Map<string, Pool>();
  private readonly poolOptions: Pool.Options;
  private readonly drainMs: number;
  private readonly tracked = new Map<string, Set<Socket>>();
  /** Drain timers of addresses that left the table, cancelled if they come back first. */
  private readonly draining = new Map<string, NodeJS.Timeout>();
  /** The addresses of the last `retain`; undefined until the first one. */
  private retained: ReadonlySet<string> | undefined;
  private closed = false;

  constructor(opts: UpstreamRegistryOptions = {}) {
    this.poolOptions = {
      connections: opts.connections ?? 128,
      connectTimeout: opts.connectTimeoutMs ?? 5000,
      headersTimeout: opts.headersTimeoutMs ?? 60_000,
      bodyTimeout: opts.bodyTimeoutMs ?? 60_000,
      keepAliveTimeout: opts.keepAliveTimeoutMs ?? 4000,
      // One request at a time per connection: a slow response must not hold up others behind it.
      pipelining: 1,
    };
    this.drainMs = opts.drainMs ?? 30_000;
  }

  /** Number of live pools. */
  get size(): number {
    return this.pools.size;
  }

  /** The pool for `host:port` (or `[v6]:port`), created when first asked for. */
  get(address: string): Dispatcher {
    let pool = this.pools.get(address);
    if (pool === undefined) {
      pool = new Pool(`http://${address}`, this.poolOptions);
      this.pools.set(address, pool);
    }
    return pool;
  }

  /**
   * Remembers an established connection to the backend at `address` until it closes, so that it
   * can be drained when the backend leaves. A connection to an address that is already gone (it
   * was dialled from an older table) gets `drainMs` like the others; after `close()` it is
   * destroyed at once.
   */
  track(address: string, socket: Socket): void {
    if (this.closed || socket.destroyed) {
      socket.destroy();
      return;
    }
    let sockets = this.tracked.get(address);
    if (sockets === undefined) {
      sockets = new Set();
      this.tracked.set(address, sockets);
    }
    sockets.add(socket);
    const set = sockets;
    socket.once('close', () => {
      set.delete(socket);
      if (set.size === 0 && this.tracked.get(address) === set) this.tracked.delete(address);
    });
    if (this.retained !== undefined && !this.retained.has(address)) this.scheduleDrain(address);
  }

  /**
   * Keeps the backends in `addresses`, the backends of every table route. For the others: closes
   * their pools (a closed pool finishes the requests it has in flight; a later `get` builds a new
   * one) and destroys their tracked connections after `drainMs`, unless they come back first.
   */
  retain(addresses: ReadonlySet<string>): void {
    this.retained = addresses;
    for (const [address, pool] of this.pools) {
      if (!addresses.has(address)) {
        this.pools.delete(address);
        // close() only rejects for a destroyed pool, which the registry never does; the catch
        // keeps an unexpected rejection from becoming an unhandled one.
        pool.close().catch(() => undefined);
      }
    }
    for (const address of this.tracked.keys()) {
      if (!addresses.has(address)) this.scheduleDrain(address);
    }
    for (const [address, timer] of this.draining) {
      if (addresses.has(address)) {
        clearTimeout(timer);
        this.draining.delete(address);
      }
    }
  }

  /** Closes every pool, waiting for the requests in flight to finish, and destroys every tracked connection. */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.draining.values()) clearTimeout(timer);
    this.draining.clear();
    for (const sockets of this.tracked.values()) for (const socket of sockets) socket.destroy();
    this.tracked.clear();
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.close()));
  }

  private scheduleDrain(address: string): void {
    if (this.draining.has(address)) return;
    const timer = setTimeout(() => {
      this.draining.delete(address);
      const sockets = this.tracked.get(address);
      if (sockets === undefined) return;
      for (const socket of sockets) socket.destroy();
    }, this.drainMs);
    // Open connections keep the process alive by themselves; the timer need not.
    timer.unref();
    this.draining.set(address, timer);
  }
}
