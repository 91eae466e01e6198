import { ServerResponse, type IncomingMessage } from 'node:http';
import { sendProxyError, type ProxyErrorCode } from './errors.js';
import { UpstreamExchange } from './upstream-exchange.js';

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
 * One request of an HTTP/1.1 client to an HTTP/1.1 backend: the upstream response is written
 * straight into the client response, with backpressure.
 */
export class Exchange extends UpstreamExchange {
  private drainListening = false;

  constructor(
    private readonly res: ProxyResponse,
    ctx: ConstructorParameters<typeof UpstreamExchange>[0],
  ) {
    super(ctx);
  }

  /** Ties the exchange to its response: a client that leaves aborts the upstream request. */
  attach(): void {
    this.res.exchange = this;
    this.res.on('close', onResponseClose);
  }

  protected respond(statusCode: number, statusText: string, headers: string[]): boolean {
    this.res.writeHead(statusCode, statusText, headers);
    return true;
  }

  protected write(chunk: Buffer): boolean {
    if (this.res.write(chunk)) return true;
    // The client is slower than the backend: undici pauses reading until the response drains.
    if (!this.drainListening) {
      this.drainListening = true;
      this.res.on('drain', onResponseDrain);
    }
    return false;
  }

  protected end(): void {
    this.res.end();
  }

  protected fail(code: ProxyErrorCode): void {
    sendProxyError(this.res, code, this.ctx.metrics);
  }

  protected get clientGone(): boolean {
    const req = this.res.req;
    return req.destroyed && !req.complete;
  }
}
