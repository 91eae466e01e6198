import type { IncomingMessage } from 'node:http';
import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { performance } from 'node:perf_hooks';
import type { Readable, Writable } from 'node:stream';
import type { Backend, HttpRoute } from '../routing/types.js';
import type { BackendState } from '../upstream/backend-state.js';
import { stickySetCookie } from '../upstream/sticky.js';
import type { ProxyErrorCode } from './errors.js';
import type { ProxyResponse } from './exchange.js';
import { relayedResponseHeaders } from './h2-headers.js';
import type { RequestRecord } from './observe.js';
import { backendFault, type ProxyContext } from './upstream-exchange.js';
import { classifyUpstreamError } from './upstream-errors.js';

const CALL = Symbol('baton.h2cCall');

/** The upstream stream, the client response or the client stream, each carrying its call. */
interface Tagged {
  [CALL]?: H2cCall;
}

function onUpstreamResponse(this: Tagged, headers: IncomingHttpHeaders): void {
  this[CALL]?.response(headers);
}
function onUpstreamTrailers(this: Tagged, trailers: IncomingHttpHeaders): void {
  this[CALL]?.upstreamTrailers(trailers);
}
function onUpstreamEnd(this: Tagged): void {
  this[CALL]?.upstreamEnded();
}
function onUpstreamError(this: Tagged, err: Error): void {
  this[CALL]?.upstreamError(err);
}
function onUpstreamTimeout(this: Tagged): void {
  this[CALL]?.upstreamTimeout();
}
function onUpstreamClose(this: Tagged): void {
  this[CALL]?.upstreamClosed();
}
function onClientClose(this: Tagged): void {
  this[CALL]?.clientClosed();
}
function onWantTrailers(this: Tagged): void {
  (this[CALL] as H2ClientCall | undefined)?.sendTrailers();
}
/** Request body bytes on their way to the backend (the body is piped). */
function onBodyData(this: Tagged, chunk: Buffer): void {
  const call = this[CALL];
  if (call !== undefined) call.exchange.bytesIn += chunk.length;
}
/** Response body bytes on their way to the client (piped). */
function onUpstreamData(this: Tagged, chunk: Buffer): void {
  const call = this[CALL];
  if (call !== undefined) call.exchange.bytesOut += chunk.length;
}

/** The request's exchange: its record, and its way of answering the client with an error. */
export interface ExchangeOfCall extends RequestRecord {
  reject(code: ProxyErrorCode): void;
}

/**
 * One request to an h2c backend over its shared session (src/upstream/h2c-sessions.ts): the
 * backend from the route's picker, headers with a timeout, request body piped in, response piped
 * back (pipe keeps backpressure both ways), trailers relayed. A client that leaves cancels the
 * upstream stream; a backend that resets or stalls gets the client an error response, or a broken
 * one once the response began. A request without a body whose backend cannot be reached goes to
 * another (a body is piped into the first stream at once, so it cannot be sent again). The
 * registry hears of each attempt as for HTTP/1.1 backends (upstream-exchange.ts). The request's
 * exchange answers errors and is told the backend, the bytes each way and the error, for its
 * record. The two subclasses are the two kinds of client.
 */
abstract class H2cCall {
  private upstream: (ClientHttp2Stream & Tagged) | null = null;
  /**
   * Cancels the upstream stream: node resets it with CANCEL and without ending the request body
   * (`close(code)` would send END_STREAM first, so the backend could take a cut-off request for a
   * whole one).
   */
  private readonly cancel = new AbortController();
  protected trailers: IncomingHttpHeaders | null = null;
  private responded = false;
  private ended = false;
  /** The client is answered or gone: nothing more to relay. */
  private settled = false;
  private failure: Error | null = null;
  private timedOut = false;
  private headers: OutgoingHttpHeaders = {};
  private body: Readable | null = null;
  private backend: Backend | null = null;
  private state: BackendState | null = null;
  private probe = false;
  private judged = false;
  private startedAt = 0;
  private attempts = 0;
  private tried: Set<string> | undefined = undefined;

