import { describe, expect, it } from 'vitest';
import { sameTable } from '../../../src/routing/table-equal.js';
import { TableBuilder } from '../../../src/routing/table.js';
import type { HttpRoute } from '../../../src/routing/types.js';
import type { AppDef, AppView } from '../../../src/state/model.js';
import { appDef, appView, taskView } from './fixtures.js';

/** An app on shop.com with `tasks` routable tasks (hosts h1, h2, ...) and these extra labels. */
function shop(id: string, tasks: number, labels: Record<string, string> = {}): AppView {
  const app = appDef(id, { labels: { BATON_0_VHOST: 'shop.com', ...labels } });
  return appView(app, Array.from({ length: tasks }, (_, i) => taskView(id, `${id.slice(1)}.${i + 1}`, { host: `h${i + 1}`, ports: [31000 + i] })));
}

const route = (apps: AppView[], builder = new TableBuilder({})): HttpRoute => builder.build(apps, 1).lookupHttp('shop.com', '/')!;

/** Each app's share of the route's total backend weight. */
function shares(r: HttpRoute): Record<string, number> {
  const total = r.backends.reduce((sum, b) => sum + b.weight, 0);
  const byApp: Record<string, number> = {};
  for (const b of r.backends) byApp[b.appId] = (byApp[b.appId] ?? 0) + b.weight / total;
  return byApp;
}

describe('backend weights', () => {
  it('one app: every backend weighs the same', () => {
    const r = route([shop('/blue', 4)]);
    expect(r.backends.map((b) => b.weight)).toEqual([0.25, 0.25, 0.25, 0.25]);
  });

  it('apps sharing a route split it by BATON_WEIGHT, whatever their task counts', () => {
    const r = route([shop('/blue', 3, { BATON_WEIGHT: '9' }), shop('/green', 2, { BATON_WEIGHT: '1' })]);
    expect(r.appIds).toEqual(['/blue', '/green']);
    const split = shares(r);
    expect(split['/blue']).toBeCloseTo(0.9, 10);
    expect(split['/green']).toBeCloseTo(0.1, 10);
  });

  it('without weight labels, apps sharing a route get half each', () => {
    const split = shares(route([shop('/blue', 5), shop('/green', 1)]));
    expect(split['/blue']).toBeCloseTo(0.5, 10);
    expect(split['/green']).toBeCloseTo(0.5, 10);
  });

  it('traefik.weight weighs each backend, as traefik does: the split follows task counts', () => {
    const r = route([shop('/blue', 3, { 'traefik.weight': '2' }), shop('/green', 2, { 'traefik.weight': '1' })]);
    expect(r.backends.map((b) => b.weight)).toEqual([2, 2, 2, 1, 1]);
    expect(shares(r)['/blue']).toBeCloseTo(0.75, 10);
  });

  it('only routable tasks share the app weight; the others show weight 0', () => {
    const app = appDef('/blue', { labels: { BATON_0_VHOST: 'shop.com', BATON_WEIGHT: '6' } });
    const r = route([
      appView(app, [taskView('/blue', 'blue.1', { host: 'h1' }), taskView('/blue', 'blue.2', { host: 'h2', routable: false }), taskView('/blue', 'blue.3', { host: 'h3' })]),
    ]);
    expect(r.backends.map((b) => [b.taskId, b.weight])).toEqual([
      ['blue.1', 3],
      ['blue.3', 3],
    ]);
    expect(r.status.map((s) => [s.taskId, s.weight])).toEqual([
      ['blue.1', 3],
      ['blue.2', 0],
      ['blue.3', 3],
    ]);
  });

  it('BATON_WEIGHT=0: the app stays in the route with weight 0 (no new clients)', () => {
    const r = route([shop('/blue', 2), shop('/green', 2, { BATON_WEIGHT: '0' })]);
    expect(r.backends.map((b) => [b.appId, b.weight])).toEqual([
      ['/blue', 0.5],
      ['/blue', 0.5],
      ['/green', 0],
      ['/green', 0],
    ]);
  });
});

describe('backend ids', () => {
  it('are stable across rebuilds from fresh objects, and differ per task and per port', () => {
    const twoPorts = (): AppView => {
      const app = appDef('/web', { ports: 2, labels: { BATON_0_VHOST: 'shop.com', BATON_1_VHOST: 'admin.com' } });
      return appView(app, [taskView('/web', 'web.1', { host: 'h1', ports: [31000, 31001] }), taskView('/web', 'web.2', { host: 'h1', ports: [31002, 31003] })]);
    };
    const first = new TableBuilder({}).build([twoPorts()], 1);
    const again = new TableBuilder({}).build([twoPorts()], 2);
    const ids = (t: typeof first, host: string) => t.lookupHttp(host, '/')!.backends.map((b) => b.id);
    expect(ids(again, 'shop.com')).toEqual(ids(first, 'shop.com'));
    expect(ids(again, 'admin.com')).toEqual(ids(first, 'admin.com'));
    const all = [...ids(first, 'shop.com'), ...ids(first, 'admin.com')];
    expect(new Set(all).size).toBe(4);
  });

  it('do not move when the task moves in the list or other tasks come and go', () => {
    const one = route([shop('/blue', 1)]).backends[0]!;
    const three = route([shop('/blue', 3)]).backends.find((b) => b.taskId === one.taskId)!;
    expect(three.id).toBe(one.id);
  });

  it('are short, URL and cookie safe, and do not contain the address', () => {
    const app = appDef('/web', { ipPerTask: true, labels: { BATON_0_VHOST: 'shop.com' }, ports: [{ containerPort: 8080 }] });
    const r = route([appView(app, [taskView('/web', 'web.1', { ipAddresses: ['10.20.30.40'] })])]);
    const backend = r.backends[0]!;
    expect(backend.id).toMatch(/^[A-Za-z0-9_-]{8,16}$/);
    for (const part of [backend.address, backend.host, String(backend.port), '10.20', '8080']) expect(backend.id).not.toContain(part);
  });
});

