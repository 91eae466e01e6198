import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createMetrics, type Metrics } from '../../../src/observability/metrics.js';
import { TableHolder } from '../../../src/routing/holder.js';
import { TableBuilder } from '../../../src/routing/table.js';
import type { RoutingTable } from '../../../src/routing/types.js';
import type { AppView } from '../../../src/state/model.js';
import { appDef, appView, taskView } from './fixtures.js';

/** A holder over a mutable list of apps, counting builds; `fail` makes the next builds throw. */
function setup(opts: { coalesceMs?: number } = {}) {
  /** `buildMs`: how long each build takes on the (fake) clock. */
  const state = { apps: [] as AppView[], builds: 0, fail: false, buildMs: 0 };
  const builder = new TableBuilder({});
  const lines: Array<{ level: number; msg: string; version?: number }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()));
      done();
    },
  });
  const metrics = createMetrics();
  const swaps: RoutingTable[] = [];
  const holder = new TableHolder({
    build: (version) => {
      state.builds++;
      if (state.buildMs > 0) vi.advanceTimersByTime(state.buildMs);
      if (state.fail) throw new Error('state is inconsistent');
      return builder.build(state.apps, version);
    },
    logger: pino({ level: 'debug' }, sink),
    metrics,
    onSwap: (table) => swaps.push(table),
    ...opts,
  });
  return { state, holder, metrics, swaps, lines };
}

const web = (tasks: number) =>
  appView(appDef('/web'), Array.from({ length: tasks }, (_, i) => taskView('/web', `web.${i}`, { host: `h${i}` })));

async function counter(metrics: Metrics): Promise<{ swaps: number; version: number }> {
  const swaps = (await metrics.tableSwaps.get()).values[0]?.value ?? 0;
  const version = (await metrics.tableVersion.get()).values[0]?.value ?? 0;
  return { swaps, version };
}

