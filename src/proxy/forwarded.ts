/**
 * Header rewriting for forwarded requests and relayed responses: one pass over the raw
 * `[name, value, name, value, ...]` list, producing the flat string array undici and
 * `ServerResponse.writeHead` accept. Hot path: no per-header allocation beyond the output.
 */
import { HSTS_VALUE } from './errors.js';

const OTHER = 0;
const HOP_BY_HOP = 1;
const CONNECTION = 2;
const TRANSFER_ENCODING = 3;
const HOST = 4;
const CONTENT_LENGTH = 5;
const EXPECT = 6;
const X_FORWARDED_FOR = 7;
const X_FORWARDED_PROTO = 8;
const X_FORWARDED_HOST = 9;
const STRICT_TRANSPORT_SECURITY = 10;

/** ASCII case-insensitive equality with a lower-case token name, without allocating. */
function sameName(name: string, lower: string): boolean {
  if (name.length !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    // Token characters: `| 0x20` lower-cases letters and leaves `-` and digits as they are.
    if ((name.charCodeAt(i) | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

function headerKind(name: string): number {
  switch (name.length) {
    case 2:
      return sameName(name, 'te') ? HOP_BY_HOP : OTHER;
    case 4:
      return sameName(name, 'host') ? HOST : OTHER;
    case 6:
      return sameName(name, 'expect') ? EXPECT : OTHER;
    case 7:
      return sameName(name, 'trailer') || sameName(name, 'upgrade') ? HOP_BY_HOP : OTHER;
    case 10:
      if (sameName(name, 'connection')) return CONNECTION;
      return sameName(name, 'keep-alive') ? HOP_BY_HOP : OTHER;
    case 14:
      if (sameName(name, 'content-length')) return CONTENT_LENGTH;
      // Hop-by-hop in the HTTP/1.1 upgrade to h2c; HTTP/2 refuses it as connection-specific.
      return sameName(name, 'http2-settings') ? HOP_BY_HOP : OTHER;
    case 15:
      return sameName(name, 'x-forwarded-for') ? X_FORWARDED_FOR : OTHER;
    case 16:
      if (sameName(name, 'proxy-connection')) return HOP_BY_HOP;
      return sameName(name, 'x-forwarded-host') ? X_FORWARDED_HOST : OTHER;
    case 17:
      if (sameName(name, 'transfer-encoding')) return TRANSFER_ENCODING;
      return sameName(name, 'x-forwarded-proto') ? X_FORWARDED_PROTO : OTHER;
    case 18:
      return sameName(name, 'proxy-authenticate') ? HOP_BY_HOP : OTHER;
    case 19:
      return sameName(name, 'proxy-authorization') ? HOP_BY_HOP : OTHER;
    case 25:
      return sameName(name, 'strict-transport-security') ? STRICT_TRANSPORT_SECURITY : OTHER;
    default:
      return OTHER;
  }
}

/** Headers a `Connection` token may never remove: they frame or route the message. */
const PROTECTED = new Set(['host', 'content-length']);

/**
 * Removes the headers named in a `Connection` value (RFC 9110 7.6.1). Naming headers is rare, so
 * that path may allocate.
 */
function dropConnectionNamed(headers: string[], connection: string): string[] {
  // The usual values name no header: skip the parse.
  if (sameName(connection, 'keep-alive') || sameName(connection, 'close')) return headers;
  const named = new Set<string>();
  for (const token of connection.split(',')) {
    const name = token.trim().toLowerCase();
    if (name !== '' && name !== 'close' && name !== 'keep-alive' && !PROTECTED.has(name)) named.add(name);
  }
  if (named.size === 0) return headers;
  const kept: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    if (!named.has(name.toLowerCase())) kept.push(name, headers[i + 1] as string);
  }
  return kept;
}

/** What the request pass found besides the headers; the proxy's per-request object carries it. */
export interface RequestHead {
  /** The first Host header, as sent; '' when none. */
  host: string;
  /** More than one Host header: the request must be refused (RFC 9112 3.2). */
  duplicateHost: boolean;
  /** A body follows: a non-zero Content-Length or any Transfer-Encoding. */
  hasBody: boolean;
}

/**
 * Rewrites a request's headers for the upstream: hop-by-hop headers (and those `Connection`
 * names) and `Expect` (node already answered `100-continue`) are dropped, Host is kept as sent,
 * the client address is appended to X-Forwarded-For, and X-Forwarded-Proto / X-Forwarded-Host are
 * set to `proto` (`https` when the client came over TLS) and the Host, replacing the client's
 * values unless `trustClient` (the client is a trusted proxy), in which case its values are kept.
 * Fills `head` and returns the flat headers.
 */
export function rewriteRequestHeaders(
  raw: readonly string[],
  clientAddress: string,
  trustClient: boolean,
  head: RequestHead,
  proto: 'http' | 'https',
): string[] {
  let out: string[] = [];
  let connection = '';
  let forwardedFor: string | undefined;
  let forwardedProto: string | undefined;
  let forwardedHost: string | undefined;
  head.host = '';
  head.duplicateHost = false;
  head.hasBody = false;
  let sawHost = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    switch (headerKind(name)) {
      case OTHER:
      case STRICT_TRANSPORT_SECURITY:
        out.push(name, value);
        break;
      case HOST:
        if (sawHost) {
          head.duplicateHost = true;
        } else {
          sawHost = true;
          head.host = value;
          out.push(name, value);
        }
        break;
      case CONTENT_LENGTH:
        if (value !== '0') head.hasBody = true;
        out.push(name, value);
        break;
      case TRANSFER_ENCODING:
        head.hasBody = true;
        break;
      case CONNECTION:
        connection = connection === '' ? value : `${connection},${value}`;
        break;
      case X_FORWARDED_FOR:
        forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
        break;
      case X_FORWARDED_PROTO:
        if (trustClient && forwardedProto === undefined) forwardedProto = value;
        break;
      case X_FORWARDED_HOST:
        if (trustClient && forwardedHost === undefined) forwardedHost = value;
        break;
      default:
        // HOP_BY_HOP, EXPECT: not forwarded.
        break;
    }
  }
  if (connection !== '') out = dropConnectionNamed(out, connection);
  // Added after the Connection filter, so a client cannot strip the values baton sets.
  out.push('x-forwarded-for', forwardedFor === undefined ? clientAddress : `${forwardedFor}, ${clientAddress}`);
  out.push('x-forwarded-proto', forwardedProto ?? proto);
  const host = forwardedHost ?? head.host;
  if (host !== '') out.push('x-forwarded-host', host);
  return out;
}

/** A header from undici (Buffer) or baton's HTTP/1.1 client (string) as a string; latin1 keeps every byte as is, and node writes header strings back as latin1. */
function latin1(value: Buffer | string): string {
  return typeof value === 'string' ? value : value.toString('latin1');
}

/**
 * Rewrites an upstream response's raw headers (Buffers, as undici hands them) for the client:
 * hop-by-hop headers and those its `Connection` names are dropped; node's server adds its own
 * framing (`Transfer-Encoding: chunked` when there is no Content-Length) and connection headers.
 * With `hsts` (a route with HSTS, answered over TLS), baton's Strict-Transport-Security replaces
 * the backend's.
 */
export function rewriteResponseHeaders(raw: readonly (Buffer | string)[], hsts = false): string[] {
  let out: string[] = [];
  let connection = '';
  for (let i = 0; i < raw.length; i += 2) {
    const name = latin1(raw[i] as Buffer | string);
    const kind = headerKind(name);
    if (kind === CONNECTION) {
      const value = latin1(raw[i + 1] as Buffer | string);
      connection = connection === '' ? value : `${connection},${value}`;
    } else if (kind !== HOP_BY_HOP && kind !== TRANSFER_ENCODING && !(hsts && kind === STRICT_TRANSPORT_SECURITY)) {
      out.push(name, latin1(raw[i + 1] as Buffer | string));
    }
  }
  if (connection !== '') out = dropConnectionNamed(out, connection);
  if (hsts) out.push('strict-transport-security', HSTS_VALUE);
  return out;
}

/**
 * The target of a redirect to https: the Host without its port (`[v6]` kept whole), then the
 * request target as sent.
 */
export function httpsLocation(host: string, path: string): string {
  let end = host.length;
  const colon = host.lastIndexOf(':');
  if (colon !== -1 && colon > host.lastIndexOf(']')) end = colon;
  return `https://${host.slice(0, end)}${path}`;
}

/** `::ffff:1.2.3.4` (an IPv4 client on a dual-stack socket) -> `1.2.3.4`. */
export function normaliseAddress(address: string | undefined): string {
  if (address === undefined) return '';
  if (address.length > 7 && address.startsWith('::ffff:') && address.includes('.', 7)) return address.slice(7);
  return address;
}