describe('route policies in the table', () => {
  it('every kind of route carries its port policy', () => {
    const table = new TableBuilder({}).build(
      [
        shop('/web', 1, { BATON_0_BALANCE: 'leastconn', BATON_0_STICKY: 'true', BATON_0_TIMEOUT_TOTAL: '5s' }),
        appView(appDef('/db', { labels: { BATON_0_PROTOCOL: 'tcp', BATON_0_BALANCE: 'source', BATON_0_BREAKER_VOLUME: '3' } }), [taskView('/db', 'db.1')]),
        appView(appDef('/vault', { labels: { BATON_0_PROTOCOL: 'tls', BATON_0_VHOST: 'vault.com', HAPROXY_0_BALANCE: 'random' } }), [taskView('/vault', 'vault.1')]),
      ],
      1,
    );
    expect(table.lookupHttp('shop.com', '/')!.policy).toEqual({ balance: 'leastconn', sticky: true, timeouts: { totalMs: 5000 } });
    expect(table.lookupPort('tcp', 10000)!.policy).toEqual({ balance: 'source', sticky: false, breaker: { volumeThreshold: 3 } });
    expect(table.lookupTls('vault.com')!.policy).toEqual({ balance: 'random', sticky: false });
  });

  it('a merged route takes the policy of its first app, whatever the order', () => {
    const blue = shop('/blue', 1, { BATON_0_BALANCE: 'leastconn' });
    const green = shop('/green', 1, { BATON_0_BALANCE: 'p2c', BATON_0_STICKY: 'true' });
    expect(route([blue, green]).policy).toEqual({ balance: 'leastconn', sticky: false });
    expect(route([green, blue]).policy).toEqual({ balance: 'leastconn', sticky: false });
  });

  it('labels are read once per AppDef: a rebuild for a task change reuses the policy object', () => {
    const builder = new TableBuilder({});
    const app: AppDef = appDef('/web', { labels: { BATON_0_VHOST: 'shop.com', BATON_0_BALANCE: 'p2c' } });
    const before = route([appView(app, [taskView('/web', 'web.1')])], builder);
    const after = route([appView(app, [taskView('/web', 'web.1'), taskView('/web', 'web.2', { host: 'h2' })])], builder);
    expect(after.policy).toBe(before.policy);
    expect(Object.isFrozen(after.policy)).toBe(true);
  });
});

describe('sameTable and the policy fields', () => {
  const build = (labels: Record<string, string>) => new TableBuilder({}).build([shop('/blue', 2, labels), shop('/green', 1)], 1);

  it('the same labels rebuilt from fresh objects are the same table', () => {
    const labels = { BATON_0_BALANCE: 'p2c', BATON_WEIGHT: '3', 'traefik.backend.circuitbreaker.expression': 'ResponseCodeRatio(500, 600, 0, 600) > 0.5', BATON_0_TIMEOUT_BODY: '9s' };
    expect(sameTable(build(labels), build({ ...labels }))).toBe(true);
  });

  it.each([
    ['balance', { BATON_0_BALANCE: 'leastconn' }],
    ['sticky', { BATON_0_STICKY: 'true' }],
    ['weight', { BATON_WEIGHT: '2' }],
    ['breaker volume', { BATON_0_BREAKER_VOLUME: '4' }],
    ['breaker 5xx', { BATON_0_BREAKER_5XX: 'false' }],
    ['breaker code ratio', { 'traefik.backend.circuitbreaker.expression': 'ResponseCodeRatio(500, 600, 0, 600) > 0.5' }],
    ['timeouts', { BATON_0_TIMEOUT_CONNECT: '1s' }],
  ])('a change of %s is a different table', (_what, labels) => {
    expect(sameTable(build({}), build(labels))).toBe(false);
  });

  it('a change of one breaker or timeout field is a different table', () => {
    const base = { BATON_0_BREAKER_VOLUME: '4', BATON_0_TIMEOUT_CONNECT: '1s', 'traefik.weight': '1' };
    expect(sameTable(build(base), build({ ...base, BATON_0_BREAKER_VOLUME: '5' }))).toBe(false);
    expect(sameTable(build(base), build({ ...base, BATON_0_TIMEOUT_CONNECT: '2s' }))).toBe(false);
    const ratio = (codes: string) => ({ 'traefik.backend.circuitbreaker.expression': `ResponseCodeRatio(${codes}) > 0.5` });
    expect(sameTable(build(ratio('500, 600, 0, 600')), build(ratio('500, 600, 100, 600')))).toBe(false);
  });
});
