import type { ServerResponse } from 'node:http';
import type { Metrics } from '../observability/metrics.js';

/**
 * Every error baton answers a client with: the `x-baton-error` header value, the metrics label and
 * the README all use these codes.
 */
export const PROXY_ERRORS = {
  'no-route': { status: 404, explanation: 'No route matches the Host header and path of the request.' },
  'no-healthy-backend': { status: 503, explanation: 'The route exists but has no backend that may receive requests.' },
  'upstream-connect': { status: 502, explanation: 'The backend could not be reached: connection refused, unreachable or connect timeout.' },
  'upstream-reset': { status: 502, explanation: 'The backend closed or reset the connection before sending a full response.' },
  'upstream-timeout': { status: 504, explanation: 'The backend sent no response headers in time, or its response body stalled.' },
  'bad-request': { status: 400, explanation: 'The request was malformed, its headers too large, or it cannot be forwarded as sent.' },
  'upstream-protocol': { status: 502, explanation: 'The backend sent a response that is not valid HTTP or cannot be relayed.' },
  'request-timeout': { status: 408, explanation: 'The client did not send the complete request in time.' },
} as const satisfies Record<string, { readonly status: number; readonly explanation: string }>;

export type ProxyErrorCode = keyof typeof PROXY_ERRORS;

/**
 * Answers `res` with the error `code`. When the response has already started (headers sent), a
 * status can no longer be given, so the client connection is destroyed instead: the client sees a
 * broken response rather than a truncated body passed off as complete. Does nothing when the
 * client is gone already.
 */
export function sendProxyError(res: ServerResponse, code: ProxyErrorCode, metrics: Metrics, message?: string): void {
  if (res.destroyed || res.writableEnded) return;
  metrics.proxyErrors.inc({ code });
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `${message ?? PROXY_ERRORS[code].explanation}\n`;
  res.writeHead(PROXY_ERRORS[code].status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-content-type-options': 'nosniff',
    'x-baton-error': code,
  });
  res.end(body);
}
