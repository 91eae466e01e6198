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
function onResponseClose(this: ProxyResponse): void {
  this.exchange?.responseClosed();
}

function onResponseDrain(this: ProxyResponse): void {
  this.exchange?.resumeUpstream();
}

/**
 * One request of an HTTP/1.1 client (to an HTTP/1.1 backend, or answered by baton itself): the
 * upstream response is written straight into the client response, with backpressure. Made as
 * the request arrives, so that every request is recorded when its response closes.
 */
export class Exchange extends UpstreamExchange {
  private drainListening = false;

  constructor(
    private readonly res: ProxyResponse,
    ctx: ConstructorParameters<typeof UpstreamExchange>[0],
  ) {
    super(ctx);
    res.exchange = this;
    res.on('close', onResponseClose);
  }

  /** The response is complete or the client gone: a client that left aborts the upstream request. */
  responseClosed(): void {
    const res = this.res;
    this.closed(res.headersSent ? res.statusCode : 499, 'http/1.1');
  }

  protected respond(statusCode: number, statusText: string, headers: string[]): boolean {
    this.res.writeHead(statusCode, statusText, headers);
    return true;
  }

  protected write(chunk: Buffer): boolean {
    if (this.res.write(chunk)) return true;
    // The client is slower than the backend: the pool stops reading until the response drains.
    if (!this.drainListening) {
      this.drainListening = true;
      this.res.on('drain', onResponseDrain);
    }
    return false;
  }

  protected end(): void {
    this.res.end();
  }

  protected sendError(code: ProxyErrorCode, message?: string): number {
    return sendProxyError(this.res, code, this.ctx.metrics, message);
  }

  protected get clientGone(): boolean {
    const req = this.res.req;
    return req.destroyed && !req.complete;
  }
}
