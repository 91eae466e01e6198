import type { IncomingMessage } from 'node:http';
import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Readable, Writable } from 'node:stream';
import { sendProxyError, sendStreamError, type ProxyErrorCode } from './errors.js';
import type { ProxyContext, ProxyResponse } from './exchange.js';
import { relayedResponseHeaders } from './h2-headers.js';
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

/**
 * One request to an h2c backend over its shared session (src/upstream/h2c-sessions.ts): headers
 * with a timeout, request body piped in, response piped back (pipe keeps backpressure both
 * ways), trailers relayed. A client that leaves cancels the upstream stream; a backend that
 * resets or stalls gets the client an error response, or a broken one once the response began.
 * The two subclasses are the two kinds of client.
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

  constructor(
    protected readonly ctx: ProxyContext,
    protected readonly address: string,
    protected readonly hsts: boolean,
  ) {}

  /** Relays the response head to the client; may throw for headers the client side refuses. */
  protected abstract respond(status: number, headers: OutgoingHttpHeaders): void;
  protected abstract get destination(): Writable;
  /** Answers with an error, or breaks the client's response when it has started. */
  protected abstract fail(code: ProxyErrorCode): void;

  protected send(headers: OutgoingHttpHeaders, body: Readable | null): void {
    let session: ClientHttp2Session;
    try {
      session = this.ctx.h2cSessions.get(this.address);
    } catch (err) {
      // Only an address that is none gets here: a table bug, not the client's fault.
      this.ctx.logger.error({ err, backend: this.address }, 'cannot open an h2c session to backend');
      this.settle('upstream-connect');
      return;
    }
    let upstream: ClientHttp2Stream & Tagged;
    try {
      upstream = session.request(headers, { endStream: body === null, signal: this.cancel.signal });
    } catch (err) {
      // The session is going away, or (anything else) a header of the client's that HTTP/2 refuses.
      const code = (err as NodeJS.ErrnoException).code;
      this.settle(code === 'ERR_HTTP2_INVALID_SESSION' || code === 'ERR_HTTP2_GOAWAY_SESSION' ? 'upstream-connect' : 'bad-request');
      return;
    }
    this.upstream = upstream;
    upstream[CALL] = this;
    upstream.on('response', onUpstreamResponse);
    upstream.on('trailers', onUpstreamTrailers);
    upstream.on('end', onUpstreamEnd);
    upstream.on('error', onUpstreamError);
    upstream.on('timeout', onUpstreamTimeout);
    upstream.on('close', onUpstreamClose);
    upstream.setTimeout(this.ctx.headersTimeoutMs);
    if (body !== null) body.pipe(upstream);
  }

  response(headers: IncomingHttpHeaders): void {
    const upstream = this.upstream as ClientHttp2Stream;
    if (this.settled) return;
    upstream.setTimeout(this.ctx.bodyTimeoutMs);
    try {
      this.respond(Number(headers[':status']), relayedResponseHeaders(headers, this.hsts));
    } catch (err) {
      this.ctx.logger.debug({ backend: this.address, reason: (err as Error).message }, 'h2c backend response cannot be relayed');
      this.settle('upstream-protocol');
      this.cancel.abort();
      return;
    }
    this.responded = true;
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
    if (this.settled || (this.responded && this.ended)) return;
    let code: ProxyErrorCode = this.timedOut ? 'upstream-timeout' : 'upstream-reset';
    let expected = true;
    if (!this.timedOut && this.failure !== null) ({ code, expected } = classifyUpstreamError(this.failure));
    if (expected) {
      const reason = this.timedOut ? 'timeout' : (this.failure?.message ?? 'stream closed early');
      this.ctx.logger.debug({ backend: this.address, code, reason }, 'h2c request failed');
    } else {
      this.ctx.logger.error({ backend: this.address, code, err: this.failure }, 'h2c request failed unexpectedly');
    }
    this.settle(code);
  }

  clientClosed(): void {
    if (this.settled) return;
    this.settled = true;
    if (this.upstream !== null && !this.upstream.closed) this.cancel.abort();
  }

  private settle(code: ProxyErrorCode): void {
    this.settled = true;
    this.fail(code);
  }
}

/** An HTTP/1.1 client of an h2c backend. Trailers go out when node sends the body chunked. */
class H1ClientCall extends H2cCall {
  constructor(
    ctx: ProxyContext,
    address: string,
    hsts: boolean,
    private readonly res: ProxyResponse & Tagged,
  ) {
    super(ctx, address, hsts);
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

  protected fail(code: ProxyErrorCode): void {
    sendProxyError(this.res, code, this.ctx.metrics);
  }
}

/** An HTTP/2 client of an h2c backend: trailers (gRPC status) follow the body. */
class H2ClientCall extends H2cCall {
  constructor(
    ctx: ProxyContext,
    address: string,
    hsts: boolean,
    private readonly stream: ServerHttp2Stream & Tagged,
  ) {
    super(ctx, address, hsts);
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

  protected fail(code: ProxyErrorCode): void {
    sendStreamError(this.stream, code, this.ctx.metrics);
  }
}

/** Forwards an HTTP/1.1 request to the h2c backend `address`; `headers` are the HTTP/2 request headers. */
export function forwardH1ToH2c(
  ctx: ProxyContext,
  req: IncomingMessage,
  res: ProxyResponse,
  address: string,
  hsts: boolean,
  headers: OutgoingHttpHeaders,
  hasBody: boolean,
): void {
  new H1ClientCall(ctx, address, hsts, res).start(req, headers, hasBody);
}

/** Forwards an HTTP/2 stream to the h2c backend `address`; its body follows unless END_STREAM came with the headers. */
export function forwardH2ToH2c(ctx: ProxyContext, stream: ServerHttp2Stream, address: string, hsts: boolean, headers: OutgoingHttpHeaders): void {
  new H2ClientCall(ctx, address, hsts, stream).start(headers);
}
