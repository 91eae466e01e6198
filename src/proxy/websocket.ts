import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { HttpRoute } from '../routing/types.js';
import { readStickyCookie } from '../upstream/sticky.js';
import { dial, type DialHooks } from './dial.js';
import { rawErrorResponse, type ProxyErrorCode } from './errors.js';
import { httpsLocation, normaliseAddress, rewriteRequestHeaders, type RequestHead } from './forwarded.js';
import { recordUnforwarded } from './observe.js';
import { tunnel } from './tunnel.js';
import type { ProxyContext } from './upstream-exchange.js';

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
 * Answers an upgrade request baton does not forward (`route`: the one it matched, if any) and
 * records it.
 */
function refuse(ctx: ProxyContext, socket: Socket, req: IncomingMessage, host: string, route: HttpRoute | undefined, code: ProxyErrorCode, message?: string): void {
  recordUnforwarded(ctx.observe, socket, { route, protocol: 'websocket', code, host, method: req.method, target: req.url });
  reject(ctx, socket, code, message);
}

/**
 * One upgrade being dialled: its route, the rewritten request head and the bytes that followed
 * it, and what it asked for (for the access log).
 */
interface Upgrade {
  readonly route: HttpRoute;
  readonly requestHead: string;
  readonly head: Buffer;
  readonly host: string;
  readonly method: string;
  readonly target: string;
}

function describeUpgrade(upgrade: Upgrade): Upgrade {
  return upgrade;
}

/**
 * Once a backend accepts, the rewritten request head and the bytes that followed it are written
 * to it and the two sockets are joined; the backend's 101 (or refusal) passes through raw. The
 * backend connection counts in flight until it closes, and is drained like TCP when the backend
 * leaves the table. When every backend fails, the client gets a raw 502 upstream-connect; when
 * every breaker is open, 503 all-backends-open.
 */
function upgradeDialHooks(ctx: ProxyContext): DialHooks<Upgrade> {
  const connected = ctx.metrics.connections.labels({ protocol: 'websocket' });
  return {
    upstreams: ctx.upstreams,
    connectTimeoutMs: ctx.upstreams.connectTimeoutMs,
    observe: ctx.observe,
    protocol: 'websocket',
    describe: describeUpgrade,
    connected(client, upstream, _backend, { route, requestHead, head }) {
      upstream.write(requestHead, 'latin1');
      if (head.length > 0) upstream.write(head);
      connected.inc();
      tunnel(client, upstream, route.policy.timeouts?.tunnelIdleMs ?? ctx.websocketIdleTimeoutMs);
    },
    failed(backend, err) {
      ctx.logger.debug(
        err === undefined
          ? { backend: backend.address, code: 'ETIMEDOUT', reason: 'connect timeout' }
          : { backend: backend.address, code: (err as NodeJS.ErrnoException).code, reason: err.message },
        'WebSocket backend connect failed',
      );
    },
    exhausted(client, _upgrade, tried) {
      reject(ctx, client, tried === 0 ? 'all-backends-open' : 'upstream-connect');
    },
  };
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
  const dialHooks = upgradeDialHooks(ctx);

  return (req, duplex, head) => {
    const socket = duplex as Socket;
    // node took its own listeners off the socket when it handed it over.
    socket.on('error', destroySocket);
    const upgrade = req.headers.upgrade ?? '';
    if (upgrade.toLowerCase() !== 'websocket') {
      refuse(ctx, socket, req, req.headers.host ?? '', undefined, 'upgrade-not-supported', `upgrade to "${upgrade}" is not supported`);
      return;
    }
    const encrypted = (socket as TLSSocket).encrypted === true;
    const client = normaliseAddress(socket.remoteAddress);
    const request: RequestHead = { host: '', duplicateHost: false, hasBody: false };
    const headers = rewriteRequestHeaders(req.rawHeaders, client, trusted.has(client), request, encrypted ? 'https' : 'http');
    const { host } = request;
    if (request.duplicateHost) {
      refuse(ctx, socket, req, host, undefined, 'bad-request', 'more than one Host header');
      return;
    }
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const route = tables.current.lookupHttp(host, path);
    if (route === undefined) {
      refuse(ctx, socket, req, host, undefined, 'no-route', `no route for host "${host}"`);
      return;
    }
    if (route.redirectToHttps && !encrypted) {
      recordUnforwarded(ctx.observe, socket, { route, protocol: 'websocket', code: undefined, status: 301, host, method, target: path });
      socket.end(`HTTP/1.1 301 Moved Permanently\r\nlocation: ${httpsLocation(host, path)}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
      return;
    }
    if (route.backendProtocol === 'h2c') {
      // An h2c backend speaks HTTP/2 only: it cannot take an HTTP/1.1 upgrade.
      refuse(ctx, socket, req, host, route, 'upgrade-not-supported', 'this route has h2c backends, which take no WebSocket');
      return;
    }
    if (route.backends.length === 0) {
      refuse(ctx, socket, req, host, route, 'no-healthy-backend');
      return;
    }
    headers.push('connection', 'upgrade', 'upgrade', upgrade);
    let requestHead = `${method} ${path} HTTP/1.1\r\n`;
    for (let i = 0; i < headers.length; i += 2) requestHead += `${headers[i]}: ${headers[i + 1]}\r\n`;
    // A sticky route's cookie picks the backend here too; the backend's own 101 cannot carry a new one.
    const stickyId = route.policy.sticky ? readStickyCookie(req.headers.cookie) : undefined;
    dial(dialHooks, socket, route, client, { route, requestHead: `${requestHead}\r\n`, head, host, method, target: path }, stickyId);
  };
}
