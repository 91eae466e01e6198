import { describe, expect, it } from 'vitest';
import { backendId } from '../../../src/routing/backend-id.js';
import { TableBuilder } from '../../../src/routing/table.js';
import type { AppView } from '../../../src/state/model.js';
import { appDef, appView, taskView } from './fixtures.js';

const build = (apps: AppView[], opts: { realm?: string; domain?: string } = {}) => new TableBuilder(opts).build(apps, 7);

describe('TableBuilder: backends', () => {
  it('host networking: the agent host and the task host port of port n', () => {
    const app = appDef('/web', { ports: 2, labels: { BATON_1_VHOST: 'admin.example.com' } });
    const table = build([appView(app, [taskView('/web', 'web.1', { host: 'agent-7', ports: [31000, 31001] })])]);
    expect(table.version).toBe(7);
    expect(table.lookupHttp('web', '/')?.backends).toEqual([
      { address: 'agent-7:31000', host: 'agent-7', port: 31000, taskId: 'web.1', appId: '/web', id: backendId('web.1', 31000), weight: 1 },
    ]);
    expect(table.lookupHttp('admin.example.com', '/')?.backends.map((b) => b.address)).toEqual(['agent-7:31001']);
  });

  it('IP-per-task: the task IP and the container port', () => {
    const app = appDef('/web', { ipPerTask: true, ports: [{ containerPort: 8080 }] });
    const table = build([appView(app, [taskView('/web', 'web.1', { ipAddresses: ['172.17.0.5', '10.9.9.9'], ports: [] })])]);
    expect(table.routes[0]?.backends).toEqual([
      { address: '172.17.0.5:8080', host: '172.17.0.5', port: 8080, taskId: 'web.1', appId: '/web', id: backendId('web.1', 8080), weight: 1 },
    ]);
  });

  it('IPv6 literals are bracketed in the address, bare in host', () => {
    const app = appDef('/web', { ipPerTask: true, ports: [{ containerPort: 80 }] });
    const table = build([appView(app, [taskView('/web', 'web.1', { ipAddresses: ['fd00::1'] })])]);
    expect(table.routes[0]?.backends[0]).toMatchObject({ address: '[fd00::1]:80', host: 'fd00::1', port: 80 });
  });

  it('a task without the address is no backend; its status says why', () => {
    const hostApp = appDef('/a', { ports: 2, labels: { BATON_1_VHOST: 'one.a' } });
    const ipApp = appDef('/b', { ipPerTask: true, ports: [{ containerPort: undefined }] });
    const table = build([
      appView(hostApp, [taskView('/a', 'a.1', { ports: [31000] }), taskView('/a', 'a.2', { host: '' })]),
      appView(ipApp, [taskView('/b', 'b.1', { ipAddresses: ['10.0.0.2'] })]),
    ]);
    const one = table.lookupHttp('one.a', '/');
    expect(one?.backends).toEqual([]);
    expect(one?.status.map((s) => [s.taskId, s.routable, s.why])).toEqual([['a.1', false, 'task has no host port 1'], ['a.2', false, 'task has no host']]);
    expect(table.lookupHttp('a', '/')?.backends.map((b) => b.taskId)).toEqual(['a.1']);
    expect(table.lookupHttp('b', '/')?.status[0]).toMatchObject({ routable: false, why: 'app port 0 has no container port' });
    const noIp = build([appView(appDef('/c', { ipPerTask: true }), [taskView('/c', 'c.1', { ipAddresses: [] })])]);
    expect(noIp.routes[0]?.status[0]?.why).toBe('task has no IP address');
  });

  it('only routable tasks are backends; every task is in status with health and why', () => {
    const app = appDef('/web');
    const table = build([
      appView(app, [
        taskView('/web', 'web.2', { host: 'h2', health: 'unhealthy', routable: false, why: 'health check failing' }),
        taskView('/web', 'web.1', { host: 'h1', health: 'healthy' }),
      ]),
    ]);
    const route = table.routes[0]!;
    expect(route.backends.map((b) => b.taskId)).toEqual(['web.1']);
    expect(route.status).toEqual([
      { address: 'h1:31000', host: 'h1', port: 31000, taskId: 'web.1', appId: '/web', id: backendId('web.1', 31000), weight: 1, health: 'healthy', routable: true },
      {
        address: 'h2:31000',
        host: 'h2',
        port: 31000,
        taskId: 'web.2',
        appId: '/web',
        id: backendId('web.2', 31000),
        weight: 0,
        health: 'unhealthy',
        routable: false,
        why: 'health check failing',
      },
    ]);
  });
});

