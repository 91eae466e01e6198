import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { app, health, status, task, world } from './worst-day-fixtures.js';

const tasks = (n: number, over = {}) => Array.from({ length: n }, (_, i) => task('/a', i + 1, over));
const warnings = (w: ReturnType<typeof world>) => w.lines.filter((l) => l.msg.startsWith('removal guard: one burst'));

describe('ClusterState: the removal guard', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('holds back removals past half of an app\'s tasks within one burst, warns once and counts the burst', async () => {
    const w = world();
    w.state.replaceAll([{ app: app('/a'), tasks: tasks(10) }]);
    for (let n = 1; n <= 8; n++) w.state.apply([status('/a', n, 'TASK_FAILED')]);
    expect(w.routable('/a')).toEqual(['6', '7', '8', '9', '10']);
    expect(w.views('/a').filter((v) => v.suspect === 'held').map((v) => v.why)).toEqual([
      'held by the removal guard: TASK_FAILED since 2026-01-01T00:00:00.000Z',
      'held by the removal guard: TASK_FAILED since 2026-01-01T00:00:00.000Z',
      'held by the removal guard: TASK_FAILED since 2026-01-01T00:00:00.000Z',
    ]);
    expect(warnings(w)).toHaveLength(1);
    expect(warnings(w)[0]).toMatchObject({ level: 40, appId: '/a', routable: 10, removed: 5, maxShare: 0.5, reason: 'TASK_FAILED' });
    expect(await w.value('baton_removal_guard_holds_total', { app: '/a' })).toBe(1);
    expect(await w.value('baton_removal_guard_held_tasks')).toBe(3);
  });

  it('watches health checks failing too, one app at a time', () => {
    const w = world();
    const a = app('/a', { healthChecks: 1 });
    const b = app('/b', { healthChecks: 1 });
    w.state.replaceAll([
      { app: a, tasks: tasks(4, { healthResults: [true] }) },
      { app: b, tasks: [task('/b', 1, { healthResults: [true] }), task('/b', 2, { healthResults: [true] })] },
    ]);
    w.state.apply([1, 2, 3, 4].map((n) => health('/a', n, false)));
    w.state.apply([health('/b', 1, false)]);
    expect(w.routable('/a')).toEqual(['3', '4']);
    expect(w.views('/a')[2]).toMatchObject({ suspect: 'held', health: 'unhealthy', why: expect.stringMatching(/^held by the removal guard: failing health checks since /) });
    expect(w.routable('/b')).toEqual(['2']);
    expect(warnings(w).map((l) => l.appId)).toEqual(['/a']);
  });

  it('never holds the scheduler\'s own kills (scale-down, deployment) or maintenance', () => {
    let draining = new Set<string>();
    const w = world({ maintenance: { reasonFor: (t) => (draining.has(t.instanceKey) ? 'operator mark 1' : undefined) } });
    w.state.replaceAll([{ app: app('/a'), tasks: tasks(6) }]);
    w.state.apply([1, 2, 3].map((n) => status('/a', n, 'TASK_KILLING')));
    w.state.apply([1, 2, 3].map((n) => status('/a', n, 'TASK_KILLED')));
    expect(w.routable('/a')).toEqual(['4', '5', '6']);
    draining = new Set(['a.instance-4', 'a.instance-5']);
    w.state.rejudge();
    expect(w.routable('/a')).toEqual(['6']);
    expect(warnings(w)).toEqual([]);
  });

  it('always lets one task go: a single-task app follows Marathon', () => {
    const w = world();
    w.state.replaceAll([{ app: app('/a'), tasks: tasks(1) }]);
    w.state.apply([status('/a', 1, 'TASK_FAILED')]);
    expect(w.state.counts().tasks).toBe(0);
  });

  it('ends a hold when the task recovers, when the scheduler kills it, or when Marathon no longer lists it', () => {
    const w = world();
    const a = app('/a', { healthChecks: 1 });
    w.state.replaceAll([{ app: a, tasks: tasks(4, { healthResults: [true] }) }]);
    w.state.apply([1, 2, 3, 4].map((n) => health('/a', n, false)));
    expect(w.views('/a').map((v) => v.suspect)).toEqual([undefined, undefined, 'held', 'held']);
    w.state.apply([health('/a', 3, true)]);
    expect(w.views('/a')[2]).toMatchObject({ routable: true, health: 'healthy' });
    expect(w.views('/a')[2]).not.toHaveProperty('suspect');
    // Failing again within the same burst: the burst has no room left.
    w.state.apply([health('/a', 3, false)]);
    expect(w.views('/a')[2]?.suspect).toBe('held');
    w.state.apply([{ type: 'unhealthy-kill', appId: '/a', instanceKey: 'a.instance-3' }]);
    expect(w.views('/a')[2]).toMatchObject({ routable: false, why: 'state TASK_KILLING' });
    w.state.upsertApps([{ app: a, tasks: [task('/a', 1, { healthResults: [false] }), task('/a', 2, { healthResults: [false] })] }], []);
    expect(w.state.counts().tasks).toBe(2);
  });

  it('applies what it held once the hold ends', async () => {
    const w = world({ resilience: { removalGuard: { holdMs: 60_000 } } });
    const a = app('/a', { healthChecks: 1 });
    w.state.replaceAll([{ app: a, tasks: tasks(4, { healthResults: [true] }) }]);
    w.state.apply([status('/a', 1, 'TASK_FAILED'), status('/a', 2, 'TASK_FAILED'), status('/a', 3, 'TASK_FAILED'), health('/a', 4, false)]);
    expect(w.routable('/a')).toEqual(['3', '4']);
    const before = w.changes();
    w.clock.now += 59_999;
    vi.advanceTimersByTime(59_999);
    expect(w.routable('/a')).toEqual(['3', '4']);
    w.clock.now += 1;
    vi.advanceTimersByTime(1);
    expect(w.changes()).toBe(before + 1);
    expect(w.state.counts().tasks).toBe(1);
    expect(w.views('/a')[0]).toMatchObject({ routable: false, health: 'unhealthy' });
    expect(w.lines.find((l) => l.msg.startsWith('removal guard: holds ended'))).toMatchObject({ apps: ['/a'], count: 1 });
    expect(await w.value('baton_removal_guard_held_tasks')).toBe(0);
  });

  it('starts a new burst after the window: a slow trickle of failures is never held', () => {
    const w = world();
    w.state.replaceAll([{ app: app('/a'), tasks: tasks(6) }]);
    for (let n = 1; n <= 5; n++) {
      w.state.apply([status('/a', n, 'TASK_FAILED')]);
      w.clock.now += 10_000;
    }
    expect(w.routable('/a')).toEqual(['6']);
    expect(warnings(w)).toEqual([]);
  });

  it('is off with maxShare 1', () => {
    const w = world({ resilience: { removalGuard: { maxShare: 1 } } });
    w.state.replaceAll([{ app: app('/a'), tasks: tasks(4) }]);
    w.state.apply([1, 2, 3, 4].map((n) => status('/a', n, 'TASK_ERROR')));
    expect(w.state.counts().tasks).toBe(0);
  });
});
