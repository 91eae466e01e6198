import type { ServerHttp2Stream } from 'node:http2';
import type { Dispatcher } from 'undici';
import { sendStreamError } from './errors.js';
import type { ExchangeContext } from './exchange.js';
import { rewriteResponseHeaders, type RequestHead } from './forwarded.js';
import { headerObject } from './h2-headers.js';
import { classifyUpstreamError } from './upstream-errors.js';

const EXCHANGE = Symbol('baton.h2Exchange');

/** A client stream that carries its exchange, so its listeners are shared functions. */
interface ExchangeStream extends ServerHttp2Stream {
  [EXCHANGE]?: H2Exchange;
}

function onStreamClose(this: ExchangeStream): void {
  this[EXCHANGE]?.clientClosed();
}

function onStreamDrain(this: ExchangeStream): void {
  this[EXCHANGE]?.resumeUpstream();
}

/**
 * One request of an HTTP/2 client to an HTTP/1.1 backend: the undici dispatch handler (original
 * API, as `Exchange`) that answers on the client's stream. Response headers lose everything
 * connection-specific before `respond` (node throws on them); a response node still refuses
 * (a repeated single-value header, say) becomes 502 upstream-protocol and the upstream request is
 * aborted, so nothing of it reaches the client.
 */
export class H2Exchange implements Dispatcher.DispatchHandler, RequestHead {
  host = '';
  duplicateHost = false;
  hasBody = false;
  /** The backend's `host:port`, for logs. */
  address = '';
  hsts = false;
  private abort: ((err?: Error) => void) | null = null;
  private resume: (() => void) | null = null;
  private done = false;
  private drainListening = false;

  constructor(
    private readonly stream: ExchangeStream,
    private readonly ctx: ExchangeContext,
  ) {}

  /** Ties the exchange to its stream: a client reset or close aborts the upstream request. */
  attach(): void {
    this.stream[EXCHANGE] = this;
    this.stream.on('close', onStreamClose);
  }

  clientClosed(): void {
    if (this.done) return;
    this.done = true;
    this.abort?.(new Error('client closed the stream'));
  }

  resumeUpstream(): void {
    this.resume?.();
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.done) abort(new Error('client closed the stream'));
    else this.abort = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true;
    this.resume = resume;
    if (this.stream.destroyed || this.stream.closed) return false;
    const headers = headerObject(rewriteResponseHeaders(rawHeaders, this.hsts));
    headers[':status'] = statusCode;
    try {
      this.stream.respond(headers);
    } catch (err) {
      this.done = true;
      this.ctx.logger.debug({ backend: this.address, reason: (err as Error).message }, 'backend response cannot be relayed over HTTP/2');
      sendStreamError(this.stream, 'upstream-protocol', this.ctx.metrics);
      this.abort?.(err as Error);
      return false;
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.done) return false;
    if (this.stream.write(chunk)) return true;
    if (!this.drainListening) {
      this.drainListening = true;
      this.stream.on('drain', onStreamDrain);
    }
    return false;
  }

  onComplete(): void {
    if (this.done) return;
    this.done = true;
    if (!this.stream.writableEnded) this.stream.end();
  }

  onError(err: Error): void {
    if (this.done) return;
    this.done = true;
    if (this.stream.destroyed || this.stream.closed) return;
    const { code, expected } = classifyUpstreamError(err);
    if (expected) this.ctx.logger.debug({ backend: this.address, code, reason: err.message }, 'upstream request failed');
    else this.ctx.logger.error({ backend: this.address, code, err }, 'upstream request failed unexpectedly');
    sendStreamError(this.stream, code, this.ctx.metrics);
  }
}
