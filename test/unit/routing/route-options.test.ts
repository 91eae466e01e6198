import { describe, expect, it } from 'vitest';
import { TableBuilder } from '../../../src/routing/table.js';
import type { AppView } from '../../../src/state/model.js';
import { appDef, appView, taskView } from './fixtures.js';

const build = (apps: AppView[]) => new TableBuilder({}).build(apps, 1);
const web = (id: string, labels: Record<string, string>) => appView(appDef(id, { labels }), [taskView(id, `${id.slice(1)}.1`)]);

describe('TableBuilder: redirect to https, HSTS and backend protocol on http routes', () => {
  it('a route carries its labels; without them: no redirect, no HSTS, http1', () => {
    const table = build([
      web('/shop', { HAPROXY_0_VHOST: 'shop.com', HAPROXY_0_REDIRECT_TO_HTTPS: 'true', HAPROXY_0_USE_HSTS: 'true' }),
      web('/grpc', { BATON_0_VHOST: 'grpc.com', BATON_0_BACKEND_PROTOCOL: 'h2c' }),
      web('/plain', { BATON_0_VHOST: 'plain.com' }),
    ]);
    const options = (host: string) => {
      const route = table.lookupHttp(host, '/')!;
      return [route.redirectToHttps, route.hsts, route.backendProtocol];
    };
    expect(options('shop.com')).toEqual([true, true, 'http1']);
    expect(options('grpc.com')).toEqual([false, false, 'h2c']);
    expect(options('plain.com')).toEqual([false, false, 'http1']);
  });

  it('every path route of a port carries the port options', () => {
    const table = build([web('/api', { BATON_0_VHOST: 'api.com', BATON_0_PATH: '/v1 /v2', BATON_0_USE_HSTS: 'true' })]);
    expect(table.routes.map((r) => [r.path, r.hsts])).toEqual([['/v1', true], ['/v2', true]]);
  });

  it('merged routes (blue/green) redirect and send HSTS when any app says so, whatever the order', () => {
    const blue = web('/shop-blue', { HAPROXY_0_VHOST: 'shop.com', HAPROXY_0_REDIRECT_TO_HTTPS: 'true' });
    const green = web('/shop-green', { HAPROXY_0_VHOST: 'shop.com', BATON_0_USE_HSTS: 'true', HAPROXY_0_REDIRECT_TO_HTTPS: 'false' });
    for (const order of [[blue, green], [green, blue]]) {
      const route = build(order).lookupHttp('shop.com', '/')!;
      expect(route.appIds).toEqual(['/shop-blue', '/shop-green']);
      expect([route.redirectToHttps, route.hsts]).toEqual([true, true]);
    }
    const neither = build([web('/a', { BATON_0_VHOST: 'x.com' }), web('/b', { BATON_0_VHOST: 'x.com', BATON_0_USE_HSTS: 'false' })]).routes[0]!;
    expect([neither.appIds.length, neither.redirectToHttps, neither.hsts]).toEqual([2, false, false]);
  });

  it('merged apps must agree on the backend protocol: the first app keeps the route, an app that differs is disabled', () => {
    const blue = web('/svc-blue', { BATON_0_VHOST: 'svc.com' });
    const green = web('/svc-green', { BATON_0_VHOST: 'svc.com', BATON_0_BACKEND_PROTOCOL: 'h2c', BATON_0_USE_HSTS: 'true' });
    for (const order of [[blue, green], [green, blue]]) {
      const table = build(order);
      const route = table.lookupHttp('svc.com', '/')!;
      expect(route).toMatchObject({ id: '/svc-blue:0', appIds: ['/svc-blue'], backendProtocol: 'http1', hsts: false });
      expect(route.backends.map((b) => b.appId)).toEqual(['/svc-blue']);
      expect(table.disabled).toEqual([
        {
          appId: '/svc-green',
          portIndex: 0,
          reason: 'backend protocol h2c differs from http1 of /svc-blue:0, which has the same hosts at path /: expected one backend protocol for apps sharing a route',
        },
      ]);
    }
  });
});

