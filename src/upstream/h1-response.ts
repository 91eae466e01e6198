/**
 * Reads HTTP/1.1 responses from a backend connection (h1-pool.ts): the head, then the body framed
 * as RFC 9112 section 6.3 says (no body for HEAD, 1xx, 204 and 304; chunked; Content-Length; or
 * until the backend closes). Body bytes are handed on as slices of the chunks read, never copied;
 * a chunked body is handed on decoded, as undici did. Interim 1xx heads are skipped.
 *
 * Strict where a lenient reading could let a backend smuggle a second response into a reused
 * connection: an obs-fold, a byte outside a token in a name, a control character in a value, two
 * different Content-Lengths, a bad chunk size, or bytes after a complete response on a
 * connection kept alive are all protocol errors (the connection is then closed).
 */

/** What the reader tells its connection. */
export interface ResponseSink {
  /** A final response head; `rawHeaders` as `[name, value, ...]` strings, latin1 as sent. */
  head(status: number, statusText: string, rawHeaders: string[]): void;
  /** A slice of the body. */
  body(chunk: Buffer): void;
  /** The response ended; `reusable` when the connection may carry another request. */
  complete(reusable: boolean): void;
}

/** Error codes of the raw HTTP/1.1 client (mapped to the client's error in proxy/upstream-errors.ts). */
export type H1ErrorCode =
  | 'BATON_UPSTREAM_PROTOCOL'
  | 'BATON_HEADERS_OVERFLOW'
  | 'BATON_CONNECT_TIMEOUT'
  | 'BATON_HEADERS_TIMEOUT'
  | 'BATON_BODY_TIMEOUT'
  | 'BATON_SOCKET_CLOSED'
  | 'BATON_POOL_CLOSED'
  | 'BATON_INVALID_REQUEST'
  | 'BATON_REQUEST_BODY';

/** A failure of a request on a backend connection (refused response, timeout, closed socket, closed pool). */
export class H1Error extends Error {
  constructor(
    readonly code: H1ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'H1Error';
  }
}

const enum Body {
  /** Reading the head. */
  Head,
  None,
  Length,
  Chunked,
  UntilClose,
  Done,
}

const enum Chunk {
  Size,
  Extension,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart,
  TrailerLine,
  TrailerLf,
  EndLf,
}

const CR = 0x0d;
const LF = 0x0a;
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
const STATUS_PREFIX = Buffer.from('HTTP/1.', 'latin1');
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Control characters a field value may not hold (HTAB aside): what node refuses to write back, and CR/LF that would split a line. */
const CONTROL = /[\0-\x08\x0a-\x1f\x7f]/;
/** Chunk sizes of more hex digits than this are refused (2^48 bytes). */
const MAX_SIZE_DIGITS = 12;

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x57;
  return -1;
}

function protocolError(message: string): H1Error {
  return new H1Error('BATON_UPSTREAM_PROTOCOL', message);
}

export class ResponseReader {
  private mode = Body.Done;
  private headOnly = false;
  /** Bytes of a head cut between reads. */
  private partial: Buffer | null = null;
  private remaining = 0;
  private chunk = Chunk.Size;
  private sizeDigits = 0;
  private keepAlive = true;
  /** Seconds the backend said it keeps an idle connection (`Keep-Alive: timeout=N`); 0 when not said. */
  keepAliveHint = 0;
  /** Some byte of the current response has arrived. */
  started = false;

  constructor(private readonly maxHeaderSize: number) {}

  /** Expects the response to a new request (`method` decides whether it has a body). */
  expect(method: string): void {
    this.mode = Body.Head;
    this.headOnly = method === 'HEAD';
    this.partial = null;
    this.started = false;
    this.keepAlive = true;
  }

  /** Whether a response is being read. */
  get reading(): boolean {
    return this.mode !== Body.Done;
  }

