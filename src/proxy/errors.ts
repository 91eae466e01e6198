import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { ServerHttp2Stream } from 'node:http2';
import type { Metrics } from '../observability/metrics.js';

/**
 * Every error baton answers a client with: the `x-baton-error` header value, the metrics label and
 * the README all use these codes.
 */
export const PROXY_ERRORS = {
  'no-route': { status: 404, explanation: 'No route matches the Host header and path of the request.' },
  'no-healthy-backend': { status: 503, explanation: 'The route exists but has no backend that may receive requests.' },
  'all-backends-open': {
    status: 503,
    explanation: 'Every backend of the route has its circuit breaker open after recent failures; baton answers at once until one recovers.',
  },
  'upstream-connect': { status: 502, explanation: 'The backend could not be reached: connection refused, unreachable or connect timeout.' },
  'upstream-reset': { status: 502, explanation: 'The backend closed or reset the connection before sending a full response.' },
  'upstream-timeout': { status: 504, explanation: 'The backend sent no response headers in time, its response body stalled, or the whole request took longer than the total timeout.' },
  'bad-request': { status: 400, explanation: 'The request was malformed, its headers too large, or it cannot be forwarded as sent.' },
  'upstream-protocol': { status: 502, explanation: 'The backend sent a response that is not valid HTTP or cannot be relayed.' },
  'request-timeout': { status: 408, explanation: 'The client did not send the complete request in time.' },
  'upgrade-not-supported': {
    status: 501,
    explanation: 'The request asks to upgrade to a protocol other than WebSocket (or to WebSocket on a route with h2c backends), or is a CONNECT request.',
  },
} as const satisfies Record<string, { readonly status: number; readonly explanation: string }>;

export type ProxyErrorCode = keyof typeof PROXY_ERRORS;

/** The `Strict-Transport-Security` value of routes with HSTS on. */
export const HSTS_VALUE = 'max-age=31536000';

/** The text body of an error answer. */
export function errorBody(code: ProxyErrorCode, message: string | undefined): string {
  return `${message ?? PROXY_ERRORS[code].explanation}\n`;
}

/**
 * Answers `res` with the error `code`. When the response has already started (headers sent), a
 * status can no longer be given, so the client connection is destroyed instead: the client sees a
 * broken response rather than a truncated body passed off as complete. Does nothing when the
 * client is gone already. Returns the body bytes written.
 */
export function sendProxyError(res: ServerResponse, code: ProxyErrorCode, metrics: Metrics, message?: string): number {
  if (res.destroyed || res.writableEnded) return 0;
  metrics.proxyErrors.inc({ code });
  if (res.headersSent) {
    res.destroy();
    return 0;
  }
  const body = errorBody(code, message);
  res.writeHead(PROXY_ERRORS[code].status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-content-type-options': 'nosniff',
    'x-baton-error': code,
  });
  res.end(body);
  // node sends no body for HEAD.
  return res.req.method === 'HEAD' ? 0 : Buffer.byteLength(body);
}

/**
 * `sendProxyError` for an HTTP/2 stream: once the response headers are out, the stream is reset
 * (RST_STREAM INTERNAL_ERROR). Not with `stream.close(code)`: node ends the writable side first,
 * so the client would see END_STREAM, a truncated body passed off as complete, before the reset.
 * Returns the body bytes written.
 */
export function sendStreamError(stream: ServerHttp2Stream, code: ProxyErrorCode, metrics: Metrics, message?: string): number {
  if (stream.destroyed || stream.closed) return 0;
  metrics.proxyErrors.inc({ code });
  if (stream.headersSent) {
    stream.destroy(new Error(`response failed: ${code}`));
    return 0;
  }
  const body = errorBody(code, message);
  stream.respond({
    ':status': PROXY_ERRORS[code].status,
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-content-type-options': 'nosniff',
    'x-baton-error': code,
  });
  // A HEAD stream's writable side is closed from the start: respond() sent the headers alone.
  if (stream.writableEnded) return 0;
  stream.end(body);
  return Buffer.byteLength(body);
}

/**
 * A complete HTTP/1.1 error response as raw text, for sockets that no longer have a
 * ServerResponse (parser errors, WebSocket upgrades). The connection is closed after it.
 */
export function rawErrorResponse(code: ProxyErrorCode, message?: string, status: number = PROXY_ERRORS[code].status): string {
  const body = errorBody(code, message);
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
    'content-type: text/plain; charset=utf-8\r\n' +
    `content-length: ${Buffer.byteLength(body)}\r\n` +
    'x-content-type-options: nosniff\r\n' +
    `x-baton-error: ${code}\r\n` +
    'connection: close\r\n\r\n' +
    body
  );
}
