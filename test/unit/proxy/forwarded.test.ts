import { describe, expect, it } from 'vitest';
import { httpsLocation, normaliseAddress, rewriteRequestHeaders, rewriteResponseHeaders, type RequestHead } from '../../../src/proxy/forwarded.js';

function head(): RequestHead {
  return { host: '', duplicateHost: false, hasBody: false };
}

/** Flat [name, value, ...] to a lower-cased name -> values map. */
function byName(flat: readonly string[]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (let i = 0; i < flat.length; i += 2) {
    const name = (flat[i] as string).toLowerCase();
    map.set(name, [...(map.get(name) ?? []), flat[i + 1] as string]);
  }
  return map;
}

describe('rewriteRequestHeaders', () => {
  it('drops hop-by-hop headers in any case and keeps the rest in order', () => {
    const raw = [
      'Host', 'a.test',
      'CONNECTION', 'keep-alive',
      'Keep-Alive', 'timeout=5',
      'proxy-connection', 'keep-alive',
      'Te', 'trailers',
      'Trailer', 'x',
      'Transfer-Encoding', 'chunked',
      'Upgrade', 'websocket',
      'Proxy-Authorization', 'Basic eA==',
      'Proxy-Authenticate', 'Basic',
      'Expect', '100-continue',
      'X-A', '1',
      'Accept', '*/*',
    ];
    const out = rewriteRequestHeaders(raw, '10.1.1.1', false, head(), 'http');
    expect(out.slice(0, 6)).toEqual(['Host', 'a.test', 'X-A', '1', 'Accept', '*/*']);
    expect([...byName(out).keys()]).toEqual(['host', 'x-a', 'accept', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']);
  });

  it('drops the headers Connection names, but never Host or Content-Length', () => {
    const raw = ['Host', 'a.test', 'X-Secret', 's', 'Content-Length', '3', 'x-other', 'o', 'Connection', 'close, X-Secret, x-other, host, content-length'];
    const out = byName(rewriteRequestHeaders(raw, '10.1.1.1', false, head(), 'http'));
    expect(out.has('x-secret')).toBe(false);
    expect(out.has('x-other')).toBe(false);
    expect(out.get('host')).toEqual(['a.test']);
    expect(out.get('content-length')).toEqual(['3']);
  });

  it('appends the client to X-Forwarded-For, joining repeated headers', () => {
    const raw = ['Host', 'a.test', 'X-Forwarded-For', '1.1.1.1, 2.2.2.2', 'x-forwarded-for', '3.3.3.3'];
    const out = byName(rewriteRequestHeaders(raw, '10.1.1.1', false, head(), 'http'));
    expect(out.get('x-forwarded-for')).toEqual(['1.1.1.1, 2.2.2.2, 3.3.3.3, 10.1.1.1']);
  });

  it('sets X-Forwarded-For to the client alone when none was sent', () => {
    const out = byName(rewriteRequestHeaders(['Host', 'a.test'], '10.1.1.1', false, head(), 'http'));
    expect(out.get('x-forwarded-for')).toEqual(['10.1.1.1']);
  });

  it('replaces X-Forwarded-Proto/Host from an untrusted client, keeps them from a trusted one', () => {
    const raw = ['Host', 'a.test:81', 'X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'evil.test'];
    const untrusted = byName(rewriteRequestHeaders(raw, '10.1.1.1', false, head(), 'http'));
    expect(untrusted.get('x-forwarded-proto')).toEqual(['http']);
    expect(untrusted.get('x-forwarded-host')).toEqual(['a.test:81']);
    const trusted = byName(rewriteRequestHeaders(raw, '10.1.1.1', true, head(), 'http'));
    expect(trusted.get('x-forwarded-proto')).toEqual(['https']);
    expect(trusted.get('x-forwarded-host')).toEqual(['evil.test']);
  });

  it('sets X-Forwarded-Proto/Host for a trusted client that sent none', () => {
    const out = byName(rewriteRequestHeaders(['Host', 'a.test'], '10.1.1.1', true, head(), 'http'));
    expect(out.get('x-forwarded-proto')).toEqual(['http']);
    expect(out.get('x-forwarded-host')).toEqual(['a.test']);
  });

  it('does not let Connection strip the X-Forwarded headers baton sets', () => {
    const raw = ['Host', 'a.test', 'Connection', 'X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host'];
    const out = byName(rewriteRequestHeaders(raw, '10.1.1.1', false, head(), 'http'));
    expect(out.get('x-forwarded-for')).toEqual(['10.1.1.1']);
    expect(out.get('x-forwarded-proto')).toEqual(['http']);
    expect(out.get('x-forwarded-host')).toEqual(['a.test']);
  });

  it('reports the host, a duplicate Host and whether a body follows', () => {
    const a = head();
    rewriteRequestHeaders(['host', 'A.test', 'Content-Length', '0'], '', false, a, 'http');
    expect(a).toEqual({ host: 'A.test', duplicateHost: false, hasBody: false });

    const b = head();
    const out = rewriteRequestHeaders(['Host', 'a.test', 'Host', 'b.test', 'Transfer-Encoding', 'chunked'], '', false, b, 'http');
    expect(b).toEqual({ host: 'a.test', duplicateHost: true, hasBody: true });
    expect(byName(out).get('host')).toEqual(['a.test']);

    const c = head();
    rewriteRequestHeaders(['Host', 'a.test', 'Content-Length', '12'], '', false, c, 'http');
    expect(c.hasBody).toBe(true);
  });

  it('says https in X-Forwarded-Proto for a client on TLS, unless a trusted proxy said otherwise', () => {
    expect(byName(rewriteRequestHeaders(['Host', 'a.test', 'X-Forwarded-Proto', 'http'], '10.1.1.1', false, head(), 'https')).get('x-forwarded-proto')).toEqual(['https']);
    expect(byName(rewriteRequestHeaders(['Host', 'a.test', 'X-Forwarded-Proto', 'http'], '10.1.1.1', true, head(), 'https')).get('x-forwarded-proto')).toEqual(['http']);
  });

  it('drops HTTP2-Settings (hop-by-hop, and refused by HTTP/2) but keeps Strict-Transport-Security', () => {
    const out = byName(rewriteRequestHeaders(['Host', 'a.test', 'HTTP2-Settings', 'AAMAAABkAAQAoAAAAAIAAAAA', 'Strict-Transport-Security', 'x'], '', false, head(), 'http'));
    expect(out.has('http2-settings')).toBe(false);
    expect(out.get('strict-transport-security')).toEqual(['x']);
  });

  it('adds no X-Forwarded-Host when the request has no Host', () => {
    const out = byName(rewriteRequestHeaders([], '10.1.1.1', false, head(), 'http'));
    expect(out.has('x-forwarded-host')).toBe(false);
  });
});

describe('rewriteResponseHeaders', () => {
  const buffers = (flat: string[]): Buffer[] => flat.map((s) => Buffer.from(s, 'latin1'));

  it('drops hop-by-hop headers and those Connection names, keeps the rest as strings', () => {
    const raw = buffers([
      'Content-Type', 'text/plain',
      'Connection', 'keep-alive, X-Hop',
      'X-Hop', '1',
      'Keep-Alive', 'timeout=5',
      'Transfer-Encoding', 'chunked',
      'Proxy-Authenticate', 'Basic',
      'Upgrade', 'h2c',
      'Set-Cookie', 'a=1',
      'set-cookie', 'b=2',
    ]);
    expect(rewriteResponseHeaders(raw)).toEqual(['Content-Type', 'text/plain', 'Set-Cookie', 'a=1', 'set-cookie', 'b=2']);
  });

  it("with hsts, replaces the backend's Strict-Transport-Security by baton's one-year value", () => {
    const raw = buffers(['Strict-Transport-Security', 'max-age=5', 'X-A', '1']);
    expect(rewriteResponseHeaders(raw, true)).toEqual(['X-A', '1', 'strict-transport-security', 'max-age=31536000']);
    expect(rewriteResponseHeaders(raw, false)).toEqual(['Strict-Transport-Security', 'max-age=5', 'X-A', '1']);
  });

  it('keeps non-ASCII header bytes as they are', () => {
    const raw = [Buffer.from('X-Name'), Buffer.from([0x63, 0xe9])];
    const [, value] = rewriteResponseHeaders(raw);
    expect(Buffer.from(value as string, 'latin1')).toEqual(Buffer.from([0x63, 0xe9]));
  });
});

describe('httpsLocation', () => {
  it('drops the port of the Host and keeps the request target as sent', () => {
    expect(httpsLocation('a.test:8080', '/x?y=1')).toBe('https://a.test/x?y=1');
    expect(httpsLocation('A.test', '/')).toBe('https://A.test/');
    expect(httpsLocation('[::1]:80', '/p')).toBe('https://[::1]/p');
    expect(httpsLocation('[::1]', '/p')).toBe('https://[::1]/p');
  });
});

describe('normaliseAddress', () => {
  it('unwraps IPv4-mapped IPv6 addresses and leaves others alone', () => {
    expect(normaliseAddress('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(normaliseAddress('10.0.0.1')).toBe('10.0.0.1');
    expect(normaliseAddress('::1')).toBe('::1');
    expect(normaliseAddress('::ffff:abcd')).toBe('::ffff:abcd');
    expect(normaliseAddress(undefined)).toBe('');
  });
});
