import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RouteWatch } from '../../../src/routing/route-watch.js';
import { TableBuilder } from '../../../src/routing/table.js';
import { sameTable } from '../../../src/routing/table-equal.js';
import type { HttpRoute } from '../../../src/routing/types.js';
import { createStateMetrics } from '../../../src/state/metrics.js';
import type { AppView, TaskView } from '../../../src/state/model.js';
import { appDef, appView, taskView } from './fixtures.js';

const web = { labels: { BATON_0_VHOST: 'web.com' } };
const route = (apps: AppView[], builder = new TableBuilder({})): HttpRoute => builder.build(apps, 1).lookupHttp('web.com', '/')!;

const suspect = (id: string, kind: 'lost' | 'held' = 'lost'): TaskView => ({
  ...taskView('/web', id, { host: id }),
  suspect: kind,
  why: kind === 'lost' ? 'TASK_UNREACHABLE since 2026-01-01T00:00:00.000Z' : 'held by the removal guard: TASK_FAILED since 2026-01-01T00:00:00.000Z',
});
const failing = (id: string): TaskView => ({ ...taskView('/web', id, { host: id, routable: false, why: 'failing health checks', health: 'unhealthy' }), panicRoutable: true });

describe('routing: suspects get a smaller share', () => {
  it('weighs a suspect at suspectWeight of a normal backend and shows it as suspect', () => {
    const r = route([appView(appDef('/web', web), [taskView('/web', 't1', { host: 'h1' }), suspect('t2'), suspect('t3', 'held')])]);
    expect(r.backends.map((b) => [b.host, b.weight])).toEqual([
      ['h1', 1 / 3],
      ['t2', 1 / 3 / 4],
      ['t3', 1 / 3 / 4],
    ]);
    expect(r.status.map((s) => [s.health, s.routable, s.why])).toEqual([
      ['no-checks', true, undefined],
      ['suspect', true, 'TASK_UNREACHABLE since 2026-01-01T00:00:00.000Z'],
      ['suspect', true, 'held by the removal guard: TASK_FAILED since 2026-01-01T00:00:00.000Z'],
    ]);
    expect(route([appView(appDef('/web', web), [taskView('/web', 't1', { host: 'h1' }), suspect('t2')])], new TableBuilder({ suspectWeight: 0.5 })).backends[1]?.weight).toBe(0.25);
  });

  it('keeps equal shares when every backend is suspect (a paused master changes nothing for clients)', () => {
    const r = route([appView(appDef('/web', web), [suspect('t1'), suspect('t2')])]);
    expect(r.backends.map((b) => b.weight)).toEqual([0.125, 0.125]);
  });
});

describe('routing: a storm of task events', () => {
  it('re-reads only the apps whose view changed', () => {
    const builder = new TableBuilder({});
    const a = appView(appDef('/a', { labels: { BATON_0_VHOST: 'a.com' } }), [taskView('/a', 'a1')]);
    const b = appView(appDef('/b', { labels: { BATON_0_VHOST: 'b.com' } }), [taskView('/b', 'b1')]);
    const first = builder.build([a, b], 1);
    const second = builder.build([a, appView(b.app, [taskView('/b', 'b1'), taskView('/b', 'b2', { host: 'h2' })])], 2);
    expect(second.lookupHttp('a.com', '/')?.backends).toBe(first.lookupHttp('a.com', '/')?.backends);
    expect(second.lookupHttp('b.com', '/')?.backends).toHaveLength(2);
    // An unchanged route is the same object, so its round robin goes on where it was; a changed
    // route is a new one and starts its own count.
    expect(second.lookupHttp('a.com', '/')).toBe(first.lookupHttp('a.com', '/'));
    expect(second.lookupHttp('b.com', '/')).not.toBe(first.lookupHttp('b.com', '/'));
    expect(second.lookupHttp('b.com', '/')?.cursor).toBe(0);
  });
});

