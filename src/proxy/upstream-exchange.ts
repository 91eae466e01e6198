import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import { statusClass, type RouteStats } from '../observability/route-stats.js';
import type { Backend, HttpRoute, TableSource } from '../routing/types.js';
import type { BackendState } from '../upstream/backend-state.js';
import type { H1Handler, H1Pool, H1RequestOptions } from '../upstream/h1-pool.js';
import type { H2cSessions } from '../upstream/h2c-sessions.js';
import { stickySetCookie } from '../upstream/sticky.js';
import type { UpstreamRegistry } from '../upstream/registry.js';
import type { ProxyErrorCode } from './errors.js';
import { rewriteResponseHeaders, type RequestHead } from './forwarded.js';
import { pathOnly, roundMs, type Observe, type RequestRecord } from './observe.js';
import { classifyUpstreamError } from './upstream-errors.js';

/** What the HTTP/1.1, HTTP/2 and WebSocket paths share: `createHttpHandlers` builds it once. */
export interface ProxyContext {
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly tables: TableSource;
  /** Backend state, pools, breakers, and the picker over them. */
  readonly upstreams: UpstreamRegistry;
  readonly h2cSessions: H2cSessions;
  /** Client IPs whose X-Forwarded-Proto / X-Forwarded-Host are kept. */
  readonly trusted: ReadonlySet<string>;
  /** Time a backend has for the response headers, then the longest pause in its body (a route's timeouts override them). */
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  /** Whole request, first byte to last; 0 = no limit. */
  readonly totalTimeoutMs: number;
  readonly websocketIdleTimeoutMs: number;
  /** Where each request, tunnel and flow is recorded when it ends. */
  readonly observe: Observe;
}

/** Methods a request may be replayed with after a reset (RFC 9110 9.2.2; the list). */
function idempotent(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS' || method === 'PUT' || method === 'DELETE';
}

/** Errors that say something about the backend (the others are the client's: a bad request). */
export function backendFault(code: ProxyErrorCode): boolean {
  return code === 'upstream-connect' || code === 'upstream-reset' || code === 'upstream-timeout' || code === 'upstream-protocol';
}

function onTotalTimeout(exchange: UpstreamExchange): void {
  exchange.totalTimeout();
}

/**
 * One proxied request to an HTTP/1.1 backend through its pool (upstream/h1-pool.ts): the backend choice (the
 * route's picker over the registry, sticky cookie included), retries on other backends, the
 * total timeout, and what the request tells the registry (in flight, latency, breaker verdict).
 * Subclasses write the response to their kind of client (HTTP/1.1 response, HTTP/2 stream).
 *
 * The pool drives it through the handler methods undici's dispatch used (onConnect, onHeaders,
 * onData, onComplete, onError).
 *
 * The breaker judges a request once: by its response status when the headers arrive, or as a
 * failure when it fails before them (connect error, reset, timeout). A failure after the headers
 * (a reset or stall mid-body) ends that response but is not counted again.
 *
 * onError must never throw: it runs inside the pool's socket events.
 *
 * The exchange is made for every request, routed or not, and is also its record: when the
 * client's side closes, the request counts for its route (or `unmatched`) and gets its access log
 * line (see `closed`). Routes with h2c backends fill the record from their call (h2-backend.ts).
 */
export abstract class UpstreamExchange implements H1Handler, RequestHead, RequestRecord {
  host = '';
  duplicateHost = false;
  hasBody = false;
  /** The backend's `host:port`, for logs. */
  address = '';
  /** Add Strict-Transport-Security to the response (an HSTS route, over TLS). */
  hsts = false;
  /** The client came over TLS (a sticky cookie is then `Secure`). */
  encrypted = false;
  /** The request as the client sent it, for the access log. */
  method = 'GET';
  target = '/';
  /** The client's address. */
  client = '';
  backend: Backend | null = null;
  bytesIn = 0;
  bytesOut = 0;
  error: ProxyErrorCode | undefined = undefined;
  /** `performance.now()` when the request's head had arrived. */
  private readonly arrivedAt = performance.now();
  /** The route's metrics, counted active from `routed` to `closed`; null when not routed or not recorded. */
  private stats: RouteStats | null = null;
  /** The upstream request completed, failed for good or was abandoned: later events are ignored. */
  protected done = false;
  private abort: ((err?: Error) => void) | null = null;
  private resume: (() => void) | null = null;
  private route: HttpRoute | null = null;
  private stickyId: string | undefined = undefined;
  private request: H1RequestOptions | null = null;
  private body: Readable | null = null;
  /** The backend of the attempt in flight; null once its outcome is told. */
  private state: BackendState | null = null;
  private probe = false;
  private attemptStartedAt = 0;
  /** The breaker has had its verdict on the current attempt. */
  private judged = false;
  private attempts = 0;
  /** Addresses tried already (only after a retry). */
  private tried: Set<string> | undefined = undefined;
  private timer: NodeJS.Timeout | null = null;