  constructor(
    protected readonly ctx: ProxyContext,
    readonly exchange: ExchangeOfCall,
    private readonly route: HttpRoute,
    private readonly client: string,
    private readonly stickyId: string | undefined,
    private readonly encrypted: boolean,
    protected readonly hsts: boolean,
  ) {}

  /** The backend of the current attempt, for logs. */
  protected get address(): string {
    return this.backend?.address ?? '';
  }

  /** Relays the response head to the client; may throw for headers the client side refuses. */
  protected abstract respond(status: number, headers: OutgoingHttpHeaders): void;
  protected abstract get destination(): Writable;

  protected send(headers: OutgoingHttpHeaders, body: Readable | null): void {
    this.headers = headers;
    this.body = body;
    this.attempt(null);
  }

  /** Sends the request to the next backend the picker gives; with none, the last error or all-backends-open. */
  private attempt(lastCode: ProxyErrorCode | null): void {
    const { upstreams, h2cSessions } = this.ctx;
    const backend = upstreams.pick(this.route, this.client, this.stickyId, this.tried);
    if (backend === undefined) {
      this.settle(lastCode ?? 'all-backends-open');
      return;
    }
    const address = backend.address;
    let session: ClientHttp2Session;
    try {
      session = h2cSessions.get(address, upstreams.connectTimeoutFor(address));
    } catch (err) {
      // Only an address that is none gets here: a table bug, not the client's fault.
      this.ctx.logger.error({ err, backend: address }, 'cannot open an h2c session to backend');
      this.exchange.backend = backend;
      this.settle('upstream-connect');
      return;
    }
    let upstream: ClientHttp2Stream & Tagged;
    try {
      upstream = session.request(this.headers, { endStream: this.body === null, signal: this.cancel.signal });
    } catch (err) {
      // The session is going away, or (anything else) a header of the client's that HTTP/2 refuses.
      const code = (err as NodeJS.ErrnoException).code;
      this.exchange.backend = backend;
      if (code === 'ERR_HTTP2_INVALID_SESSION' || code === 'ERR_HTTP2_GOAWAY_SESSION') {
        upstreams.attemptFailed(address, 'upstream-connect');
        this.settle('upstream-connect');
      } else {
        this.settle('bad-request');
      }
      return;
    }
    this.backend = backend;
    this.exchange.backend = backend;
    const state = upstreams.backend(address);
    this.state = state;
    this.judged = false;
    this.failure = null;
    this.timedOut = false;
    this.attempts += 1;
    this.probe = state.begin();
    this.startedAt = performance.now();
    this.upstream = upstream;
    upstream[CALL] = this;
    upstream.on('response', onUpstreamResponse);
    upstream.on('trailers', onUpstreamTrailers);
    upstream.on('end', onUpstreamEnd);
    upstream.on('error', onUpstreamError);
    upstream.on('timeout', onUpstreamTimeout);
    upstream.on('close', onUpstreamClose);
    upstream.setTimeout(this.route.policy.timeouts?.headersMs ?? this.ctx.headersTimeoutMs);
    const body = this.body as (Readable & Tagged) | null;
    if (body !== null) {
      body[CALL] = this;
      body.on('data', onBodyData);
      body.pipe(upstream);
    }
  }