  /** Bytes from the backend; throws an H1Error for a response it refuses. */
  feed(data: Buffer, sink: ResponseSink): void {
    if (this.mode === Body.Done) throw protocolError('data from the backend with no request outstanding');
    this.started = true;
    let buf = data;
    let at = 0;
    while (at < buf.length) {
      switch (this.mode) {
        case Body.Head: {
          if (this.partial !== null) {
            buf = Buffer.concat([this.partial, buf.subarray(at)]);
            at = 0;
            this.partial = null;
          }
          const end = buf.indexOf(HEAD_END, at);
          if (end === -1) {
            // Something that is not HTTP (an SSH banner, say) is refused at once, not at the close.
            const seen = Math.min(STATUS_PREFIX.length, buf.length - at);
            if (buf.compare(STATUS_PREFIX, 0, seen, at, at + seen) !== 0) throw protocolError('not an HTTP response');
            if (buf.length - at > this.maxHeaderSize) throw new H1Error('BATON_HEADERS_OVERFLOW', 'response head too large');
            this.partial = buf.subarray(at);
            return;
          }
          if (end - at > this.maxHeaderSize) throw new H1Error('BATON_HEADERS_OVERFLOW', 'response head too large');
          this.parseHead(buf.toString('latin1', at, end), sink);
          at = end + 4;
          // parseHead has set the mode.
          if ((this.mode as Body) === Body.None) {
            this.finish(buf, at, sink);
            return;
          }
          break;
        }
        case Body.Length: {
          const take = Math.min(this.remaining, buf.length - at);
          this.remaining -= take;
          sink.body(at === 0 && take === buf.length ? buf : buf.subarray(at, at + take));
          at += take;
          if (this.remaining === 0) {
            this.finish(buf, at, sink);
            return;
          }
          break;
        }
        case Body.Chunked:
          if (this.chunked(buf, at, sink)) return;
          at = buf.length;
          break;
        case Body.UntilClose:
          sink.body(at === 0 ? buf : buf.subarray(at));
          return;
        default:
          // Done or None: bytes after a complete response.
          throw protocolError('bytes after the end of a response');
      }
    }
  }

  /** The backend closed its side: true when that ends the response (one read until the close). */
  ended(sink: ResponseSink): boolean {
    if (this.mode !== Body.UntilClose) return false;
    this.mode = Body.Done;
    sink.complete(false);
    return true;
  }

  /** The response is complete at `at`; the caller must stop reading `buf` (a next request may begin at once). */
  private finish(buf: Buffer, at: number, sink: ResponseSink): void {
    this.mode = Body.Done;
    // Bytes after the response: a backend that does not frame its responses; never reuse it.
    if (at < buf.length) this.keepAlive = false;
    sink.complete(this.keepAlive);
  }

