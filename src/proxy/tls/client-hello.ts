/**
 * Reads the server name (SNI) and the ALPN offer from the first bytes of a TLS connection,
 * without terminating TLS: enough to route a connection by name and pass it through untouched.
 */

/** The most bytes baton buffers while waiting for a whole ClientHello. */
export const MAX_CLIENT_HELLO_BYTES = 16_384;

export type ClientHelloResult =
  | { readonly state: 'need-more' }
  | { readonly state: 'ok'; readonly serverName?: string; readonly alpn?: string[] }
  | { readonly state: 'invalid'; readonly reason: string };

const NEED_MORE: ClientHelloResult = { state: 'need-more' };
const TOO_LARGE: ClientHelloResult = { state: 'invalid', reason: 'ClientHello too large' };
const RECORD_HEADER = 5;
const HANDSHAKE_HEADER = 4;
const CONTENT_HANDSHAKE = 22;
const CLIENT_HELLO = 1;
const MAX_RECORD = 16_384;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const NAME_TYPE_HOST = 0;

const invalid = (reason: string): ClientHelloResult => ({ state: 'invalid', reason });

/**
 * Parses the ClientHello at the start of `buf` (everything read from the connection so far).
 * `need-more` until the whole handshake message has arrived, across as many TLS records as the
 * client split it into; `invalid` as soon as the bytes cannot be a TLS ClientHello (plain HTTP,
 * SSLv2, garbage) or its records would take more than MAX_CLIENT_HELLO_BYTES.
 */
export function parseClientHello(buf: Buffer): ClientHelloResult {
  const needMore = buf.length >= MAX_CLIENT_HELLO_BYTES ? TOO_LARGE : NEED_MORE;
  // First pass: the record layer. The handshake message length is known from the first record.
  let offset = 0;
  let handshakeLength = -1;
  let gathered = 0;
  let records = 0;
  while (handshakeLength < 0 || gathered < handshakeLength) {
    if (buf.length - offset < 1) return needMore;
    if (buf[offset] !== CONTENT_HANDSHAKE) return invalid(records === 0 ? 'not a TLS handshake' : 'handshake interrupted by another record type');
    if (buf.length - offset < 2) return needMore;
    if (buf[offset + 1] !== 3) return invalid('unsupported record version');
    if (buf.length - offset < RECORD_HEADER) return needMore;
    const recordLength = buf.readUInt16BE(offset + 3);
    if (recordLength === 0 || recordLength > MAX_RECORD) return invalid('bad record length');
    records++;
    const fragmentStart = offset + RECORD_HEADER;
    const available = Math.min(recordLength, buf.length - fragmentStart);
    if (handshakeLength < 0 && gathered + available >= HANDSHAKE_HEADER) {
      // The 4-byte handshake header itself may straddle records (a hostile or odd client).
      const header = gathered === 0 ? buf.subarray(fragmentStart, fragmentStart + HANDSHAKE_HEADER) : handshakeBytes(buf, HANDSHAKE_HEADER);
      if (header[0] !== CLIENT_HELLO) return invalid('first handshake message is not a ClientHello');
      handshakeLength = HANDSHAKE_HEADER + header.readUIntBE(1, 3);
      if (handshakeLength > MAX_CLIENT_HELLO_BYTES - RECORD_HEADER) return TOO_LARGE;
    }
    gathered += available;
    if (available < recordLength) {
      if (handshakeLength >= 0 && gathered >= handshakeLength) break;
      return needMore;
    }
    offset = fragmentStart + recordLength;
  }
  // Usually the whole message sits in the first record and is parsed in place.
  const firstFragment = buf.subarray(RECORD_HEADER, RECORD_HEADER + buf.readUInt16BE(3));
  const message = firstFragment.length >= handshakeLength ? firstFragment.subarray(0, handshakeLength) : handshakeBytes(buf, handshakeLength);
  return parseHelloBody(message);
}

/** The first `length` handshake bytes, gathered from consecutive records (the rare split case). */
function handshakeBytes(buf: Buffer, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let written = 0;
  let offset = 0;
  while (written < length) {
    const recordLength = buf.readUInt16BE(offset + 3);
    const start = offset + RECORD_HEADER;
    const take = Math.min(recordLength, length - written, buf.length - start);
    buf.copy(out, written, start, start + take);
    written += take;
    offset = start + recordLength;
  }
  return out;
}

/** The ClientHello handshake message, header included: version, random, then the variable parts. */
function parseHelloBody(msg: Buffer): ClientHelloResult {
  let p = HANDSHAKE_HEADER + 2 + 32; // client_version, random
  if (p + 1 > msg.length) return invalid('truncated ClientHello');
  p += 1 + (msg[p] as number); // session_id
  if (p + 2 > msg.length) return invalid('truncated session id');
  const suites = msg.readUInt16BE(p);
  if (suites === 0 || suites % 2 !== 0) return invalid('bad cipher suites length');
  p += 2 + suites;
  if (p + 1 > msg.length) return invalid('truncated cipher suites');
  p += 1 + (msg[p] as number); // compression_methods
  if (p > msg.length) return invalid('truncated compression methods');
  if (p === msg.length) return { state: 'ok' }; // no extensions at all
  if (p + 2 > msg.length) return invalid('truncated extensions');
  const end = p + 2 + msg.readUInt16BE(p);
  if (end > msg.length) return invalid('extensions overrun the message');
  p += 2;
  let serverName: string | undefined;
  let alpn: string[] | undefined;
  while (p < end) {
    if (p + 4 > end) return invalid('truncated extension header');
    const type = msg.readUInt16BE(p);
    const length = msg.readUInt16BE(p + 2);
    const data = p + 4;
    p = data + length;
    if (p > end) return invalid('extension overruns the message');
    if (type === EXT_SERVER_NAME) {
      const name = readServerName(msg, data, p);
      if (name === null) return invalid('malformed server_name extension');
      serverName = name;
    } else if (type === EXT_ALPN) {
      const protocols = readAlpn(msg, data, p);
      if (protocols === null) return invalid('malformed ALPN extension');
      alpn = protocols;
    }
  }
  return { state: 'ok', ...(serverName !== undefined && { serverName }), ...(alpn !== undefined && { alpn }) };
}

/** The host_name entry of a server_name extension; undefined if it has none, null if malformed. */
function readServerName(msg: Buffer, start: number, end: number): string | undefined | null {
  if (end - start < 2 || start + 2 + msg.readUInt16BE(start) !== end) return null;
  let p = start + 2;
  let name: string | undefined;
  while (p < end) {
    if (p + 3 > end) return null;
    const type = msg[p] as number;
    const length = msg.readUInt16BE(p + 1);
    p += 3;
    if (p + length > end) return null;
    if (type === NAME_TYPE_HOST && name === undefined && length > 0) name = msg.toString('latin1', p, p + length);
    p += length;
  }
  return name;
}

function readAlpn(msg: Buffer, start: number, end: number): string[] | null {
  if (end - start < 2 || start + 2 + msg.readUInt16BE(start) !== end) return null;
  const protocols: string[] = [];
  let p = start + 2;
  while (p < end) {
    const length = msg[p] as number;
    p += 1;
    if (length === 0 || p + length > end) return null;
    protocols.push(msg.toString('latin1', p, p + length));
    p += length;
  }
  return protocols;
}
