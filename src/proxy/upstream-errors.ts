import type { ProxyErrorCode } from './errors.js';

const CONNECT = { code: 'upstream-connect', expected: true } as const;
const TIMEOUT = { code: 'upstream-timeout', expected: true } as const;
const RESET = { code: 'upstream-reset', expected: true } as const;
const BAD_REQUEST = { code: 'bad-request', expected: true } as const;
const PROTOCOL = { code: 'upstream-protocol', expected: true } as const;
const UNEXPECTED = { code: 'upstream-reset', expected: false } as const;

/**
 * Maps an error baton's HTTP/1.1 client (upstream/h1-pool.ts) or node's http2 client (h2c backends) reports for a forwarded request
 * to the error code the client gets.
 * `expected` is false for errors baton has no reason to see (they are logged at error level).
 */
export function classifyUpstreamError(err: Error): { readonly code: ProxyErrorCode; readonly expected: boolean } {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  switch (code) {
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
    case 'ENETDOWN':
    case 'EADDRNOTAVAIL':
    case 'ETIMEDOUT':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'BATON_CONNECT_TIMEOUT':
      return CONNECT;
    // The pool was closed under the request (backend left, registry shut down): nothing could be reached.
    case 'BATON_POOL_CLOSED':
      return CONNECT;
    case 'BATON_HEADERS_TIMEOUT':
    case 'BATON_BODY_TIMEOUT':
      return TIMEOUT;
    case 'BATON_SOCKET_CLOSED':
    case 'ECONNRESET':
    case 'EPIPE':
      return RESET;
    // h2c backends (node's http2 client). A stream cancelled because its session failed carries
    // the session's error (a refused connection, say) as its cause.
    case 'ERR_HTTP2_STREAM_CANCEL': {
      const cause = (err as { cause?: unknown }).cause;
      return cause instanceof Error ? classifyUpstreamError(cause) : RESET;
    }
    case 'ERR_HTTP2_STREAM_ERROR':
    case 'ERR_HTTP2_SESSION_ERROR':
    case 'ERR_HTTP2_GOAWAY_SESSION':
      return RESET;
    case 'ERR_HTTP2_INVALID_SESSION':
      return CONNECT;
    case 'ERR_HTTP2_ERROR':
      return PROTOCOL;
    // A target the pool cannot forward (`OPTIONS *`).
    case 'BATON_INVALID_REQUEST':
    // The client's upload failed or stopped: its fault, not the backend's.
    case 'BATON_REQUEST_BODY':
      return BAD_REQUEST;
    // A header or status line node refuses to write back (set by writeHead).
    case 'ERR_INVALID_CHAR':
    case 'ERR_INVALID_HTTP_TOKEN':
    case 'ERR_HTTP_INVALID_STATUS_CODE':
    case 'BATON_HEADERS_OVERFLOW':
    case 'BATON_UPSTREAM_PROTOCOL':
      return PROTOCOL;
    default:
      return UNEXPECTED;
  }
}
