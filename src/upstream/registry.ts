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
}

/**
 * The backend registry: one undici Pool per backend address, created on first use. It lives
 * outside the routing table, so connections survive table swaps; `retain` closes the pools of
 * backends no longer in any table.
 */
export class UpstreamRegistry {
  private readonly pools = new Map<string, Pool>();
  private readonly poolOptions: Pool.Options;

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
   * Closes the pools of every address not in `addresses`. A closed pool finishes the requests it
   * has in flight; a later `get` for that address builds a new pool.
   */
  retain(addresses: ReadonlySet<string>): void {
    for (const [address, pool] of this.pools) {
      if (!addresses.has(address)) {
        this.pools.delete(address);
        // close() only rejects for a destroyed pool, which the registry never does; the catch
        // keeps an unexpected rejection from becoming an unhandled one.
        pool.close().catch(() => undefined);
      }
    }
  }

  /** Closes every pool, waiting for the requests in flight to finish. */
  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.close()));
  }
}
