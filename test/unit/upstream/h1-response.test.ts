import { describe, expect, it } from 'vitest';
import { H1Error, ResponseReader, type ResponseSink } from '../../../src/upstream/h1-response.js';

/** What the reader told its sink for one response. */
class Recorded implements ResponseSink {
  status = 0;
  statusText = '';
  headers: string[] = [];
  readonly chunks: Buffer[] = [];
  reusable: boolean | null = null;

  head(status: number, statusText: string, rawHeaders: string[]): void {
    this.status = status;
    this.statusText = statusText;
    this.headers = rawHeaders;
  }
  body(chunk: Buffer): void {
    this.chunks.push(Buffer.from(chunk));
  }
  complete(reusable: boolean): void {
    this.reusable = reusable;
  }
  get text(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }
}

/** Feeds `parts` (one read each) for a `method` request. */
function read(parts: string[], method = 'GET', reader = new ResponseReader(16 * 1024)): Recorded {
  const sink = new Recorded();
  reader.expect(method);
  for (const part of parts) reader.feed(Buffer.from(part, 'latin1'), sink);
  return sink;
}

/** The same bytes cut at every offset give the same result. */
function everySplit(wire: string, method = 'GET'): Recorded[] {
  const results: Recorded[] = [];
  for (let cut = 1; cut < wire.length; cut++) results.push(read([wire.slice(0, cut), wire.slice(cut)], method));
  return results;
}

function refused(parts: string[], method = 'GET'): H1Error {
  try {
    read(parts, method);
  } catch (err) {
    expect(err).toBeInstanceOf(H1Error);
    return err as H1Error;
  }
  throw new Error('the reader accepted it');
}

describe('ResponseReader: framing', () => {
  it('reads a Content-Length body, keeps the headers as sent and the connection reusable', () => {
    const sink = read(['HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Thing:  a b \r\n\r\nhello']);
    expect(sink.status).toBe(200);
    expect(sink.statusText).toBe('OK');
    expect(sink.headers).toEqual(['Content-Length', '5', 'X-Thing', 'a b']);
    expect(sink.text).toBe('hello');
    expect(sink.reusable).toBe(true);
  });

  it('decodes a chunked body with extensions and trailers, cut at every byte', () => {
    const wire = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n, world!!!\r\n0\r\nX-Trailer: t\r\n\r\n';
    for (const sink of everySplit(wire)) {
      expect(sink.text).toBe('hello, world!!!');
      expect(sink.reusable).toBe(true);
    }
  });

  it('has no body for HEAD, 204 and 304 whatever Content-Length says', () => {
    expect(read(['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n'], 'HEAD').reusable).toBe(true);
    expect(read(['HTTP/1.1 204 No Content\r\n\r\n']).reusable).toBe(true);
    expect(read(['HTTP/1.1 304 Not Modified\r\nContent-Length: 3\r\n\r\n']).reusable).toBe(true);
  });

  it('skips interim 1xx responses and reads the final one', () => {
    const sink = read(['HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok']);
    expect(sink.status).toBe(200);
    expect(sink.headers).toEqual(['Content-Length', '2']);
    expect(sink.text).toBe('ok');
  });

  it('reads a body without length until the close, and never reuses that connection', () => {
    const reader = new ResponseReader(1024);
    const sink = read(['HTTP/1.1 200 OK\r\n\r\npart one ', 'part two'], 'GET', reader);
    expect(sink.reusable).toBeNull();
    expect(reader.ended(sink)).toBe(true);
    expect(sink.text).toBe('part one part two');
    expect(sink.reusable).toBe(false);
  });

  it('does not reuse a connection the backend closes, or an HTTP/1.0 one without keep-alive', () => {
    expect(read(['HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n']).reusable).toBe(false);
    expect(read(['HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n']).reusable).toBe(false);
    expect(read(['HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n']).reusable).toBe(true);
  });

  it('notes the keep-alive timeout the backend announces', () => {
    const reader = new ResponseReader(1024);
    read(['HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5, max=100\r\nContent-Length: 0\r\n\r\n'], 'GET', reader);
    expect(reader.keepAliveHint).toBe(5);
  });

  it('a response shorter than its Content-Length does not end at the close', () => {
    const reader = new ResponseReader(1024);
    const sink = read(['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'], 'GET', reader);
    expect(reader.ended(sink)).toBe(false);
    expect(sink.reusable).toBeNull();
  });
});

describe('ResponseReader: what it refuses', () => {
  it('refuses bytes that are not HTTP as soon as they arrive', () => {
    expect(refused(['SSH-2.0-OpenSSH_9.6\r\n']).code).toBe('BATON_UPSTREAM_PROTOCOL');
  });

  it('refuses two different Content-Lengths and a malformed one', () => {
    expect(refused(['HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd']).code).toBe('BATON_UPSTREAM_PROTOCOL');
    expect(refused(['HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n']).code).toBe('BATON_UPSTREAM_PROTOCOL');
  });

  it('reads a response with both Transfer-Encoding and Content-Length as chunked and never reuses it', () => {
    const sink = read(['HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n']);
    expect(sink.text).toBe('ok');
    expect(sink.reusable).toBe(false);
  });

  it('refuses obs-fold, bad names, bad chunk sizes and chunks longer than their size', () => {
    expect(refused(['HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 0\r\n\r\n']).code).toBe('BATON_UPSTREAM_PROTOCOL');
    expect(refused(['HTTP/1.1 200 OK\r\nBad Name: 1\r\n\r\n']).code).toBe('BATON_UPSTREAM_PROTOCOL');
    expect(refused(['HTTP/1.1 200 OK\r\nX-Bell: a\x07b\r\n\r\n']).code).toBe('BATON_UPSTREAM_PROTOCOL');
    expect(refused(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n']).code).toBe('BATON_UPSTREAM_PROTOCOL');
    expect(refused(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n']).code).toBe('BATON_UPSTREAM_PROTOCOL');
    expect(refused(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1234567890abc\r\n']).code).toBe('BATON_UPSTREAM_PROTOCOL');
  });

  it('refuses a head larger than the limit', () => {
    const reader = new ResponseReader(64);
    const sink = new Recorded();
    reader.expect('GET');
    expect(() => reader.feed(Buffer.from(`HTTP/1.1 200 OK\r\nX-Big: ${'x'.repeat(100)}`), sink)).toThrow(H1Error);
  });

  it('does not reuse a connection that sent bytes after a complete response (a smuggled second response)', () => {
    const sink = read(['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil']);
    expect(sink.text).toBe('ok');
    expect(sink.reusable).toBe(false);
  });

  it('refuses data when no request is outstanding', () => {
    const reader = new ResponseReader(1024);
    expect(() => reader.feed(Buffer.from('HTTP/1.1 200 OK\r\n\r\n'), new Recorded())).toThrow(H1Error);
  });
});
