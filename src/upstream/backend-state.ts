import type { Socket } from 'node:net';
import type { BackendBreaker } from './breaker.js';
import type { H1Pool } from './h1-pool.js';

/** Weight of the newest sample in the latency average: roughly the last ten samples count. */
const EWMA_ALPHA = 0.2;

/**
 * What baton knows about one backend address, kept across table swaps: the requests and
 * connections in flight to it, its latency average, its circuit breaker, its HTTP/1.1 pool and the
 * long-lived connections (TCP, TLS passthrough, WebSocket) open to it. Requests hold this object
 * from their start to their end, so their counts land here even when a swap removed the backend
 * meanwhile. Implements the picker's `BackendLoad`.
 */
export class BackendState {
  /** Requests in flight, plus connections being dialled or open. */
  inFlight = 0;
  /** Moving average of request durations (HTTP: start to response end; connections: time to connect), ms; 0 before any. */
  latencyMs = 0;
  /** The keep-alive HTTP/1.1 pool (h1-pool.ts). */
  pool: H1Pool | undefined;
  /** The connect timeout `pool` was built with. */
  poolConnectTimeoutMs = 0;
  /** Open long-lived connections, destroyed when the backend has left for `drainMs`. */
  readonly sockets = new Set<Socket>();
  drainTimer: NodeJS.Timeout | undefined;
  /** Not in the current table: released once nothing is in flight and no connection is open. */
  leaving = false;

  constructor(
    readonly address: string,
    readonly breaker: BackendBreaker,
    /** Called when a leaving backend has nothing in flight any more. */
    private readonly onIdle: (state: BackendState) => void,
  ) {}

  /** Closed breaker, or half-open with its probe still to take. */
  get available(): boolean {
    return this.breaker.available;
  }

  /**
   * A request or a connection attempt starts. Returns true when it is the breaker's half-open
   * probe: its outcome must then be reported with `probe` true.
   */
  begin(): boolean {
    this.inFlight += 1;
    return this.breaker.takeProbe();
  }

  /** Records how long a request (or a connect) took. */
  sample(ms: number): void {
    this.latencyMs = this.latencyMs === 0 ? ms : this.latencyMs + EWMA_ALPHA * (ms - this.latencyMs);
  }

  /** A request, connection attempt or connection ended. */
  end(): void {
    this.inFlight -= 1;
    if (this.leaving && this.inFlight === 0) this.onIdle(this);
  }
}
