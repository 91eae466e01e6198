import { describe, expect, it } from 'vitest';
import { TableBuilder } from '../../../src/routing/table.js';
import { sameTable } from '../../../src/routing/table-equal.js';
import type { RoutingTable } from '../../../src/routing/types.js';
import type { AppDef, AppView, TaskView } from '../../../src/state/model.js';
import { appDef, appView, taskView } from './fixtures.js';

/** A small seeded generator: the sequence is the same on every run. */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
}

const APPS: AppDef[] = [
  appDef('/blue', { labels: { BATON_0_VHOST: 'shop.com' } }),
  appDef('/green', { labels: { BATON_0_VHOST: 'shop.com' } }), // shares blue's route
  appDef('/api', { labels: { BATON_0_VHOST: 'api.com', BATON_0_PATH: '/v1,/v2' } }),
  appDef('/partial', { labels: { BATON_0_VHOST: 'api.com,other.com' } }), // conflicts with /api at /
  appDef('/db', { labels: { BATON_0_PROTOCOL: 'tcp', BATON_0_PORT: '15432' } }),
  appDef('/pass', { labels: { BATON_0_PROTOCOL: 'tls', BATON_0_VHOST: 'secure.com' } }),
  appDef('/two', { ports: 2, labels: { BATON_0_VHOST: 'two.com', BATON_1_PROTOCOL: 'udp', BATON_1_PORT: '15353' } }),
];

/** One task in one of the states the builder tells apart: routable, suspect, failing checks (panic reserve), not routable. */
function task(appId: string, n: number, kind: number): TaskView {
  const base = taskView(appId, `${appId.slice(1)}.t${n}`, { host: `h${n}`, ports: [31000 + n, 32000 + n] });
  switch (kind % 4) {
    case 0:
      return base;
    case 1:
      return { ...base, suspect: 'lost', why: 'TASK_UNREACHABLE' };
    case 2:
      return { ...base, routable: false, health: 'unhealthy', why: 'failing health checks', panicRoutable: true };
    default:
      return { ...base, routable: false, health: 'unknown', why: 'not ready' };
  }
}

function expectSame(incremental: RoutingTable, full: RoutingTable): void {
  expect(sameTable(incremental, full)).toBe(true);
  for (const host of ['shop.com', 'api.com', 'other.com', 'two.com']) {
    for (const path of ['/', '/v1/x', '/v2']) expect(incremental.lookupHttp(host, path)?.backends).toEqual(full.lookupHttp(host, path)?.backends);
  }
  expect(incremental.lookupPort('tcp', 15432)?.backends).toEqual(full.lookupPort('tcp', 15432)?.backends);
  expect(incremental.lookupPort('udp', 15353)?.backends).toEqual(full.lookupPort('udp', 15353)?.backends);
  expect(incremental.lookupTls('secure.com')?.backends).toEqual(full.lookupTls('secure.com')?.backends);
  expect(incremental.routes.map((r) => r.panic)).toEqual(full.routes.map((r) => r.panic));
}

describe('routing: a task event rebuilds only its app routes', () => {
  it('gives the table a full build gives, after every one of many random task changes', () => {
    const next = random(7);
    const tasks = new Map<string, TaskView[]>(APPS.map((app) => [app.id, [0, 1, 2].map((n) => task(app.id, n, 0))]));
    const views = new Map<string, AppView>(APPS.map((app) => [app.id, appView(app, tasks.get(app.id)!)]));
    const builder = new TableBuilder({ panicThreshold: 0.5 });
    builder.build([...views.values()], 1);
    let patched = 0;
    for (let step = 0; step < 300; step++) {
      // Change one or two apps' tasks: a task changes state, comes or goes.
      for (let k = 0; k <= Math.floor(next() * 2); k++) {
        const app = APPS[Math.floor(next() * APPS.length)]!;
        const list = [...tasks.get(app.id)!];
        const r = next();
        if (r < 0.2 && list.length > 0) list.splice(Math.floor(next() * list.length), 1);
        else if (r < 0.4) list.push(task(app.id, 3 + step, Math.floor(next() * 4)));
        else if (list.length > 0) {
          const i = Math.floor(next() * list.length);
          list[i] = task(app.id, Number(list[i]!.task.id.split('.t')[1]), Math.floor(next() * 4));
        }
        tasks.set(app.id, list);
        views.set(app.id, appView(app, list));
      }
      const incremental = builder.build([...views.values()], step + 2);
      if (builder.lastWork.kind === 'routes') patched++;
      expectSame(incremental, new TableBuilder({ panicThreshold: 0.5 }).build([...views.values()], step + 2));
    }
    expect(patched).toBe(300);
  });

  it('rebuilds only the routes of the app that changed, and keeps the others as they were', () => {
    const views = APPS.map((app) => appView(app, [task(app.id, 0, 0)]));
    const builder = new TableBuilder({});
    const first = builder.build(views, 1);
    views[4] = appView(APPS[4]!, [task('/db', 0, 0), task('/db', 1, 0)]);
    const second = builder.build(views, 2);
    expect(builder.lastWork).toEqual({ kind: 'routes', apps: 1, routes: 1 });
    expect(second.lookupPort('tcp', 15432)?.backends).toHaveLength(2);
    expect(second.routes.every((route, i) => route === first.routes[i])).toBe(true);
    expect(second.lookupHttp('shop.com', '/')).toBe(first.lookupHttp('shop.com', '/'));
  });

  it('builds in full when a definition changes or an app comes or goes', () => {
    const views = APPS.map((app) => appView(app, [task(app.id, 0, 0)]));
    const builder = new TableBuilder({});
    builder.build(views, 1);
    const moved = appDef('/db', { labels: { BATON_0_PROTOCOL: 'tcp', BATON_0_PORT: '15433' } });
    const table = builder.build([...views.slice(0, 4), appView(moved, [...views[4]!.tasks]), ...views.slice(5)], 2);
    expect(builder.lastWork.kind).toBe('full');
    expect(table.lookupPort('tcp', 15432)).toBeUndefined();
    expect(table.lookupPort('tcp', 15433)?.id).toBe('/db:0');
    const fewer = builder.build(views.slice(1), 3);
    expect(builder.lastWork.kind).toBe('full');
    expect(fewer.lookupHttp('shop.com', '/')?.appIds).toEqual(['/green']);
  });
});
