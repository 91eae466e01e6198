import type { IncomingMessage } from 'node:http';
import net, { type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Backend } from '../routing/types.js';
import { rawErrorResponse, type ProxyErrorCode } from './errors.js';
import type { ProxyContext } from './exchange.js';
import { httpsLocation, normaliseAddress, rewriteRequestHeaders, type RequestHead } from './forwarded.js';
import { tunnel } from './tunnel.js';

function destroySocket(this: Socket): void {
  this.destroy();
}

/** Answers an upgrade request on its raw socket (there is no ServerResponse) and closes it. */
function reject(ctx: ProxyContext, socket: Socket, code: ProxyErrorCode, message?: string): void {
  ctx.metrics.proxyErrors.inc({ code });
  if (socket.writable) socket.end(rawErrorResponse(code, message));
  else socket.destroy();
}

/**
 * Connects to the route's backends in round-robin order, each at most once, until one accepts
 * (a refused, unreachable or silent backend is skipped), then writes the rewritten request head
 * and the bytes that followed it, and joins the two sockets. The backend's 101 (or refusal)
 * passes through raw.
 */
class WebSocketDial {
  private attempt = 0;
  private upstream: Socket | null = null;
  private readonly start: number;

  constructor(
    private readonly ctx: ProxyContext,
    private readonly client: Socket,
    private readonly backends: readonly Backend[],
    cursor: number,
    private readonly requestHead: string,
    private readonly head: Buffer,
  ) {
    this.start = cursor;
    client.once('close', () => this.upstream?.destroy());
  }

  next(): void {
    if (this.client.destroyed) return;
    if (this.attempt === this.backends.length) {
      reject(this.ctx, this.client, 'upstream-connect');
      return;
    }
    const backend = this.backends[(this.start + this.attempt) % this.backends.length] as Backend;
    this.attempt += 1;
    const upstream = net.connect({ host: backend.host, port: backend.port, allowHalfOpen: true, noDelay: true });
    this.upstream = upstream;
    const timeoutMs = this.ctx.connectTimeoutMs;
    upstream.setTimeout(timeoutMs, () => upstream.destroy(Object.assign(new Error(`connect timeout after ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    const failed = (err: NodeJS.ErrnoException) => {
      this.ctx.logger.debug({ backend: backend.address, code: err.code, reason: err.message }, 'WebSocket backend connect failed');
      upstream.destroy();
      this.next();
    };
    upstream.once('error', failed);
    upstream.once('connect', () => {
      upstream.setTimeout(0);
      upstream.removeAllListeners('timeout');
      upstream.off('error', failed);
      if (this.client.destroyed) {
        upstream.destroy();
        return;
      }
      upstream.write(this.requestHead, 'latin1');
      if (this.head.length > 0) upstream.write(this.head);
      this.ctx.metrics.connections.inc({ protocol: 'websocket' });
      tunnel(this.client, upstream, this.ctx.websocketIdleTimeoutMs);
    });
  }
}

/**
 * The HTTP/1.1 `upgrade` path: WebSocket upgrades (`Upgrade: websocket`, any case) are routed
 * like requests (redirects, no-route and no-backend answers written raw on the socket) and
 * tunnelled to a backend; any other upgrade gets 501 upgrade-not-supported. The request head is
 * rewritten as for HTTP/1.1 (forwarded headers added, hop-by-hop removed) with `Connection:
 * upgrade` and `Upgrade` put back. The tunnel holds no table: a table swap leaves it open.
 */
export function createUpgradeHandler(ctx: ProxyContext): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const { tables, trusted } = ctx;

  return (req, duplex, head) => {
    const socket = duplex as Socket;
    // node took its own listeners off the socket when it handed it over.
    socket.on('error', destroySocket);
    const upgrade = req.headers.upgrade ?? '';
    if (upgrade.toLowerCase() !== 'websocket') {
      reject(ctx, socket, 'upgrade-not-supported', `upgrade to "${upgrade}" is not supported`);
      return;
    }
    const encrypted = (socket as TLSSocket).encrypted === true;
    const client = normaliseAddress(socket.remoteAddress);
    const request: RequestHead = { host: '', duplicateHost: false, hasBody: false };
    const headers = rewriteRequestHeaders(req.rawHeaders, client, trusted.has(client), request, encrypted ? 'https' : 'http');
    if (request.duplicateHost) {
      reject(ctx, socket, 'bad-request', 'more than one Host header');
      return;
    }
    const path = req.url ?? '/';
    const route = tables.current.lookupHttp(request.host, path);
    if (route === undefined) {
      reject(ctx, socket, 'no-route', `no route for host "${request.host}"`);
      return;
    }
    if (route.redirectToHttps && !encrypted) {
      socket.end(`HTTP/1.1 301 Moved Permanently\r\nlocation: ${httpsLocation(request.host, path)}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
      return;
    }
    if (route.backendProtocol === 'h2c') {
      // An h2c backend speaks HTTP/2 only: it cannot take an HTTP/1.1 upgrade.
      reject(ctx, socket, 'upgrade-not-supported', 'this route has h2c backends, which take no WebSocket');
      return;
    }
    if (route.backends.length === 0) {
      reject(ctx, socket, 'no-healthy-backend');
      return;
    }
    const cursor = route.cursor % route.backends.length;
    route.cursor = cursor + 1;
    headers.push('connection', 'upgrade', 'upgrade', upgrade);
    let requestHead = `${req.method ?? 'GET'} ${path} HTTP/1.1\r\n`;
    for (let i = 0; i < headers.length; i += 2) requestHead += `${headers[i]}: ${headers[i + 1]}\r\n`;
    new WebSocketDial(ctx, socket, route.backends, cursor, `${requestHead}\r\n`, head).next();
  };
}