  constructor(protected readonly ctx: ProxyContext) {}

  /** Writes the response head; false when the client side refused it (the subclass answered). */
  protected abstract respond(statusCode: number, statusText: string, headers: string[]): boolean;
  /** Writes a body chunk; false to pause the backend until `resumeUpstream`. */
  protected abstract write(chunk: Buffer): boolean;
  protected abstract end(): void;
  /**
   * Answers with an error, or breaks the client's response when it has started; returns the
   * body bytes written.
   */
  protected abstract sendError(code: ProxyErrorCode, message?: string): number;
  /** The client is gone (an aborted upload, a reset stream): nothing to answer. */
  protected abstract get clientGone(): boolean;

  /** Answers the client with error `code` (or breaks a response that has started), and records it. */
  reject(code: ProxyErrorCode, message?: string): void {
    this.error = code;
    this.bytesOut += this.sendError(code, message);
  }

  /** The request matched `route`: it counts as active there until it is closed. */
  routed(route: HttpRoute): void {
    this.route = route;
    const routes = this.ctx.observe.routes;
    if (routes === null) return;
    const stats = routes.of(route.id);
    stats.active += 1;
    this.stats = stats;
  }

  /**
   * The client's side is over (response complete, or the client gone): an upstream request
   * still running is aborted, and the request is recorded with `status` (499 when no response
   * began) under `protocol`.
   */
  protected closed(status: number, protocol: string): void {
    this.clientClosed();
    const ms = performance.now() - this.arrivedAt;
    const { routes, accessLog } = this.ctx.observe;
    if (routes !== null) {
      let stats = this.stats;
      if (stats === null) stats = routes.unmatched;
      else stats.active -= 1;
      stats.done(statusClass(status), ms / 1000, this.bytesIn, this.bytesOut);
    }
    if (accessLog === null || !accessLog.wants(status >= 500 || this.error !== undefined)) return;
    const { route, backend } = this;
    accessLog.write({
      route: route?.id,
      app: backend?.appId ?? route?.appIds[0],
      backend: backend?.address,
      method: this.method,
      host: this.host,
      path: pathOnly(this.target),
      protocol,
      status,
      durationMs: roundMs(ms),
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      error: this.error,
      client: this.client,
    });
  }

  /**
   * Sends the request to a backend of the route it was `routed` to (`stickyId`: the backend its
   * cookie names). When none can take it, the client gets 503 all-backends-open.
   */
  forward(stickyId: string | undefined, headers: string[], body: Readable | null): void {
    const route = this.route as HttpRoute;
    this.stickyId = stickyId;
    this.body = body;
    const { ctx } = this;
    const timeouts = route.policy.timeouts;
    this.request = {
      method: this.method,
      path: this.target,
      headers,
      body,
      headersTimeout: timeouts?.headersMs ?? ctx.headersTimeoutMs,
      bodyTimeout: timeouts?.bodyMs ?? ctx.bodyTimeoutMs,
    };
    const totalMs = timeouts?.totalMs ?? ctx.totalTimeoutMs;
    if (totalMs > 0) this.timer = setTimeout(onTotalTimeout, totalMs, this);
    this.attempt(null);
  }

  /** Aborts the upstream request if it is still running (the client went away). */
  clientClosed(): void {
    if (this.done) return;
    this.done = true;
    this.stopTimer();
    if (!this.judged) this.state?.breaker.abandoned(this.probe);
    this.finish(false);
    this.abort?.(new Error('client closed the connection'));
  }

  resumeUpstream(): void {
    this.resume?.();
  }

  /** The route's total timeout expired: 504, or a broken response once it has started. */
  totalTimeout(): void {
    this.timer = null;
    if (this.done) return;
    this.done = true;
    if (!this.judged) this.state?.breaker.failed(this.probe);
    if (this.state !== null) this.ctx.upstreams.attemptFailed(this.address, 'upstream-timeout');
    this.finish(false);
    this.ctx.logger.debug({ backend: this.address, code: 'upstream-timeout', reason: 'total timeout' }, 'upstream request failed');
    this.reject('upstream-timeout');
    // A request still waiting for a connection has no abort yet: onConnect aborts it.
    this.abort?.(new Error('total timeout'));
  }

  onConnect(abort: (err?: Error) => void): void {
    // The client left (or the total timeout passed) while the request waited in the pool's queue.
    if (this.done) abort(new Error('request abandoned'));
    else this.abort = abort;
  }

