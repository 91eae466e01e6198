import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { ServerHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';

/**
 * The HTTP data path as the entry points (plain HTTP with h2c sniffing, HTTPS with ALPN) call it.
 * Whether the client came over TLS is read from the socket (`encrypted`), which decides
 * `X-Forwarded-Proto`, HSTS and redirects to https.
 */
export interface HttpHandlers {
  /** An HTTP/1.1 request. The server must be built with `Response` as its ServerResponse class. */
  request(req: IncomingMessage, res: ServerResponse): void;
  /** An HTTP/2 stream (h2 over TLS, or h2c), core stream API. */
  stream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void;
  /** An HTTP/1.1 request with `Upgrade` (WebSocket). */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** The ServerResponse subclass `request` expects (pass as `ServerResponse` / `Http1ServerResponse`). */
  readonly Response: typeof ServerResponse;
}