describe('TableBuilder: routes', () => {
  it('merges apps sharing hosts and path into one route (blue/green), in app then task order', () => {
    const labels = { HAPROXY_0_VHOST: 'shop.example.com' };
    const blue = appView(appDef('/shop-blue', { labels }), [taskView('/shop-blue', 'b.2', { host: 'h3' }), taskView('/shop-blue', 'b.1', { host: 'h2' })]);
    const green = appView(appDef('/shop-green', { labels }), [taskView('/shop-green', 'g.1', { host: 'h1' })]);
    for (const order of [[blue, green], [green, blue]]) {
      const table = build(order);
      expect(table.routes).toHaveLength(1);
      const route = table.lookupHttp('shop.example.com', '/')!;
      expect(route.id).toBe('/shop-blue:0');
      expect(route.appIds).toEqual(['/shop-blue', '/shop-green']);
      expect(route.backends.map((b) => b.taskId)).toEqual(['b.1', 'b.2', 'g.1']);
      expect(route.status.map((b) => b.taskId)).toEqual(['b.1', 'b.2', 'g.1']);
    }
  });

  it('apps sharing only some hosts at a path: the first app keeps them, the other is disabled', () => {
    const a = appView(appDef('/a', { labels: { BATON_0_VHOST: 'x.com,y.com' } }), [taskView('/a', 'a.1')]);
    const b = appView(appDef('/b', { labels: { BATON_0_VHOST: 'y.com,z.com' } }), [taskView('/b', 'b.1')]);
    const table = build([b, a]);
    expect(table.routes.map((r) => r.id)).toEqual(['/a:0']);
    expect(table.lookupHttp('y.com', '/')?.id).toBe('/a:0');
    expect(table.lookupHttp('z.com', '/')).toBeUndefined();
    expect(table.disabled).toEqual([{ appId: '/b', portIndex: 0, reason: expect.stringContaining('host y.com at path / is already routed to /a:0') }]);
  });

  it('same hosts at different paths are separate routes; ids carry the path when a port has several', () => {
    const app = appDef('/api', { labels: { BATON_0_VHOST: 'api.com', BATON_0_PATH: '/v1 /v2' } });
    const other = appDef('/site', { labels: { BATON_0_VHOST: 'api.com' } });
    const table = build([appView(app), appView(other)]);
    expect(table.routes.map((r) => [r.id, r.path])).toEqual([['/api:0:/v1', '/v1'], ['/api:0:/v2', '/v2'], ['/site:0', '/']]);
    expect(new Set(table.routes.map((r) => r.id)).size).toBe(3);
  });

  it('every protocol is served: tcp and udp specs become port routes, tls specs tls routes', () => {
    const table = build([
      appView(appDef('/db', { labels: { BATON_0_PROTOCOL: 'tcp' }, ports: [{ servicePort: 10001 }] })),
      appView(appDef('/dns', { ports: [{ protocol: 'udp', servicePort: 10053 }] })),
      appView(appDef('/vault', { labels: { BATON_0_PROTOCOL: 'tls', BATON_0_VHOST: 'vault.example.com' } })),
    ]);
    expect(table.disabled).toEqual([]);
    expect(table.routes).toEqual([]);
    expect(table.portRoutes.map((r) => [r.id, r.protocol, r.port])).toEqual([['/db:0', 'tcp', 10001], ['/dns:0', 'udp', 10053]]);
    expect(table.tlsRoutes.map((r) => [r.id, r.hosts, r.port])).toEqual([['/vault:0', ['vault.example.com'], undefined]]);
  });

  it('a bad label disables its route while a good app next to it is routed', () => {
    const bad = appView(appDef('/bad', { labels: { HAPROXY_0_VHOST: 'a.*.b' } }), [taskView('/bad', 'bad.1')]);
    const good = appView(appDef('/good', { labels: { HAPROXY_0_VHOST: 'good.example.com' } }), [taskView('/good', 'good.1')]);
    const table = build([bad, good]);
    expect(table.lookupHttp('good.example.com', '/')?.backends).toHaveLength(1);
    expect(table.disabled).toEqual([{ appId: '/bad', portIndex: 0, reason: 'label HAPROXY_0_VHOST="a.*.b": expected host names like a.example.com, *.example.com or name.*' }]);
  });

  it('an app whose labels throw is disabled with the reason; the build goes on', () => {
    const labels: Record<string, string> = {};
    Object.defineProperty(labels, 'BATON_0_VHOST', { enumerable: true, get: () => { throw new Error('label store exploded'); } });
    const broken = appView(appDef('/broken', { labels, ports: 2 }), [taskView('/broken', 'x.1')]);
    const fine = appView(appDef('/fine'), [taskView('/fine', 'f.1')]);
    const table = build([broken, fine]);
    expect(table.routes.map((r) => r.id)).toEqual(['/fine:0']);
    expect(table.disabled).toEqual([
      { appId: '/broken', portIndex: 0, reason: 'labels could not be read: label store exploded' },
      { appId: '/broken', portIndex: 1, reason: 'labels could not be read: label store exploded' },
    ]);
  });

  it('realm and domain options reach the label parsing', () => {
    const table = build(
      [appView(appDef('/shop/web', { labels: { BATON_REALM: 'edge' } })), appView(appDef('/other', { labels: { BATON_REALM: 'internal' } }))],
      { realm: 'edge', domain: 'example.com' },
    );
    expect(table.routes.map((r) => r.hosts)).toEqual([['web.shop', 'web.shop.example.com']]);
  });

  it('tables are frozen: a reader cannot edit routes or backends', () => {
    const table = build([appView(appDef('/web'), [taskView('/web', 'web.1')])]);
    expect(() => (table.routes as unknown[]).push(1)).toThrow();
    expect(() => (table.routes[0]!.backends as unknown[]).pop()).toThrow();
  });
});