describe('TableHolder', () => {
  let holder: TableHolder | undefined;
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    holder?.close();
    vi.useRealTimers();
  });

  it('starts with an empty table, version 0', () => {
    const t = setup();
    holder = t.holder;
    expect(holder.current.version).toBe(0);
    expect(holder.current.routes).toEqual([]);
    expect(holder.current.lookupHttp('web', '/')).toBeUndefined();
  });

  it('builds the first change at once and gathers the burst that follows into one rebuild', async () => {
    const t = setup({ coalesceMs: 50 });
    holder = t.holder;
    t.state.apps = [web(1)];
    holder.schedule();
    expect(t.state.builds).toBe(1);
    expect(holder.current.version).toBe(1);
    t.state.apps = [web(2)];
    for (let i = 0; i < 10; i++) holder.schedule();
    vi.advanceTimersByTime(40);
    expect(t.state.builds).toBe(1);
    // A late call within the window joins it; the window does not restart.
    holder.schedule();
    vi.advanceTimersByTime(10);
    expect(t.state.builds).toBe(2);
    expect(holder.current.version).toBe(2);
    expect(holder.current.lookupHttp('web', '/')?.backends).toHaveLength(2);
    expect(t.swaps).toEqual([t.swaps[0], holder.current]);
    expect(await counter(t.metrics)).toEqual({ swaps: 2, version: 2 });
    expect(t.lines.find((l) => l.msg === 'routing table swapped')).toMatchObject({ version: 1, routes: 1 });
    vi.runAllTimers();
    expect(t.state.builds).toBe(2);
    // After a quiet window, the next change is built at once again.
    vi.advanceTimersByTime(100);
    t.state.apps = [web(3)];
    holder.schedule();
    expect(t.state.builds).toBe(3);
    expect(holder.current.lookupHttp('web', '/')?.backends).toHaveLength(3);
  });

  it('under a storm of costly rebuilds, stretches the window so rebuilding takes about a tenth of the time', () => {
    const t = setup({ coalesceMs: 20 });
    holder = t.holder;
    t.state.buildMs = 10;
    t.state.apps = [web(1)];
    holder.schedule();
    expect(t.state.builds).toBe(1);
    // The next one waits 9 x 10 ms from the start of the last, not 20 ms.
    t.state.apps = [web(2)];
    holder.schedule();
    vi.advanceTimersByTime(70);
    expect(t.state.builds).toBe(1);
    vi.advanceTimersByTime(10);
    expect(t.state.builds).toBe(2);
    // A slow build (100 ms) stretches it to 250 ms at most, not 900.
    t.state.buildMs = 100;
    vi.advanceTimersByTime(1000);
    t.state.apps = [web(3)];
    holder.schedule();
    expect(t.state.builds).toBe(3);
    t.state.buildMs = 0;
    t.state.apps = [web(4)];
    holder.schedule();
    vi.advanceTimersByTime(149);
    expect(t.state.builds).toBe(3);
    vi.advanceTimersByTime(1);
    expect(t.state.builds).toBe(4);
    // Cheap rebuilds bring the configured window back.
    t.state.apps = [web(5)];
    holder.schedule();
    vi.advanceTimersByTime(20);
    expect(t.state.builds).toBe(5);
  });

  it('a rebuild that changes nothing is not swapped and keeps the version', async () => {
    const t = setup();
    holder = t.holder;
    t.state.apps = [web(2)];
    expect(holder.rebuildNow()).toBe(true);
    const first = holder.current;
    // Same content from new objects (a re-fetch of an unchanged app).
    t.state.apps = [web(2)];
    expect(holder.rebuildNow()).toBe(false);
    expect(holder.current).toBe(first);
    expect(holder.current.version).toBe(1);
    // A change in a backend's status (health) is a change.
    t.state.apps = [appView(appDef('/web'), [taskView('/web', 'web.0', { host: 'h0' }), taskView('/web', 'web.1', { host: 'h1', routable: false })])];
    expect(holder.rebuildNow()).toBe(true);
    expect(holder.current.version).toBe(2);
    expect(await counter(t.metrics)).toEqual({ swaps: 2, version: 2 });
    expect(t.swaps.map((s) => s.version)).toEqual([1, 2]);
  });

  it('swaps on a change of a port or tls route, not on an unchanged rebuild of them', () => {
    const t = setup();
    holder = t.holder;
    const db = (port: string) => appView(appDef('/db', { labels: { BATON_0_PROTOCOL: 'tcp', BATON_0_PORT: port } }), [taskView('/db', 'db.1')]);
    const vault = (hosts: string) => appView(appDef('/vault', { labels: { BATON_0_PROTOCOL: 'tls', BATON_0_VHOST: hosts } }), [taskView('/vault', 'v.1')]);
    t.state.apps = [db('9000'), vault('v.com')];
    expect(holder.rebuildNow()).toBe(true);
    t.state.apps = [db('9000'), vault('v.com')];
    expect(holder.rebuildNow()).toBe(false);
    t.state.apps = [db('9001'), vault('v.com')];
    expect(holder.rebuildNow()).toBe(true);
    expect(holder.current.lookupPort('tcp', 9001)?.id).toBe('/db:0');
    t.state.apps = [db('9001'), vault('v.com,w.com')];
    expect(holder.rebuildNow()).toBe(true);
    expect(holder.current.lookupTls('w.com')?.id).toBe('/vault:0');
    expect(holder.current.version).toBe(3);
  });

  it('a build that throws keeps the current table and logs the error', async () => {
    const t = setup();
    holder = t.holder;
    t.state.apps = [web(1)];
    holder.rebuildNow();
    const kept = holder.current;
    t.state.fail = true;
    expect(holder.rebuildNow()).toBe(false);
    holder.schedule();
    vi.runAllTimers();
    expect(t.state.builds).toBe(3);
    expect(holder.current).toBe(kept);
    expect(holder.current.lookupHttp('web', '/')?.backends).toHaveLength(1);
    expect(t.lines.filter((l) => l.level === 50 && l.msg.includes('build failed'))).toHaveLength(2);
    expect(await counter(t.metrics)).toEqual({ swaps: 1, version: 1 });
    // The next good build swaps to the next version.
    t.state.fail = false;
    t.state.apps = [web(3)];
    expect(holder.rebuildNow()).toBe(true);
    expect(holder.current.version).toBe(2);
  });

  it('rebuildNow() takes over a pending scheduled rebuild', () => {
    const t = setup();
    holder = t.holder;
    t.state.apps = [web(1)];
    holder.rebuildNow();
    holder.schedule();
    holder.rebuildNow();
    vi.runAllTimers();
    expect(t.state.builds).toBe(2);
  });

  it('close() cancels a pending rebuild and ignores later schedules', () => {
    const t = setup();
    holder = t.holder;
    t.state.apps = [web(1)];
    holder.rebuildNow();
    t.state.apps = [web(2)];
    holder.schedule();
    holder.close();
    holder.schedule();
    vi.runAllTimers();
    expect(t.state.builds).toBe(1);
    expect(holder.current.version).toBe(1);
  });

  it('a request keeps the table it looked up across a swap', () => {
    const t = setup();
    holder = t.holder;
    t.state.apps = [web(1)];
    holder.rebuildNow();
    const route = holder.current.lookupHttp('web', '/')!;
    t.state.apps = [web(3)];
    holder.rebuildNow();
    expect(route.backends).toHaveLength(1);
    expect(holder.current.lookupHttp('web', '/')?.backends).toHaveLength(3);
  });

  it('logs each disabled route once, when it first appears, and counts them', async () => {
    const t = setup();
    holder = t.holder;
    const bad = appView(appDef('/bad', { labels: { HAPROXY_0_VHOST: 'not a host' } }), []);
    t.state.apps = [bad, web(1)];
    holder.rebuildNow();
    t.state.apps = [bad, web(2)];
    holder.rebuildNow();
    const warnings = t.lines.filter((l) => l.msg === 'route disabled');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ appId: '/bad', portIndex: 0, reason: expect.stringContaining('HAPROXY_0_VHOST') });
    expect((await t.metrics.tableDisabledRoutes.get()).values[0]?.value).toBe(1);
  });
});