  private parseHead(text: string, sink: ResponseSink): void {
    const lines = text.split('\r\n');
    const statusLine = lines[0] as string;
    // `HTTP/1.x SSS reason`; the reason may be empty, the space before it too (RFC 9112 4).
    if (
      statusLine.length < 12 ||
      !statusLine.startsWith('HTTP/1.') ||
      (statusLine[7] !== '1' && statusLine[7] !== '0') ||
      statusLine[8] !== ' ' ||
      (statusLine.length > 12 && statusLine[12] !== ' ')
    ) {
      throw protocolError('malformed status line');
    }
    const status = Number(statusLine.slice(9, 12));
    if (!Number.isInteger(status) || status < 100 || statusLine.charCodeAt(9) < 0x31) throw protocolError('malformed status code');
    if (CONTROL.test(statusLine)) throw protocolError('malformed status line');
    const http10 = statusLine[7] === '0';
    let keepAlive = !http10;
    let length = -1;
    let chunked = false;
    let transferEncoding = false;
    const raw: string[] = [];
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i] as string;
      const colon = line.indexOf(':');
      if (colon <= 0) throw protocolError('malformed header line');
      const name = line.slice(0, colon);
      if (!TOKEN.test(name)) throw protocolError('malformed header name');
      const value = line.slice(colon + 1).trim();
      if (CONTROL.test(value)) throw protocolError('malformed header value');
      raw.push(name, value);
      switch (name.length) {
        case 10:
          if (name.toLowerCase() === 'connection') {
            const tokens = value.toLowerCase();
            if (/(^|,)\s*close\s*(,|$)/.test(tokens)) keepAlive = false;
            else if (http10 && /(^|,)\s*keep-alive\s*(,|$)/.test(tokens)) keepAlive = true;
          } else if (name.toLowerCase() === 'keep-alive') {
            const hint = /timeout\s*=\s*(\d+)/i.exec(value);
            if (hint !== null) this.keepAliveHint = Number(hint[1]);
          }
          break;
        case 14:
          if (name.toLowerCase() === 'content-length') {
            if (!/^\d{1,15}$/.test(value)) throw protocolError('malformed Content-Length');
            const n = Number(value);
            if (length !== -1 && length !== n) throw protocolError('two different Content-Lengths');
            length = n;
          }
          break;
        case 17:
          if (name.toLowerCase() === 'transfer-encoding') {
            transferEncoding = true;
            // Only a final `chunked` frames the body; any other coding runs until the close.
            chunked = /(^|,)\s*chunked\s*$/i.test(value);
          }
          break;
      }
    }
    // Interim responses (100, 102, 103) are skipped; the final one follows on the same connection.
    if (status < 200) {
      if (status === 101) throw protocolError('unexpected 101 Switching Protocols');
      return;
    }
    this.keepAlive = keepAlive;
    sink.head(status, statusLine.length > 13 ? statusLine.slice(13) : '', raw);
    if (this.headOnly || status === 204 || status === 304) {
      this.mode = Body.None;
    } else if (transferEncoding) {
      if (chunked) {
        this.mode = Body.Chunked;
        this.chunk = Chunk.Size;
        this.remaining = 0;
        this.sizeDigits = 0;
      } else {
        this.mode = Body.UntilClose;
      }
      // Both framings at once is how responses get smuggled: read this one, reuse nothing.
      if (length !== -1) this.keepAlive = false;
    } else if (length >= 0) {
      this.mode = length === 0 ? Body.None : Body.Length;
      this.remaining = length;
    } else {
      this.mode = Body.UntilClose;
    }
    if (this.mode === Body.UntilClose) this.keepAlive = false;
  }

  /** Decodes chunked framing from `start` to the end of `buf`; true when the response ended there. */
  private chunked(buf: Buffer, start: number, sink: ResponseSink): boolean {
    let at = start;
    while (at < buf.length) {
      const byte = buf[at] as number;
      switch (this.chunk) {
        case Chunk.Size: {
          const digit = hexValue(byte);
          if (digit >= 0) {
            if (++this.sizeDigits > MAX_SIZE_DIGITS) throw protocolError('chunk size too large');
            this.remaining = this.remaining * 16 + digit;
          } else if (this.sizeDigits === 0) {
            throw protocolError('malformed chunk size');
          } else if (byte === CR) {
            this.chunk = Chunk.SizeLf;
          } else if (byte === 0x3b /* ; */ || byte === 0x20 || byte === 0x09) {
            this.chunk = Chunk.Extension;
          } else {
            throw protocolError('malformed chunk size');
          }
          at++;
          break;
        }
        case Chunk.Extension:
          if (byte === CR) this.chunk = Chunk.SizeLf;
          else if (byte === LF) throw protocolError('malformed chunk extension');
          at++;
          break;
        case Chunk.SizeLf:
          if (byte !== LF) throw protocolError('malformed chunk size line');
          at++;
          this.sizeDigits = 0;
          this.chunk = this.remaining === 0 ? Chunk.TrailerStart : Chunk.Data;
          break;
        case Chunk.Data: {
          const take = Math.min(this.remaining, buf.length - at);
          sink.body(buf.subarray(at, at + take));
          this.remaining -= take;
          at += take;
          if (this.remaining === 0) this.chunk = Chunk.DataCr;
          break;
        }
        case Chunk.DataCr:
          if (byte !== CR) throw protocolError('chunk longer than its size');
          this.chunk = Chunk.DataLf;
          at++;
          break;
        case Chunk.DataLf:
          if (byte !== LF) throw protocolError('chunk longer than its size');
          this.chunk = Chunk.Size;
          at++;
          break;
        // Trailer fields are read and dropped (the HTTP/1.1 client side gets none either).
        case Chunk.TrailerStart:
          if (byte === LF) throw protocolError('malformed trailer');
          this.chunk = byte === CR ? Chunk.EndLf : Chunk.TrailerLine;
          at++;
          break;
        case Chunk.TrailerLine:
          if (byte === LF) throw protocolError('malformed trailer');
          if (byte === CR) this.chunk = Chunk.TrailerLf;
          at++;
          break;
        case Chunk.TrailerLf:
          if (byte !== LF) throw protocolError('malformed trailer');
          this.chunk = Chunk.TrailerStart;
          at++;
          break;
        case Chunk.EndLf:
          if (byte !== LF) throw protocolError('malformed end of chunked body');
          this.finish(buf, at + 1, sink);
          return true;
      }
    }
    return false;
  }
}
