import { describe, expect, it } from 'vitest';
import { parseFastHead } from '../../../src/proxy/fast-head.js';

const parse = (text: string, start = 0, max = 16_384) => parseFastHead(Buffer.from(text, 'latin1'), start, max);

describe('parseFastHead', () => {
  it('parses a body-less HTTP/1.1 head, names as sent and values trimmed', () => {
    const head = parse('GET /a?b=1 HTTP/1.1\r\nHost: app.test\r\nX-Thing:  two words \t\r\nconnection: Keep-Alive\r\n\r\n');
    expect(head).toEqual({
      method: 'GET',
      target: '/a?b=1',
      rawHeaders: ['Host', 'app.test', 'X-Thing', 'two words', 'connection', 'Keep-Alive'],
      close: false,
      end: 86,
    });
  });

  it('finds pipelined heads one after another and sees Connection: close', () => {
    const text = 'HEAD / HTTP/1.1\r\nhost: a\r\n\r\nDELETE /x HTTP/1.1\r\nhost: a\r\nConnection: close\r\n\r\n';
    const first = parse(text);
    expect(first?.method).toBe('HEAD');
    const second = parse(text, first?.end ?? 0);
    expect(second).toMatchObject({ method: 'DELETE', target: '/x', close: true, end: text.length });
  });

  it.each([
    ['a body by Content-Length', 'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n'],
    ['a chunked body', 'GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['Content-Length and Transfer-Encoding (smuggling)', 'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['an upgrade', 'GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'],
    ['an h2c upgrade', 'GET / HTTP/1.1\r\nHost: a\r\nHTTP2-Settings: AAA\r\n\r\n'],
    ['an expectation', 'GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n'],
    ['a Connection naming a header', 'GET / HTTP/1.1\r\nHost: a\r\nConnection: x-secret\r\n\r\n'],
    ['obs-fold', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n  c\r\n\r\n'],
    ['a bare LF in a value', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: b\nX-B: c\r\n\r\n'],
    ['a byte outside ASCII', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: caf\xe9\r\n\r\n'],
    ['a space before the colon', 'GET / HTTP/1.1\r\nHost : a\r\n\r\n'],
    ['two Hosts', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'],
    ['no Host', 'GET / HTTP/1.1\r\nX-A: b\r\n\r\n'],
    ['HTTP/1.0', 'GET / HTTP/1.0\r\nHost: a\r\n\r\n'],
    ['a method with a body', 'POST / HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['CONNECT', 'CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['an absolute-form target', 'GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['a control byte in the target', 'GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['a head cut in two', 'GET / HTTP/1.1\r\nHost: a\r\n'],
  ])('leaves %s to node', (_what, text) => {
    expect(parse(text)).toBeNull();
  });

  it('leaves a head larger than the limit to node', () => {
    const text = `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'b'.repeat(200)}\r\n\r\n`;
    expect(parse(text, 0, text.length)).not.toBeNull();
    expect(parse(text, 0, text.length - 1)).toBeNull();
  });
});