describe('TableBuilder: spec cache', () => {
  function countingApp(id: string, vhost: string) {
    let reads = 0;
    const labels: Record<string, string> = {};
    Object.defineProperty(labels, 'BATON_0_VHOST', { enumerable: true, get: () => { reads++; return vhost; } });
    return { app: appDef(id, { labels }), reads: () => reads };
  }

  it('does not re-read the labels of an unchanged AppDef object, but reads a replaced one', () => {
    const builder = new TableBuilder({});
    const counted = countingApp('/web', 'web.example.com');
    const first = builder.build([appView(counted.app, [taskView('/web', 'web.1')])], 1);
    const readsAfterFirst = counted.reads();
    expect(readsAfterFirst).toBeGreaterThan(0);
    // A task event: same AppDef object, new tasks.
    const second = builder.build([appView(counted.app, [taskView('/web', 'web.1'), taskView('/web', 'web.2', { host: 'h2' })])], 2);
    expect(counted.reads()).toBe(readsAfterFirst);
    expect(second.lookupHttp('web.example.com', '/')?.backends).toHaveLength(2);
    expect(second.routes[0]!.hosts).toBe(first.routes[0]!.hosts);
    // The app changed: the state hands a new AppDef object.
    const changed = countingApp('/web', 'new.example.com');
    const third = builder.build([appView(changed.app, [taskView('/web', 'web.1')])], 3);
    expect(changed.reads()).toBeGreaterThan(0);
    expect(third.lookupHttp('new.example.com', '/')).toBeDefined();
    expect(third.lookupHttp('web.example.com', '/')).toBeUndefined();
  });
});