  response(headers: IncomingHttpHeaders): void {
    const upstream = this.upstream as ClientHttp2Stream;
    if (this.settled) return;
    const status = Number(headers[':status']);
    this.judged = true;
    this.state?.breaker.answered(status, this.probe);
    upstream.setTimeout(this.route.policy.timeouts?.bodyMs ?? this.ctx.bodyTimeoutMs);
    const relayed = relayedResponseHeaders(headers, this.hsts);
    const backend = this.backend as Backend;
    if (this.route.policy.sticky && backend.id !== this.stickyId) addSetCookie(relayed, stickySetCookie(backend.id, this.encrypted, this.route.path));
    try {
      this.respond(status, relayed);
    } catch (err) {
      this.ctx.logger.debug({ backend: this.address, reason: (err as Error).message }, 'h2c backend response cannot be relayed');
      this.ctx.upstreams.attemptFailed(this.address, 'upstream-protocol');
      this.settle('upstream-protocol');
      this.cancel.abort();
      return;
    }
    this.responded = true;
    upstream.on('data', onUpstreamData);
    upstream.pipe(this.destination);
  }

  upstreamTrailers(trailers: IncomingHttpHeaders): void {
    this.trailers = trailers;
  }

  upstreamEnded(): void {
    this.ended = true;
  }

  upstreamError(err: Error): void {
    this.failure = err;
  }

  upstreamTimeout(): void {
    this.timedOut = true;
    this.cancel.abort();
  }

  /** The upstream stream is closed: fine after a complete response, a failure otherwise. */
  upstreamClosed(): void {
    if (this.responded && this.ended) {
      this.finish(true);
      return;
    }
    if (this.settled) {
      this.finish(false);
      return;
    }
    let code: ProxyErrorCode = this.timedOut ? 'upstream-timeout' : 'upstream-reset';
    let expected = true;
    if (!this.timedOut && this.failure !== null) ({ code, expected } = classifyUpstreamError(this.failure));
    const reason = this.timedOut ? 'timeout' : (this.failure?.message ?? 'stream closed early');
    if (backendFault(code)) this.ctx.upstreams.attemptFailed(this.address, code);
    if (!this.judged && code === 'upstream-connect' && this.body === null && this.attempts <= this.ctx.upstreams.retries) {
      this.state?.breaker.failed(this.probe);
      this.finish(false);
      this.ctx.logger.debug({ backend: this.address, code, reason }, 'h2c request failed; trying another backend');
      this.ctx.upstreams.retried('connect');
      (this.tried ??= new Set()).add(this.address);
      (this.upstream as Tagged)[CALL] = undefined;
      this.attempt(code);
      return;
    }
    if (!this.judged) {
      if (backendFault(code)) this.state?.breaker.failed(this.probe);
      else this.state?.breaker.abandoned(this.probe);
    }
    this.finish(false);
    if (expected) this.ctx.logger.debug({ backend: this.address, code, reason }, 'h2c request failed');
    else this.ctx.logger.error({ backend: this.address, code, err: this.failure }, 'h2c request failed unexpectedly');
    this.settle(code);
  }

  clientClosed(): void {
    if (this.settled) return;
    this.settled = true;
    if (!this.judged) this.state?.breaker.abandoned(this.probe);
    this.finish(false);
    if (this.upstream !== null && !this.upstream.closed) this.cancel.abort();
  }

  private settle(code: ProxyErrorCode): void {
    this.settled = true;
    this.exchange.reject(code);
  }

  /** Tells the registry the current attempt ended (`completed`: with a whole response, so its duration counts). */
  private finish(completed: boolean): void {
    const state = this.state;
    if (state === null) return;
    this.state = null;
    if (completed) state.sample(performance.now() - this.startedAt);
    state.end();
  }
}

/** Adds a Set-Cookie field to a response header object, after any the backend sent. */
function addSetCookie(headers: OutgoingHttpHeaders, cookie: string): void {
  const seen = headers['set-cookie'];
  if (seen === undefined) headers['set-cookie'] = cookie;
  else if (Array.isArray(seen)) headers['set-cookie'] = [...seen, cookie];
  else headers['set-cookie'] = [String(seen), cookie];
}