  onHeaders(statusCode: number, rawHeaders: string[], resume: () => void, statusText: string): boolean {
    // Interim 1xx responses (102, 103) are not relayed; node answers `Expect: 100-continue` itself.
    if (statusCode < 200) return true;
    if (this.done) return false;
    this.resume = resume;
    this.judged = true;
    this.state?.breaker.answered(statusCode, this.probe);
    const headers = rewriteResponseHeaders(rawHeaders, this.hsts);
    const backend = this.backend as Backend;
    const route = this.route as HttpRoute;
    if (route.policy.sticky && backend.id !== this.stickyId) headers.push('set-cookie', stickySetCookie(backend.id, this.encrypted, route.path));
    if (this.respond(statusCode, statusText, headers)) return true;
    this.done = true;
    this.stopTimer();
    this.finish(false);
    this.abort?.(new Error('response cannot be relayed'));
    return false;
  }

  onData(chunk: Buffer): boolean {
    if (this.done) return false;
    this.bytesOut += chunk.length;
    return this.write(chunk);
  }

  /** The pool wrote a chunk of the request body. */
  onBodySent(chunk: Buffer): void {
    this.bytesIn += chunk.length;
  }

  onComplete(): void {
    if (this.done) return;
    this.done = true;
    this.stopTimer();
    this.finish(true);
    this.end();
  }

  onError(err: Error): void {
    if (this.done) return;
    const { code, expected } = classifyUpstreamError(err);
    if (this.state !== null && backendFault(code)) this.ctx.upstreams.attemptFailed(this.address, code);
    if (!this.judged && this.retryable(code)) {
      this.state?.breaker.failed(this.probe);
      this.finish(false);
      this.ctx.logger.debug({ backend: this.address, code, reason: err.message }, 'upstream request failed; trying another backend');
      this.ctx.upstreams.retried(code === 'upstream-connect' ? 'connect' : 'reset');
      (this.tried ??= new Set()).add(this.address);
      this.abort = null;
      this.attempt(code);
      return;
    }
    this.done = true;
    this.stopTimer();
    if (!this.judged) {
      if (backendFault(code)) this.state?.breaker.failed(this.probe);
      else this.state?.breaker.abandoned(this.probe);
    }
    this.finish(false);
    // The request body stream failed: the client aborted its upload and is gone.
    if (this.clientGone) return;
    if (expected) this.ctx.logger.debug({ backend: this.address, code, reason: err.message }, 'upstream request failed');
    else this.ctx.logger.error({ backend: this.address, code, err }, 'upstream request failed unexpectedly');
    this.reject(code);
  }

  /**
   * Dispatches to the next backend the picker gives (none tried yet). With none: the error of the
   * last attempt, or all-backends-open when there was none.
   */
  private attempt(lastCode: ProxyErrorCode | null): void {
    const upstreams = this.ctx.upstreams;
    const backend = upstreams.pick(this.route as HttpRoute, this.client, this.stickyId, this.tried);
    if (backend === undefined) {
      this.done = true;
      this.stopTimer();
      this.reject(lastCode ?? 'all-backends-open');
      return;
    }
    const state = upstreams.backend(backend.address);
    let pool: H1Pool;
    try {
      pool = upstreams.pool(state);
    } catch (err) {
      // Only an address that is not host:port gets here: a table bug, not the client's fault.
      this.ctx.logger.error({ err, backend: backend.address }, 'cannot create a pool for backend');
      this.done = true;
      this.stopTimer();
      this.reject('upstream-connect');
      return;
    }
    this.backend = backend;
    this.address = backend.address;
    this.state = state;
    this.judged = false;
    this.attempts += 1;
    this.probe = state.begin();
    this.attemptStartedAt = performance.now();
    // dispatch() reports every failure, synchronous ones included, to onError.
    pool.dispatch(this.request as H1RequestOptions, this);
  }

  /**
   * Whether a failed attempt may go to another backend: retries left, the client still there, and
   * nothing of the request body read (a stream cannot be replayed). A failed connect is always
   * safe to retry; a reset before the response only for an idempotent method, since the backend
   * may have acted on the request.
   */
  private retryable(code: ProxyErrorCode): boolean {
    if (this.attempts > this.ctx.upstreams.retries || this.clientGone) return false;
    const body = this.body;
    if (body !== null && (body.readableDidRead || body.destroyed)) return false;
    if (code === 'upstream-connect') return true;
    return code === 'upstream-reset' && idempotent((this.request as H1RequestOptions).method);
  }

  /** Tells the registry the current attempt ended (`completed`: with a whole response, so its duration counts). */
  private finish(completed: boolean): void {
    const state = this.state;
    if (state === null) return;
    this.state = null;
    if (completed) state.sample(performance.now() - this.attemptStartedAt);
    state.end();
  }

  private stopTimer(): void {
    if (this.timer === null) return;
    clearTimeout(this.timer);
    this.timer = null;
  }
}