describe('routing: panic routing', () => {
  it('routes to the tasks failing their checks too when fewer than half are healthy, and says so', () => {
    const r = route([appView(appDef('/web', web), [taskView('/web', 't1', { host: 'h1' }), failing('t2'), failing('t3')])]);
    expect(r.panic).toEqual({ healthy: 1, total: 3 });
    expect(r.backends.map((b) => b.host)).toEqual(['h1', 't2', 't3']);
    expect(r.status.map((s) => [s.routable, s.health, s.why])).toEqual([
      [true, 'no-checks', undefined],
      [true, 'unhealthy', 'failing health checks; routed in panic: 1 of 3 tasks healthy, below 50%'],
      [true, 'unhealthy', 'failing health checks; routed in panic: 1 of 3 tasks healthy, below 50%'],
    ]);
  });

  it('is not in panic at exactly the threshold, nor with the threshold at 0', () => {
    const half = [appView(appDef('/web', web), [taskView('/web', 't1', { host: 'h1' }), failing('t2')])];
    expect(route(half).panic).toBeUndefined();
    expect(route(half).backends).toHaveLength(1);
    const none = [appView(appDef('/web', web), [failing('t1'), failing('t2')])];
    expect(route(none).backends).toHaveLength(2);
    expect(route(none, new TableBuilder({ panicThreshold: 0 })).backends).toEqual([]);
  });

  it('never uses a task in maintenance, being killed or never seen healthy, and counts suspects as healthy', () => {
    const out = (id: string, why: string) => taskView('/web', id, { host: id, routable: false, why });
    const r = route([appView(appDef('/web', web), [out('t1', 'operator mark 1'), out('t2', 'state TASK_KILLING'), out('t3', 'health unknown, never seen healthy'), failing('t4')])]);
    expect(r.panic).toEqual({ healthy: 0, total: 1 });
    expect(r.backends.map((b) => b.host)).toEqual(['t4']);
    expect(route([appView(appDef('/web', web), [suspect('t1'), failing('t2')])]).panic).toBeUndefined();
  });

  it('judges a blue/green route as a whole, not app by app', () => {
    const blue = appView(appDef('/blue', web), [
      { ...failing('b1'), task: { ...failing('b1').task, appId: '/blue' } },
      { ...failing('b2'), task: { ...failing('b2').task, appId: '/blue' } },
    ]);
    const green = appView(appDef('/green', web), [taskView('/green', 'g1', { host: 'g1' }), taskView('/green', 'g2', { host: 'g2' })]);
    expect(route([blue, green]).panic).toBeUndefined();
    expect(route([blue, green]).backends.map((b) => b.host)).toEqual(['g1', 'g2']);
    const greenSick = appView(appDef('/green', web), [taskView('/green', 'g1', { host: 'g1' }), { ...failing('g2'), task: { ...failing('g2').task, appId: '/green' } }]);
    expect(route([blue, greenSick]).panic).toEqual({ healthy: 1, total: 4 });
  });

  it('applies to tcp routes too, and a panic change is a table change', () => {
    const db = (tasks: TaskView[]) => [appView(appDef('/db', { labels: { BATON_0_PROTOCOL: 'tcp', BATON_0_PORT: '9000' } }), tasks)];
    const builder = new TableBuilder({});
    const calm = builder.build(db([taskView('/db', 'd1', { host: 'd1' }), taskView('/db', 'd2', { host: 'd2' })]), 1);
    const panic = builder.build(db([taskView('/db', 'd1', { host: 'd1' }), failing('d2'), failing('d3')]), 2);
    expect(panic.lookupPort('tcp', 9000)?.panic).toEqual({ healthy: 1, total: 3 });
    expect(sameTable(calm, panic)).toBe(false);
    expect(sameTable(panic, builder.build(db([taskView('/db', 'd1', { host: 'd1' }), failing('d2'), failing('d3')]), 3))).toBe(true);
  });
});

describe('RouteWatch', () => {
  it('logs a route entering and leaving panic once each, and keeps the gauges', async () => {
    const lines: Array<{ msg: string; level: number; route?: string }> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()));
        done();
      },
    });
    const registry = new Registry();
    const watch = new RouteWatch(pino({ level: 'info' }, sink), createStateMetrics(registry), 0.5);
    const builder = new TableBuilder({});
    // Half healthy, a suspect counting as healthy: not in panic.
    const half = [appView(appDef('/web', web), [taskView('/web', 't1', { host: 'h1' }), failing('t2'), failing('t3'), suspect('t4')])];
    const panic = [appView(appDef('/web', web), [taskView('/web', 't1', { host: 'h1' }), failing('t2'), failing('t3'), failing('t4')])];
    const gauge = async (name: string, labels: Record<string, string> = {}) =>
      (await registry.getSingleMetric(name)?.get())?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
    watch.onSwap(builder.build(half, 1));
    expect(await gauge('baton_routes_in_panic')).toBe(0);
    expect(await gauge('baton_suspect_backends')).toBe(1);
    watch.onSwap(builder.build(panic, 2));
    watch.onSwap(builder.build(panic, 3));
    expect(await gauge('baton_route_panic', { route: '/web:0' })).toBe(1);
    expect(await gauge('baton_routes_in_panic')).toBe(1);
    expect(await gauge('baton_suspect_backends')).toBe(0);
    watch.onSwap(builder.build(half, 4));
    expect(lines.map((l) => [l.msg, l.route])).toEqual([
      ['route entered panic routing: too few healthy tasks, routing to every task not in maintenance', '/web:0'],
      ['route left panic routing', '/web:0'],
    ]);
    expect(await gauge('baton_route_panic', { route: '/web:0' })).toBeUndefined();
    expect(await gauge('baton_routes_in_panic')).toBe(0);
  });
});
