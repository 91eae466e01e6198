/**
 * A strict parser for the one kind of HTTP/1.1 request head the fast path takes (fast-h1.ts): a
 * whole head in the bytes at hand, `GET`/`HEAD`/`DELETE`/`OPTIONS` with an origin-form target,
 * `HTTP/1.1`, one Host, and no body, upgrade or expectation. It never refuses a request: anything
 * else (another method, a body, obs-fold, a byte outside printable ASCII, a head cut in two) is
 * `null`, and the connection goes to node's HTTP server with nothing consumed, which then answers
 * or refuses it as it always did. Framing questions (Content-Length against Transfer-Encoding)
 * therefore never reach this parser.
 */

/** The parsed head: raw `[name, value, ...]` as sent, and where the next request begins. */
export interface FastHead {
  readonly method: string;
  readonly target: string;
  readonly rawHeaders: string[];
  /** The client asked to close the connection after this response (`Connection: close`). */
  readonly close: boolean;
  /** Offset just after the blank line. */
  readonly end: number;
}

/** Most headers a fast head may have; more goes to node (which keeps 2000). */
const MAX_HEADERS = 100;
const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;

/** RFC 9110 tchar. */
const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TOKEN[c.charCodeAt(0)] = 1;

const VERSION = Buffer.from(' HTTP/1.1\r\n', 'latin1');
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');

/** Lower-case ASCII name comparison of `buf[start, start + lower.length)` (token bytes only). */
function nameIs(buf: Buffer, start: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    if (((buf[start + i] as number) | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

function methodAt(buf: Buffer, start: number): string | null {
  // The methods without a request body that fast requests use; the rest go to node.
  if (buf[start] === 0x47 && buf[start + 1] === 0x45 && buf[start + 2] === 0x54 && buf[start + 3] === SP) return 'GET';
  if (buf.toString('latin1', start, start + 5) === 'HEAD ') return 'HEAD';
  if (buf.toString('latin1', start, start + 7) === 'DELETE ') return 'DELETE';
  if (buf.toString('latin1', start, start + 8) === 'OPTIONS ') return 'OPTIONS';
  return null;
}

/** What a header name means to the fast path. */
const PLAIN = 0;
const REFUSE = 1;
const HOST = 2;
const CONNECTION = 3;

function nameKind(buf: Buffer, start: number, length: number): number {
  switch (length) {
    case 4:
      return nameIs(buf, start, 'host') ? HOST : PLAIN;
    case 6:
      return nameIs(buf, start, 'expect') ? REFUSE : PLAIN;
    case 7:
      return nameIs(buf, start, 'upgrade') ? REFUSE : PLAIN;
    case 10:
      return nameIs(buf, start, 'connection') ? CONNECTION : PLAIN;
    case 14:
      return nameIs(buf, start, 'content-length') || nameIs(buf, start, 'http2-settings') ? REFUSE : PLAIN;
    case 17:
      return nameIs(buf, start, 'transfer-encoding') ? REFUSE : PLAIN;
    default:
      return PLAIN;
  }
}

/**
 * Parses the request head at `start` of `buf` when it is a fast one that ends within
 * `maxHeadSize` bytes; null otherwise (see the module comment).
 */
export function parseFastHead(buf: Buffer, start: number, maxHeadSize: number): FastHead | null {
  const limit = Math.min(buf.length, start + maxHeadSize);
  const blank = buf.indexOf(HEAD_END, start);
  if (blank === -1 || blank + 4 > limit) return null;
  const method = methodAt(buf, start);
  if (method === null) return null;
  let i = start + method.length + 1;
  const targetStart = i;
  if (buf[i] !== 0x2f) return null; // origin-form only
  while (i < blank) {
    const c = buf[i] as number;
    if (c === SP) break;
    if (c < 0x21 || c > 0x7e) return null;
    i++;
  }
  const target = buf.toString('latin1', targetStart, i);
  if (buf.compare(VERSION, 0, VERSION.length, i, i + VERSION.length) !== 0) return null;
  i += VERSION.length;
  const rawHeaders: string[] = [];
  let hosts = 0;
  let close = false;
  const end = blank + 4;
  while (i < end - 2) {
    // One header line: token ':' OWS value OWS CRLF; printable ASCII and HTAB in the value.
    const nameStart = i;
    while (TOKEN[buf[i] as number] === 1) i++;
    if (i === nameStart || buf[i] !== COLON) return null;
    const nameEnd = i;
    i++;
    while (buf[i] === SP || buf[i] === HT) i++;
    const valueStart = i;
    let valueEnd = i;
    for (;;) {
      const c = buf[i] as number;
      if (c === CR) break;
      if ((c < SP && c !== HT) || c > 0x7e) return null;
      i++;
      if (c !== SP && c !== HT) valueEnd = i;
    }
    if (buf[i + 1] !== LF) return null;
    i += 2;
    if (rawHeaders.length === MAX_HEADERS * 2) return null;
    const kind = nameKind(buf, nameStart, nameEnd - nameStart);
    if (kind === REFUSE) return null;
    const value = buf.toString('latin1', valueStart, valueEnd);
    if (kind === HOST) hosts++;
    else if (kind === CONNECTION) {
      const lower = value.toLowerCase();
      if (lower === 'close') close = true;
      else if (lower !== 'keep-alive') return null;
    }
    rawHeaders.push(buf.toString('latin1', nameStart, nameEnd), value);
  }
  // Requests without exactly one Host get node's answer (400).
  if (hosts !== 1) return null;
  return { method, target, rawHeaders, close, end };
}
