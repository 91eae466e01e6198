import { describe, expect, it } from 'vitest';
import { TableBuilder } from '../../../src/routing/table.js';
import type { AppView } from '../../../src/state/model.js';
import { appDef, appView, taskView } from './fixtures.js';

const build = (apps: AppView[]) => new TableBuilder({}).build(apps, 1);

/** A tls passthrough app: hosts in BATON_0_VHOST, its own port if given, one task. */
function tlsApp(id: string, vhost: string, port?: number) {
  const labels: Record<string, string> = { BATON_0_PROTOCOL: 'tls', BATON_0_VHOST: vhost };
  if (port !== undefined) labels.BATON_0_PORT = String(port);
  return appView(appDef(id, { labels }), [taskView(id, `${id.slice(1)}.1`, { host: `${id.slice(1)}-agent` })]);
}

describe('TableBuilder: tls passthrough routes', () => {
  it('without a port label: on the HTTPS entry point only', () => {
    const table = build([tlsApp('/vault', 'vault.example.com')]);
    expect(table.tlsRoutes).toEqual([
      {
        id: '/vault:0',
        appIds: ['/vault'],
        hosts: ['vault.example.com'],
        backends: [{ address: 'vault-agent:31000', host: 'vault-agent', port: 31000, taskId: 'vault.1', appId: '/vault', id: expect.any(String), weight: 1 }],
        status: [expect.objectContaining({ taskId: 'vault.1', routable: true })],
        policy: { balance: 'roundrobin', sticky: false },
        cursor: 0,
      },
    ]);
    expect(table.lookupTls('vault.example.com')).toBe(table.tlsRoutes[0]);
    expect(table.lookupTls('vault.example.com', 443)).toBeUndefined();
    expect(table.lookupTls('other.example.com')).toBeUndefined();
    // Not an HTTP route, and no port route either.
    expect(table.lookupHttp('vault.example.com', '/')).toBeUndefined();
    expect(table.portRoutes).toEqual([]);
  });

  it('with a port label (either dialect): on that port only', () => {
    const haproxy = appView(appDef('/mq', { labels: { BATON_0_PROTOCOL: 'tls', HAPROXY_0_VHOST: 'mq.example.com', HAPROXY_0_PORT: '5671' } }));
    const table = build([tlsApp('/vault', 'vault.example.com', 8443), haproxy]);
    expect(table.lookupTls('vault.example.com', 8443)?.port).toBe(8443);
    expect(table.lookupTls('vault.example.com')).toBeUndefined();
    expect(table.lookupTls('mq.example.com', 5671)?.id).toBe('/mq:0');
    expect(table.lookupTls('mq.example.com', 8443)).toBeUndefined();
  });

  it('server names match whatever the case or trailing dot', () => {
    const table = build([tlsApp('/vault', 'vault.example.com', 8443)]);
    for (const name of ['VAULT.example.com', 'vault.example.com.', 'Vault.Example.Com.']) expect(table.lookupTls(name, 8443)?.id).toBe('/vault:0');
    expect(table.lookupTls('', 8443)).toBeUndefined();
  });

  it('exact names win over name.* prefixes, which win over *.suffix wildcards; the longest of each wins', () => {
    const table = build([
      tlsApp('/exact', 'api.example.com'),
      tlsApp('/prefix', 'api.*'),
      tlsApp('/long-prefix', 'api.v2.*'),
      tlsApp('/wild', '*.com'),
      tlsApp('/long-wild', '*.example.com'),
    ]);
    expect(table.disabled).toEqual([]);
    const lookup = (name: string) => table.lookupTls(name)?.appIds[0];
    expect(lookup('api.example.com')).toBe('/exact');
    expect(lookup('api.example.org')).toBe('/prefix');
    expect(lookup('api.v2.example.org')).toBe('/long-prefix');
    expect(lookup('www.example.com')).toBe('/long-wild');
    expect(lookup('www.other.com')).toBe('/wild');
    expect(lookup('localhost')).toBeUndefined();
  });

  it('apps with the same hosts on the same port merge (blue/green), whatever the order of labels and apps', () => {
    const blue = tlsApp('/vault-blue', 'a.example.com,b.example.com', 8443);
    const green = tlsApp('/vault-green', 'B.example.com, a.example.com', 8443);
    for (const order of [[blue, green], [green, blue]]) {
      const table = build(order);
      expect(table.disabled).toEqual([]);
      expect(table.tlsRoutes).toHaveLength(1);
      const route = table.lookupTls('b.example.com', 8443)!;
      expect(route).toMatchObject({ id: '/vault-blue:0', appIds: ['/vault-blue', '/vault-green'], hosts: ['a.example.com', 'b.example.com'], port: 8443 });
      expect(route.backends.map((b) => b.taskId)).toEqual(['vault-blue.1', 'vault-green.1']);
    }
  });

  it('the same hosts on different ports are separate routes', () => {
    const table = build([tlsApp('/one', 'x.example.com'), tlsApp('/two', 'x.example.com', 8443), tlsApp('/three', 'x.example.com', 9443)]);
    expect(table.disabled).toEqual([]);
    expect([table.lookupTls('x.example.com')?.id, table.lookupTls('x.example.com', 8443)?.id, table.lookupTls('x.example.com', 9443)?.id]).toEqual([
      '/one:0',
      '/two:0',
      '/three:0',
    ]);
  });

  it('partly overlapping hosts on one port: the app whose id sorts first keeps them, whatever the input order', () => {
    const a = tlsApp('/a', 'x.com,y.com');
    const b = tlsApp('/b', 'y.com,z.com');
    for (const order of [[a, b], [b, a]]) {
      const table = build(order);
      expect(table.tlsRoutes.map((r) => r.id)).toEqual(['/a:0']);
      expect(table.lookupTls('z.com')).toBeUndefined();
      expect(table.disabled).toEqual([
        {
          appId: '/b',
          portIndex: 0,
          reason: 'host y.com on the HTTPS entry point is already routed to /a:0, which has other hosts: expected the same hosts as /a:0 (to share its backends) or none of them',
        },
      ]);
    }
    const own = build([tlsApp('/b', 'y.com', 8443), tlsApp('/a', 'x.com,y.com', 8443)]);
    expect(own.disabled[0]?.reason).toContain('host y.com on port 8443 is already routed to /a:0');
  });

  it('a tls route whose own port a tcp route listens on is disabled, even when its app id sorts first', () => {
    const tls = tlsApp('/a-tls', 'x.example.com', 9000);
    const tcp = appView(appDef('/z-tcp', { labels: { BATON_0_PROTOCOL: 'tcp', BATON_0_PORT: '9000' } }));
    for (const order of [[tls, tcp], [tcp, tls]]) {
      const table = build(order);
      expect(table.tlsRoutes).toEqual([]);
      expect(table.lookupPort('tcp', 9000)?.id).toBe('/z-tcp:0');
      expect(table.disabled).toEqual([{ appId: '/a-tls', portIndex: 0, reason: expect.stringContaining('port 9000 is already routed to tcp route /z-tcp:0') }]);
    }
  });

  it('a udp route on the same number does not take a tls port', () => {
    const udp = appView(appDef('/dns', { labels: { BATON_0_PROTOCOL: 'udp', BATON_0_PORT: '9000' } }));
    const table = build([tlsApp('/tls', 'x.example.com', 9000), udp]);
    expect(table.disabled).toEqual([]);
    expect(table.lookupTls('x.example.com', 9000)?.id).toBe('/tls:0');
    expect(table.lookupPort('udp', 9000)?.id).toBe('/dns:0');
  });

  it('a tls route and an http route with the same host both stand', () => {
    const web = appView(appDef('/web', { labels: { BATON_0_VHOST: 'x.example.com' } }));
    const table = build([tlsApp('/tls', 'x.example.com'), web]);
    expect(table.disabled).toEqual([]);
    expect(table.lookupTls('x.example.com')?.id).toBe('/tls:0');
    expect(table.lookupHttp('x.example.com', '/')?.id).toBe('/web:0');
  });
});
