import { describe, expect, it } from 'vitest';
import { sameTable } from '../../../src/routing/table-equal.js';
import { TableBuilder } from '../../../src/routing/table.js';
import type { AppView } from '../../../src/state/model.js';
import { appDef, appView, taskView, type TaskOptions } from './fixtures.js';

interface World {
  web?: Record<string, string>;
  db?: Record<string, string>;
  dbServicePort?: number;
  vault?: Record<string, string>;
  dbTask?: TaskOptions;
  vaultTask?: TaskOptions;
}

/** An http app, a tcp app and a tls app, each built from fresh objects (as a re-fetch gives). */
function apps(world: World = {}): AppView[] {
  return [
    appView(appDef('/web', { labels: { BATON_0_VHOST: 'web.com', ...world.web } }), [taskView('/web', 'web.1')]),
    appView(appDef('/db', { labels: { BATON_0_PROTOCOL: 'tcp', ...world.db }, ports: [{ servicePort: world.dbServicePort ?? 10001 }] }), [
      taskView('/db', 'db.1', world.dbTask),
    ]),
    appView(appDef('/vault', { labels: { BATON_0_PROTOCOL: 'tls', BATON_0_VHOST: 'vault.com', ...world.vault } }), [
      taskView('/vault', 'vault.1', world.vaultTask),
    ]),
  ];
}

const build = (world: World = {}) => new TableBuilder({}).build(apps(world), 1);

describe('sameTable', () => {
  it('an unchanged rebuild from new objects is the same table, whatever the cursors say', () => {
    const before = build({ web: { BATON_0_SSL_CERT: '/c.pem', BATON_0_USE_HSTS: 'true' }, vault: { BATON_0_PORT: '8443' } });
    const after = build({ web: { BATON_0_SSL_CERT: '/c.pem', BATON_0_USE_HSTS: 'true' }, vault: { BATON_0_PORT: '8443' } });
    after.portRoutes[0]!.cursor = 5;
    after.tlsRoutes[0]!.cursor = 3;
    expect(after.portRoutes).toHaveLength(1);
    expect(after.tlsRoutes).toHaveLength(1);
    expect(sameTable(before, after)).toBe(true);
  });

  it.each<[string, World]>([
    ['http redirect to https', { web: { BATON_0_REDIRECT_TO_HTTPS: 'true' } }],
    ['http HSTS', { web: { HAPROXY_0_USE_HSTS: 'true' } }],
    ['http backend protocol', { web: { BATON_0_BACKEND_PROTOCOL: 'h2c' } }],
    ['a certificate', { web: { BATON_0_SSL_CERT: '/etc/ssl/web.pem' } }],
    ['a port route port', { dbServicePort: 10002 }],
    ['a port route protocol', { db: { BATON_0_PROTOCOL: 'udp' } }],
    ['a port route backend', { dbTask: { host: 'other-agent' } }],
    ['a port route status', { dbTask: { routable: false, why: 'unhealthy' } }],
    ['a port route that appears disabled', { dbServicePort: 0 }],
    ['a tls route port', { vault: { BATON_0_PORT: '8443' } }],
    ['tls route hosts', { vault: { BATON_0_VHOST: 'vault.com,secrets.com' } }],
    ['a tls route backend', { vaultTask: { ports: [31999] } }],
    ['a tls route status', { vaultTask: { health: 'unhealthy', routable: false } }],
  ])('a change of %s is a change', (_what, world) => {
    const before = build();
    const after = build(world);
    expect(sameTable(before, after)).toBe(false);
    expect(sameTable(after, before)).toBe(false);
    expect(sameTable(after, build(world))).toBe(true);
  });

  it('a change of port route apps is a change', () => {
    const before = build();
    const after = new TableBuilder({}).build([...apps(), appView(appDef('/db2', { labels: { BATON_0_PROTOCOL: 'tcp', BATON_0_PORT: '9000' } }))], 1);
    expect(sameTable(before, after)).toBe(false);
  });

  it('a change of tls route apps (a green app joins) is a change', () => {
    const before = build();
    const green = appView(appDef('/vault-green', { labels: { BATON_0_PROTOCOL: 'tls', BATON_0_VHOST: 'vault.com' } }));
    const after = new TableBuilder({}).build([...apps(), green], 1);
    expect(after.tlsRoutes[0]!.appIds).toEqual(['/vault', '/vault-green']);
    expect(sameTable(before, after)).toBe(false);
  });
});
