import type { ServerHttp2Stream } from 'node:http2';
import { sendStreamError, type ProxyErrorCode } from './errors.js';
import { headerObject } from './h2-headers.js';
import { UpstreamExchange } from './upstream-exchange.js';

const EXCHANGE = Symbol('baton.h2Exchange');

/** A client stream that carries its exchange, so its listeners are shared functions. */
interface ExchangeStream extends ServerHttp2Stream {
  [EXCHANGE]?: H2Exchange;
}

function onStreamClose(this: ExchangeStream): void {
  this[EXCHANGE]?.streamClosed();
}

function onStreamDrain(this: ExchangeStream): void {
  this[EXCHANGE]?.resumeUpstream();
}

/**
 * One request of an HTTP/2 client (to an HTTP/1.1 backend, or answered by baton itself), answered
 * on the client's stream; made as the stream arrives, so that every request is recorded when its
 * stream closes.
 * Response headers lose everything connection-specific before `respond` (node throws on them); a
 * response node still refuses (a repeated single-value header, say) becomes 502
 * upstream-protocol and the upstream request is aborted, so nothing of it reaches the client.
 */
export class H2Exchange extends UpstreamExchange {
  private drainListening = false;

  constructor(
    private readonly stream: ExchangeStream,
    ctx: ConstructorParameters<typeof UpstreamExchange>[0],
  ) {
    super(ctx);
    stream[EXCHANGE] = this;
    stream.on('close', onStreamClose);
  }

  /** The stream is closed (response complete, or reset): a client that left aborts the upstream request. */
  streamClosed(): void {
    const stream = this.stream;
    const status = stream.headersSent ? Number(stream.sentHeaders[':status']) : 499;
    this.closed(status, this.encrypted ? 'h2' : 'h2c');
  }

  protected respond(statusCode: number, _statusText: string, flat: string[]): boolean {
    if (this.stream.destroyed || this.stream.closed) return false;
    const headers = headerObject(flat);
    headers[':status'] = statusCode;
    try {
      this.stream.respond(headers);
    } catch (err) {
      this.ctx.logger.debug({ backend: this.address, reason: (err as Error).message }, 'backend response cannot be relayed over HTTP/2');
      this.ctx.upstreams.attemptFailed(this.address, 'upstream-protocol');
      this.reject('upstream-protocol');
      return false;
    }
    return true;
  }

  protected write(chunk: Buffer): boolean {
    if (this.stream.write(chunk)) return true;
    if (!this.drainListening) {
      this.drainListening = true;
      this.stream.on('drain', onStreamDrain);
    }
    return false;
  }

  protected end(): void {
    if (!this.stream.writableEnded) this.stream.end();
  }

  protected sendError(code: ProxyErrorCode, message?: string): number {
    return sendStreamError(this.stream, code, this.ctx.metrics, message);
  }

  protected get clientGone(): boolean {
    return this.stream.destroyed || this.stream.closed;
  }
}
