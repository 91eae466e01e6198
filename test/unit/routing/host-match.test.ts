import { describe, expect, it } from 'vitest';
import { normalizeHost } from '../../../src/routing/host-match.js';
import { TableBuilder } from '../../../src/routing/table.js';
import { appDef, appView } from './fixtures.js';

/** One app per entry: app id -> BATON_0_VHOST and BATON_0_PATH. */
function tableOf(routes: Record<string, { vhost: string; path?: string }>) {
  const apps = Object.entries(routes).map(([id, r]) =>
    appView(appDef(id, { labels: { BATON_0_VHOST: r.vhost, ...(r.path === undefined ? {} : { BATON_0_PATH: r.path }) } })),
  );
  const table = new TableBuilder({}).build(apps, 1);
  expect(table.disabled).toEqual([]);
  return (host: string | undefined, path = '/') => table.lookupHttp(host as string, path)?.appIds[0];
}

describe('normalizeHost', () => {
  it.each([
    ['Shop.Example.COM', 'shop.example.com'],
    ['shop.example.com:8080', 'shop.example.com'],
    ['shop.example.com.', 'shop.example.com'],
    ['SHOP.example.com.:443', 'shop.example.com'],
    ['[::1]:8080', '[::1]'],
    ['[::1]', '[::1]'],
    ['10.0.0.1:80', '10.0.0.1'],
    ['', undefined],
    [':80', undefined],
    [undefined, undefined],
  ])('%j -> %j', (raw, expected) => {
    expect(normalizeHost(raw)).toBe(expected);
  });
});

describe('lookupHttp', () => {
  it('matches hosts whatever the case, port or trailing dot', () => {
    const lookup = tableOf({ '/shop': { vhost: 'shop.example.com' } });
    for (const host of ['shop.example.com', 'SHOP.Example.com', 'shop.example.com:8080', 'shop.example.com.', 'Shop.Example.Com.:80']) {
      expect(lookup(host)).toBe('/shop');
    }
    expect(lookup('other.example.com')).toBeUndefined();
    expect(lookup('')).toBeUndefined();
    expect(lookup(undefined)).toBeUndefined();
    expect(lookup('[::1]:8080')).toBeUndefined();
  });

  it('exact hosts win over name.* prefixes, which win over *.suffix wildcards', () => {
    const lookup = tableOf({
      '/exact': { vhost: 'api.example.com' },
      '/prefix': { vhost: 'api.*' },
      '/wild': { vhost: '*.example.com' },
    });
    expect(lookup('api.example.com')).toBe('/exact');
    expect(lookup('api.example.org')).toBe('/prefix');
    expect(lookup('www.example.com')).toBe('/wild');
    expect(lookup('example.com')).toBeUndefined();
  });

  it('the longest name.* prefix and the longest *.suffix win', () => {
    const lookup = tableOf({
      '/short-prefix': { vhost: 'api.*' },
      '/long-prefix': { vhost: 'api.v2.*' },
      '/short-wild': { vhost: '*.com' },
      '/long-wild': { vhost: '*.example.com' },
    });
    expect(lookup('api.v2.example.org')).toBe('/long-prefix');
    expect(lookup('api.v3.example.org')).toBe('/short-prefix');
    expect(lookup('api')).toBeUndefined();
    expect(lookup('a.b.example.com')).toBe('/long-wild');
    expect(lookup('www.other.com')).toBe('/short-wild');
  });

  it('the longest path prefix wins; the query is not part of the path', () => {
    const lookup = tableOf({
      '/root': { vhost: 'x.com' },
      '/api': { vhost: 'x.com', path: '/api' },
      '/api-v2': { vhost: 'x.com', path: '/api/v2' },
    });
    expect(lookup('x.com', '/')).toBe('/root');
    expect(lookup('x.com', '/api/users')).toBe('/api');
    expect(lookup('x.com', '/api/v2/users?x=1')).toBe('/api-v2');
    expect(lookup('x.com', '/api?next=/api/v2')).toBe('/api');
    expect(lookup('x.com', '/ap?i/v2')).toBe('/root');
  });

  it('no path prefix of the matched host -> no route, even if a less specific host would match', () => {
    const lookup = tableOf({ '/api': { vhost: 'api.example.com', path: '/v1' }, '/wild': { vhost: '*.example.com' } });
    expect(lookup('api.example.com', '/v1/x')).toBe('/api');
    expect(lookup('api.example.com', '/other')).toBeUndefined();
    expect(lookup('www.example.com', '/other')).toBe('/wild');
  });

  it('finds one host among many', () => {
    const routes: Record<string, { vhost: string }> = {};
    for (let i = 0; i < 2000; i++) routes[`/app-${i}`] = { vhost: `app-${i}.example.com` };
    const lookup = tableOf(routes);
    expect(lookup('APP-1234.example.com:443', '/x')).toBe('/app-1234');
  });
});
