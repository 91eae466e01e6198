import type { IncomingHttpHeaders } from 'node:http2';
import { describe, expect, it } from 'vitest';
import { h2cRequestHeaders, headerObject, rawRequestHeaders, relayedResponseHeaders, wantsTrailers } from '../../../src/proxy/h2-headers.js';

describe('rawRequestHeaders', () => {
  it('leaves pseudo-headers out and puts :authority first as host, over a host header', () => {
    const headers: IncomingHttpHeaders = { ':method': 'GET', ':path': '/', ':scheme': 'https', ':authority': 'a.test:8443', host: 'other.test', accept: '*/*' };
    expect(rawRequestHeaders(headers)).toEqual(['host', 'a.test:8443', 'accept', '*/*']);
  });

  it('uses the host header when there is no :authority, and spreads repeated values', () => {
    const headers = { ':method': 'GET', host: 'b.test', 'x-a': ['1', '2'] } as IncomingHttpHeaders;
    expect(rawRequestHeaders(headers)).toEqual(['host', 'b.test', 'x-a', '1', 'x-a', '2']);
  });
});

describe('headerObject', () => {
  it('lower-cases names and gathers repeated ones into arrays', () => {
    const out = headerObject(['Content-Type', 'text/plain', 'Set-Cookie', 'a=1', 'set-cookie', 'b=2', 'Set-Cookie', 'c=3']);
    expect({ ...out }).toEqual({ 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2', 'c=3'] });
  });

  it('takes a name like __proto__ as a plain header', () => {
    const out = headerObject(['__proto__', 'x']);
    expect(Object.keys(out)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});

describe('h2cRequestHeaders', () => {
  it('moves Host to :authority, sets method, path and scheme, and passes te: trailers when asked', () => {
    const out = h2cRequestHeaders(['Host', 'grpc.test', 'Content-Type', 'application/grpc'], 'POST', '/svc/Method', true);
    expect({ ...out }).toEqual({ ':authority': 'grpc.test', ':method': 'POST', ':path': '/svc/Method', ':scheme': 'http', 'content-type': 'application/grpc', te: 'trailers' });
    expect(h2cRequestHeaders(['Host', 'grpc.test'], 'GET', '/', false).te).toBeUndefined();
  });
});

describe('wantsTrailers', () => {
  it('finds the trailers token in any case and position, and nothing else', () => {
    expect(wantsTrailers('trailers')).toBe(true);
    expect(wantsTrailers('gzip, Trailers')).toBe(true);
    expect(wantsTrailers('trailers;q=0.5')).toBe(true);
    expect(wantsTrailers('gzip')).toBe(false);
    expect(wantsTrailers('x-trailers')).toBe(false);
    expect(wantsTrailers(undefined)).toBe(false);
  });
});

describe('relayedResponseHeaders', () => {
  it('drops pseudo-headers and sets HSTS when asked', () => {
    const incoming = { ':status': 200, 'content-type': 'application/grpc', 'strict-transport-security': 'max-age=1' } as unknown as IncomingHttpHeaders;
    expect({ ...relayedResponseHeaders(incoming, false) }).toEqual({ 'content-type': 'application/grpc', 'strict-transport-security': 'max-age=1' });
    expect(relayedResponseHeaders(incoming, true)['strict-transport-security']).toBe('max-age=31536000');
  });
});
