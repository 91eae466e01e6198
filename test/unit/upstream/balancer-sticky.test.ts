import { describe, expect, it } from 'vitest';
import { readStickyCookie, STICKY_COOKIE, stickySetCookie } from '../../../src/upstream/sticky.js';

describe('readStickyCookie', () => {
  it.each([
    [undefined, undefined],
    ['', undefined],
    ['baton_sticky=AbC-_12', 'AbC-_12'],
    ['a=1; baton_sticky=abc; b=2', 'abc'],
    ['a=1;baton_sticky=abc', 'abc'],
    ['a=1;  \tbaton_sticky=abc  ', 'abc'],
    ['baton_sticky="abc"', 'abc'],
    ['baton_sticky=', undefined],
    ['baton_sticky=; other=1', undefined],
    ['xbaton_sticky=no', undefined],
    ['a=baton_sticky=no', undefined],
    ['baton_stickyx=no', undefined],
    ['baton_sticky', undefined],
    ['xbaton_sticky=no; baton_sticky=yes', 'yes'],
    ['baton_sticky=first; baton_sticky=second', 'first'],
    ['session=x; other=baton_sticky; baton_sticky=real', 'real'],
  ])('%j -> %j', (header, id) => {
    expect(readStickyCookie(header)).toBe(id);
  });
});

describe('stickySetCookie', () => {
  it('a session cookie naming the backend id, Secure over TLS only', () => {
    expect(STICKY_COOKIE).toBe('baton_sticky');
    expect(stickySetCookie('AbC-_12', false)).toBe('baton_sticky=AbC-_12; Path=/; HttpOnly; SameSite=Lax');
    expect(stickySetCookie('AbC-_12', true)).toBe('baton_sticky=AbC-_12; Path=/; HttpOnly; SameSite=Lax; Secure');
  });

  it('scoped to the route path when given one that fits the attribute, else to /', () => {
    expect(stickySetCookie('id', false, '/api')).toBe('baton_sticky=id; Path=/api; HttpOnly; SameSite=Lax');
    expect(stickySetCookie('id', true, '/a;Domain=evil.com')).toBe('baton_sticky=id; Path=/; HttpOnly; SameSite=Lax; Secure');
    expect(stickySetCookie('id', false, 'relative')).toContain('Path=/;');
  });

  it('what it sets, it reads back', () => {
    const set = stickySetCookie('Zz09-_x', true);
    const cookie = set.slice(0, set.indexOf(';'));
    expect(readStickyCookie(`theme=dark; ${cookie}`)).toBe('Zz09-_x');
  });
});
