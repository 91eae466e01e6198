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
  this[EXCHANGE]?.clientClosed();
}

function onStreamDrain(this: ExchangeStream): void {
  this[EXCHANGE]?.resumeUpstream();
}

/**
 * One request of an HTTP/2 client to an HTTP/1.1 backend, answered on the client's stream.
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
  }

  /** Ties the exchange to its stream: a client reset or close aborts the upstream request. */
  attach(): void {
    this.stream[EXCHANGE] = this;
    this.stream.on('close', onStreamClose);
  }

  protected respond(statusCode: number, _statusText: string, flat: string[]): boolean {
    if (this.stream.destroyed || this.stream.closed) return false;
    const headers = headerObject(flat);
    headers[':status'] = statusCode;
    try {
      this.stream.respond(headers);
    } catch (err) {
      this.ctx.logger.debug({ backend: this.address, reason: (err as Error).message }, 'backend response cannot be relayed over HTTP/2');
      sendStreamError(this.stream, 'upstream-protocol', this.ctx.metrics);
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

  protected fail(code: ProxyErrorCode): void {
    sendStreamError(this.stream, code, this.ctx.metrics);
  }

  protected get clientGone(): boolean {
    return this.stream.destroyed || this.stream.closed;
  }
}
