/**
 * Header shapes between HTTP/2 (node's header objects, pseudo-headers, lower-case names) and the
 * flat `[name, value, ...]` lists the HTTP/1.1 rewriting in forwarded.ts works on.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import { HSTS_VALUE } from './errors.js';

const COLON = 0x3a;

/**
 * An HTTP/2 request's headers as a raw list for `rewriteRequestHeaders`: pseudo-headers left out,
 * `:authority` first and as `host` (it stands for Host; a Host header counts only without one).
 */
export function rawRequestHeaders(headers: IncomingHttpHeaders): string[] {
  const raw: string[] = [];
  const authority = headers[':authority'];
  if (authority !== undefined) raw.push('host', authority);
  for (const name of Object.keys(headers)) {
    if (name.charCodeAt(0) === COLON || (authority !== undefined && name === 'host')) continue;
    const value = headers[name];
    if (Array.isArray(value)) for (const item of value) raw.push(name, item);
    else if (value !== undefined) raw.push(name, value);
  }
  return raw;
}

/**
 * A flat list as an HTTP/2 header object: names in lower case, a repeated name as an array (node
 * sends each value as a field of its own). Null prototype: names come from backends.
 */
export function headerObject(flat: readonly string[]): OutgoingHttpHeaders {
  const out = Object.create(null) as OutgoingHttpHeaders;
  for (let i = 0; i < flat.length; i += 2) {
    const name = (flat[i] as string).toLowerCase();
    const value = flat[i + 1] as string;
    const seen = out[name];
    if (seen === undefined) out[name] = value;
    else if (Array.isArray(seen)) seen.push(value);
    else out[name] = [String(seen), value];
  }
  return out;
}

/**
 * The headers of a request to an h2c backend, from the rewritten flat list: Host becomes
 * `:authority`, and `te: trailers` passes when the client sent it (gRPC servers require it; it is
 * the one `te` value HTTP/2 allows).
 */
export function h2cRequestHeaders(flat: readonly string[], method: string, path: string, teTrailers: boolean): OutgoingHttpHeaders {
  const headers = headerObject(flat);
  const host = headers.host;
  delete headers.host;
  headers[':method'] = method;
  headers[':path'] = path;
  headers[':scheme'] = 'http';
  if (typeof host === 'string' && host !== '') headers[':authority'] = host;
  if (teTrailers) headers.te = 'trailers';
  return headers;
}

/** Whether a `te` header value (HTTP/1.1 or HTTP/2) includes `trailers`. */
export function wantsTrailers(te: string | string[] | undefined): boolean {
  if (te === undefined) return false;
  return /(?:^|,)\s*trailers\s*(?:;|,|$)/i.test(Array.isArray(te) ? te.join(',') : te);
}

/**
 * An h2c backend's response headers for the client: pseudo-headers dropped (the status travels
 * apart), and with `hsts` baton's Strict-Transport-Security in place of the backend's.
 */
export function relayedResponseHeaders(incoming: IncomingHttpHeaders, hsts: boolean): OutgoingHttpHeaders {
  const out = Object.create(null) as OutgoingHttpHeaders;
  for (const name of Object.keys(incoming)) {
    if (name.charCodeAt(0) !== COLON) out[name] = incoming[name];
  }
  if (hsts) out['strict-transport-security'] = HSTS_VALUE;
  return out;
}