/** An HTTP/1.1 client of an h2c backend. Trailers go out when node sends the body chunked. */
class H1ClientCall extends H2cCall {
  constructor(
    ctx: ProxyContext,
    exchange: ExchangeOfCall,
    route: HttpRoute,
    client: string,
    stickyId: string | undefined,
    encrypted: boolean,
    hsts: boolean,
    private readonly res: ProxyResponse & Tagged,
  ) {
    super(ctx, exchange, route, client, stickyId, encrypted, hsts);
  }

  start(req: IncomingMessage, headers: OutgoingHttpHeaders, hasBody: boolean): void {
    this.res[CALL] = this;
    this.res.on('close', onClientClose);
    this.send(headers, hasBody ? req : null);
  }

  protected respond(status: number, headers: OutgoingHttpHeaders): void {
    this.res.writeHead(status, headers);
  }

  protected get destination(): Writable {
    return this.res;
  }

  override upstreamTrailers(trailers: IncomingHttpHeaders): void {
    try {
      this.res.addTrailers(trailers as Record<string, string>);
    } catch (err) {
      this.ctx.logger.debug({ backend: this.address, reason: (err as Error).message }, 'h2c backend trailers cannot be relayed');
    }
  }
}

/** An HTTP/2 client of an h2c backend: trailers (gRPC status) follow the body. */
class H2ClientCall extends H2cCall {
  constructor(
    ctx: ProxyContext,
    exchange: ExchangeOfCall,
    route: HttpRoute,
    client: string,
    stickyId: string | undefined,
    encrypted: boolean,
    hsts: boolean,
    private readonly stream: ServerHttp2Stream & Tagged,
  ) {
    super(ctx, exchange, route, client, stickyId, encrypted, hsts);
  }

  start(headers: OutgoingHttpHeaders): void {
    this.stream[CALL] = this;
    this.stream.on('close', onClientClose);
    this.stream.on('wantTrailers', onWantTrailers);
    this.send(headers, this.stream.endAfterHeaders ? null : this.stream);
  }

  protected respond(status: number, headers: OutgoingHttpHeaders): void {
    headers[':status'] = status;
    this.stream.respond(headers, { waitForTrailers: true });
  }

  protected get destination(): Writable {
    return this.stream;
  }

  sendTrailers(): void {
    try {
      // With none, node ends the stream with an empty DATA frame.
      this.stream.sendTrailers(this.trailers ?? {});
    } catch (err) {
      this.ctx.logger.debug({ backend: this.address, reason: (err as Error).message }, 'h2c backend trailers cannot be relayed');
      this.stream.destroy(err as Error);
    }
  }
}

/**
 * Forwards an HTTP/1.1 request to an h2c backend of `route`; `headers` are the HTTP/2 request
 * headers, `stickyId` the backend its sticky cookie names. `exchange` (made for `res`) answers
 * errors and records the request.
 */
export function forwardH1ToH2c(
  ctx: ProxyContext,
  exchange: ExchangeOfCall,
  req: IncomingMessage,
  res: ProxyResponse,
  route: HttpRoute,
  client: string,
  stickyId: string | undefined,
  encrypted: boolean,
  hsts: boolean,
  headers: OutgoingHttpHeaders,
  hasBody: boolean,
): void {
  new H1ClientCall(ctx, exchange, route, client, stickyId, encrypted, hsts, res).start(req, headers, hasBody);
}

/**
 * Forwards an HTTP/2 stream to an h2c backend of `route`; its body follows unless END_STREAM came
 * with the headers. `exchange` (made for `stream`) answers errors and records the request.
 */
export function forwardH2ToH2c(
  ctx: ProxyContext,
  exchange: ExchangeOfCall,
  stream: ServerHttp2Stream,
  route: HttpRoute,
  client: string,
  stickyId: string | undefined,
  encrypted: boolean,
  hsts: boolean,
  headers: OutgoingHttpHeaders,
): void {
  new H2ClientCall(ctx, exchange, route, client, stickyId, encrypted, hsts, stream).start(headers);
}
