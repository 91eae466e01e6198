import { describe, expect, it } from 'vitest';
import { backendId } from '../../../src/routing/backend-id.js';
import { TableBuilder } from '../../../src/routing/table.js';
import type { AppView } from '../../../src/state/model.js';
import { appDef, appView, taskView } from './fixtures.js';

const build = (apps: AppView[]) => new TableBuilder({}).build(apps, 1);

/** A tcp (or udp) app on one port, with one task. */
function portApp(id: string, labels: Record<string, string>, opts: { servicePort?: number; protocol?: string } = {}) {
  const app = appDef(id, { labels, ports: [{ servicePort: opts.servicePort ?? 0, protocol: opts.protocol ?? 'tcp' }] });
  return appView(app, [taskView(id, `${id.slice(1)}.1`, { host: `${id.slice(1)}-agent`, ports: [31000] })]);
}

describe('TableBuilder: tcp and udp port routes', () => {
  it('a tcp route listens on the service port and sends to the task host port', () => {
    const table = build([portApp('/db', { BATON_0_PROTOCOL: 'tcp' }, { servicePort: 10005 })]);
    expect(table.portRoutes).toEqual([
      {
        id: '/db:0',
        appIds: ['/db'],
        protocol: 'tcp',
        port: 10005,
        backends: [{ address: 'db-agent:31000', host: 'db-agent', port: 31000, taskId: 'db.1', appId: '/db', id: backendId('db.1', 31000), weight: 1 }],
        status: [
          { address: 'db-agent:31000', host: 'db-agent', port: 31000, taskId: 'db.1', appId: '/db', id: backendId('db.1', 31000), weight: 1, health: 'no-checks', routable: true },
        ],
        policy: { balance: 'roundrobin', sticky: false },
        cursor: 0,
      },
    ]);
    expect(table.lookupPort('tcp', 10005)).toBe(table.portRoutes[0]);
    expect(table.lookupPort('udp', 10005)).toBeUndefined();
    expect(table.lookupPort('tcp', 10006)).toBeUndefined();
  });

  it('IP-per-task apps: the task IP and the container port of port n', () => {
    const app = appDef('/dns', { ipPerTask: true, ports: [{ protocol: 'udp', servicePort: 10053, containerPort: 53 }] });
    const table = build([appView(app, [taskView('/dns', 'dns.1', { ipAddresses: ['172.17.0.9'], ports: [] }), taskView('/dns', 'dns.2', { routable: false, why: 'unhealthy' })])]);
    const route = table.lookupPort('udp', 10053)!;
    expect(route.backends.map((b) => b.address)).toEqual(['172.17.0.9:53']);
    expect(route.status.map((s) => [s.taskId, s.routable, s.why])).toEqual([['dns.1', true, undefined], ['dns.2', false, 'unhealthy']]);
  });

  it('the port label overrides the service port', () => {
    const table = build([portApp('/db', { HAPROXY_0_MODE: 'tcp', HAPROXY_0_PORT: '5432' }, { servicePort: 10005 })]);
    expect(table.lookupPort('tcp', 5432)?.id).toBe('/db:0');
    expect(table.lookupPort('tcp', 10005)).toBeUndefined();
  });

  it('no service port and no port label: disabled, the rest of the table is built', () => {
    const table = build([portApp('/db', { BATON_0_PROTOCOL: 'tcp' }), portApp('/cache', { BATON_0_PROTOCOL: 'tcp' }, { servicePort: 10006 })]);
    expect(table.portRoutes.map((r) => r.id)).toEqual(['/cache:0']);
    expect(table.disabled).toEqual([{ appId: '/db', portIndex: 0, reason: expect.stringContaining('no service port') }]);
  });

  it('two apps on one tcp port: the app whose id sorts first wins, whatever the input order', () => {
    const a = portApp('/a-db', { BATON_0_PROTOCOL: 'tcp', BATON_0_PORT: '9000' });
    const b = portApp('/b-db', { HAPROXY_0_MODE: 'tcp' }, { servicePort: 9000 });
    for (const order of [[a, b], [b, a]]) {
      const table = build(order);
      expect(table.portRoutes.map((r) => r.id)).toEqual(['/a-db:0']);
      expect(table.lookupPort('tcp', 9000)?.backends.map((x) => x.taskId)).toEqual(['a-db.1']);
      expect(table.disabled).toEqual([
        { appId: '/b-db', portIndex: 0, reason: 'tcp port 9000 is already routed to /a-db:0: expected a port no other app claims (BATON_0_PORT or another service port)' },
      ]);
    }
  });

  it('two ports of one app on one port: the lower port index wins', () => {
    const app = appDef('/db', { labels: { BATON_0_PROTOCOL: 'udp', BATON_0_PORT: '7000', BATON_1_PROTOCOL: 'udp', BATON_1_PORT: '7000' }, ports: 2 });
    const table = build([appView(app, [taskView('/db', 'db.1', { ports: [31000, 31001] })])]);
    expect(table.lookupPort('udp', 7000)?.backends.map((b) => b.port)).toEqual([31000]);
    expect(table.disabled).toEqual([{ appId: '/db', portIndex: 1, reason: expect.stringContaining('udp port 7000 is already routed to /db:0') }]);
  });

  it('tcp and udp on the same number do not conflict', () => {
    const tcp = portApp('/z-tcp', { BATON_0_PROTOCOL: 'tcp' }, { servicePort: 10053 });
    const udp = portApp('/a-udp', {}, { servicePort: 10053, protocol: 'udp' });
    const table = build([tcp, udp]);
    expect(table.disabled).toEqual([]);
    expect(table.lookupPort('tcp', 10053)?.id).toBe('/z-tcp:0');
    expect(table.lookupPort('udp', 10053)?.id).toBe('/a-udp:0');
    // Listed by protocol, then port.
    expect(table.portRoutes.map((r) => `${r.protocol}/${r.port}`)).toEqual(['tcp/10053', 'udp/10053']);
  });

  it('a tcp port 0 gets no default http host', () => {
    const table = build([portApp('/web', { BATON_0_PROTOCOL: 'tcp' }, { servicePort: 10000 })]);
    expect(table.routes).toEqual([]);
    expect(table.lookupHttp('web', '/')).toBeUndefined();
  });

  it('port routes are frozen', () => {
    const table = build([portApp('/db', { BATON_0_PROTOCOL: 'tcp' }, { servicePort: 10005 })]);
    expect(() => (table.portRoutes as unknown[]).push(1)).toThrow();
    expect(() => (table.portRoutes[0]!.backends as unknown[]).pop()).toThrow();
  });
});