describe('TableBuilder: certificates', () => {
  it('collects the files every served port names, any protocol, both dialects: sorted, unique', () => {
    const table = build([
      web('/b', { HAPROXY_0_VHOST: 'b.com', HAPROXY_0_SSL_CERT: '/etc/ssl/b.pem' }),
      web('/a', { BATON_0_VHOST: 'a.com', BATON_0_SSL_CERT: '/etc/ssl/a.pem', HAPROXY_0_SSL_CERT: '/etc/ssl/ignored.pem' }),
      web('/a2', { BATON_0_VHOST: 'a2.com', BATON_0_SSL_CERT: '/etc/ssl/a.pem' }),
      appView(appDef('/db', { labels: { BATON_0_PROTOCOL: 'tcp', BATON_0_PORT: '9000', BATON_0_SSL_CERT: '/etc/ssl/db.pem' } })),
      appView(appDef('/vault', { labels: { BATON_0_PROTOCOL: 'tls', BATON_0_VHOST: 'v.com', HAPROXY_0_SSL_CERT: '/etc/ssl/v.pem' } })),
      appView(appDef('/multi', { ports: 2, labels: { BATON_1_VHOST: 'one.com', BATON_1_SSL_CERT: '/etc/ssl/one.pem' } })),
    ]);
    expect(table.disabled).toEqual([]);
    expect(table.certificates).toEqual(['/etc/ssl/a.pem', '/etc/ssl/b.pem', '/etc/ssl/db.pem', '/etc/ssl/one.pem', '/etc/ssl/v.pem']);
    expect(() => (table.certificates as string[]).push('/x.pem')).toThrow();
  });

  it('ports that are not served name no certificate: bad labels, excluded ports, other realms', () => {
    const table = new TableBuilder({ realm: 'edge' }).build(
      [
        web('/bad', { BATON_REALM: 'edge', BATON_0_VHOST: 'bad host', BATON_0_SSL_CERT: '/bad.pem' }),
        web('/off', { BATON_REALM: 'edge', HAPROXY_0_ENABLED: 'false', BATON_0_SSL_CERT: '/off.pem' }),
        web('/other', { BATON_REALM: 'internal', BATON_0_SSL_CERT: '/other.pem' }),
        web('/good', { BATON_REALM: 'edge', BATON_0_SSL_CERT: '/good.pem' }),
      ],
      1,
    );
    expect(table.certificates).toEqual(['/good.pem']);
  });

  it('a table without certificate labels has none', () => {
    expect(build([web('/web', {})]).certificates).toEqual([]);
  });
});

describe('TableBuilder: spec cache with every protocol', () => {
  it('a task event re-reads no labels; the new tasks reach port and tls routes', () => {
    let reads = 0;
    const labels: Record<string, string> = { BATON_0_PROTOCOL: 'tcp', BATON_0_PORT: '9000', BATON_1_PROTOCOL: 'tls', BATON_1_VHOST: 'v.com' };
    Object.defineProperty(labels, 'BATON_0_SSL_CERT', { enumerable: true, get: () => { reads++; return '/db.pem'; } });
    const app = appDef('/db', { labels, ports: 2 });
    const builder = new TableBuilder({});
    const first = builder.build([appView(app, [taskView('/db', 'db.1', { ports: [31000, 31001] })])], 1);
    const readsAfterFirst = reads;
    expect(readsAfterFirst).toBeGreaterThan(0);
    const second = builder.build([appView(app, [taskView('/db', 'db.1', { ports: [31000, 31001] }), taskView('/db', 'db.2', { host: 'h2', ports: [32000, 32001] })])], 2);
    expect(reads).toBe(readsAfterFirst);
    expect(second.lookupPort('tcp', 9000)?.backends.map((b) => b.address)).toEqual(['agent-1.local:31000', 'h2:32000']);
    expect(second.lookupTls('v.com')?.backends.map((b) => b.address)).toEqual(['agent-1.local:31001', 'h2:32001']);
    expect(second.certificates).toEqual(['/db.pem']);
    expect(second.tlsRoutes[0]!.hosts).toBe(first.tlsRoutes[0]!.hosts);
  });
});
