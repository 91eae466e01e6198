import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { Metrics } from '../observability/metrics.js';
import type { Backend, HttpRoute, TableSource } from '../routing/types.js';
import type { H2cSessions } from '../upstream/h2c-sessions.js';
import type { UpstreamRegistry } from '../upstream/registry.js';
import { sendProxyError } from './errors.js';
import { rewriteResponseHeaders, type RequestHead } from './forwarded.js';
import { classifyUpstreamError } from './upstream-errors.js';

/** What every exchange of one proxy shares. */
export interface ExchangeContext {
  readonly metrics: Metrics;
  readonly logger: Logger;
}

/** What the HTTP/1.1, HTTP/2 and WebSocket paths share: `createHttpHandlers` builds it once. */
export interface ProxyContext extends ExchangeContext {
  readonly tables: TableSource;
  readonly upstreams: UpstreamRegistry;
  readonly h2cSessions: H2cSessions;
  /** Client IPs whose X-Forwarded-Proto / X-Forwarded-Host are kept. */
  readonly trusted: ReadonlySet<string>;
  /** Backend connect timeout for WebSocket tunnels (pools and h2c sessions have their own). */
  readonly connectTimeoutMs: number;
  /** Time an h2c backend has for the response headers, then the longest pause in its body. */
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  readonly websocketIdleTimeoutMs: number;
}

/** The route's next backend, round robin; undefined when it has none. */
export function nextBackend(route: HttpRoute): Backend | undefined {
  const backends = route.backends;
  if (backends.length === 0) return undefined;
  const index = route.cursor % backends.length;
  route.cursor = index + 1;
  return backends[index];
}

/**
 * The server's response class: it carries its exchange, so the listeners below can be shared
 * functions instead of one closure per request.
 */
export class ProxyResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {
  exchange: Exchange | null = null;
}

/** `close` on the client response: the client is gone or the response is complete. */
export function onResponseClose(this: ProxyResponse): void {
  this.exchange?.clientClosed();
}

function onResponseDrain(this: ProxyResponse): void {
  this.exchange?.resumeUpstream();
}

/**
 * One proxied request: the undici dispatch handler that writes the upstream response straight
 * into the client response, and the per-request state (`RequestHead`) the header pass fills.
 *
 * Uses undici's original handler API (onConnect/onHeaders/onData/onComplete/onError): undici 7's
 * core still speaks it, while a handler with the newer onRequestStart/onResponse* methods gets
 * wrapped per request in an adapter and controller that also parse the response headers into an
 * object (measured: a few % more proxy CPU per request). The old API is marked deprecated in the
 * types only; undici emits no runtime warning for it.
 *
 * onError must never throw: undici would re-emit the error as an 'error' event on its client.
 */
export class Exchange implements Dispatcher.DispatchHandler, RequestHead {
  host = '';
  duplicateHost = false;
  hasBody = false;
  /** The backend's `host:port`, for logs. */
  address = '';
  /** Add Strict-Transport-Security to the response (an HSTS route, over TLS). */
  hsts = false;
  private abort: ((err?: Error) => void) | null = null;
  private resume: (() => void) | null = null;
  /** The upstream request completed, failed or was aborted: later events are ignored. */
  private done = false;
  private drainListening = false;

  constructor(
    private readonly res: ProxyResponse,
    private readonly ctx: ExchangeContext,
  ) {}

  /** Aborts the upstream request if it is still running (the client went away). */
  clientClosed(): void {
    if (this.done) return;
    this.done = true;
    this.abort?.(new Error('client closed the connection'));
  }

  resumeUpstream(): void {
    this.resume?.();
  }

  onConnect(abort: (err?: Error) => void): void {
    // The client left while the request waited in the pool's queue.
    if (this.done) abort(new Error('client closed the connection'));
    else this.abort = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    // Interim 1xx responses (102, 103) are not relayed; node answers `Expect: 100-continue` itself.
    if (statusCode < 200) return true;
    this.resume = resume;
    this.res.writeHead(statusCode, statusText, rewriteResponseHeaders(rawHeaders, this.hsts));
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.res.write(chunk)) return true;
    // The client is slower than the backend: undici pauses reading until the response drains.
    if (!this.drainListening) {
      this.drainListening = true;
      this.res.on('drain', onResponseDrain);
    }
    return false;
  }

  onComplete(): void {
    this.done = true;
    this.res.end();
  }

  onError(err: Error): void {
    if (this.done) return;
    this.done = true;
    // The request body stream failed: the client aborted its upload and is gone.
    if (this.res.req.destroyed && !this.res.req.complete) return;
    const { code, expected } = classifyUpstreamError(err);
    if (expected) this.ctx.logger.debug({ backend: this.address, code, reason: err.message }, 'upstream request failed');
    else this.ctx.logger.error({ backend: this.address, code, err }, 'upstream request failed unexpectedly');
    sendProxyError(this.res, code, this.ctx.metrics);
  }
}
