import { describe, expect, it } from 'vitest';
import { app, condition, health, status, task, world } from './worst-day-fixtures.js';

const at = (s: number) => Date.parse('2026-01-01T00:00:00.000Z') + s * 1000;

describe('ClusterState: events out of order', () => {
  it('never brings a killed task back, whatever the late event\'s time or kind', async () => {
    const w = world();
    w.state.replaceAll([{ app: app('/a'), tasks: [task('/a', 1), task('/a', 2)] }]);
    w.state.apply([status('/a', 1, 'TASK_KILLED', at(10))]);
    w.state.apply([status('/a', 1, 'TASK_RUNNING', at(5)), status('/a', 1, 'TASK_RUNNING', at(20)), condition('/a', 1, 'Running', at(20))]);
    expect(w.routable('/a')).toEqual(['2']);
    expect(await w.value('baton_state_stale_events_total', { reason: 'tombstone' })).toBe(3);
  });

  it('takes a relaunched resident task (a newer incarnation of the instance), but not a late event of the old one', () => {
    const w = world();
    w.state.replaceAll([{ app: app('/a'), tasks: [task('/a', 1)] }]);
    w.state.apply([status('/a', 1, 'TASK_FAILED')]);
    w.state.apply([status('/a', 1, 'TASK_RUNNING', undefined, 2)]);
    expect(w.views('/a').map((v) => [v.task.id, v.routable])).toEqual([['a.instance-1._app.2', true]]);
    // The first incarnation's late events touch nothing.
    w.state.apply([status('/a', 1, 'TASK_KILLED', undefined, 1), status('/a', 1, 'TASK_UNREACHABLE', undefined, 1)]);
    expect(w.views('/a').map((v) => [v.task.id, v.routable, v.suspect])).toEqual([['a.instance-1._app.2', true, undefined]]);
  });

  it('keeps the newest state and health of a task: an older event arriving late is ignored', async () => {
    const w = world();
    const a = app('/a', { healthChecks: 1 });
    w.state.replaceAll([{ app: a, tasks: [task('/a', 1, { healthResults: [true] }), task('/a', 2, { healthResults: [true] })] }]);
    w.state.apply([status('/a', 1, 'TASK_UNREACHABLE', at(10)), status('/a', 1, 'TASK_RUNNING', at(9))]);
    expect(w.views('/a')[0]).toMatchObject({ suspect: 'lost', why: `TASK_UNREACHABLE since ${new Date(at(10)).toISOString()}` });
    w.state.apply([health('/a', 2, false, at(10)), health('/a', 2, true, at(8))]);
    expect(w.views('/a')[1]).toMatchObject({ routable: false, health: 'unhealthy' });
    // Events of the same time apply in arrival order; events without a time always apply.
    w.state.apply([status('/a', 1, 'TASK_RUNNING', at(10)), health('/a', 2, true)]);
    expect(w.routable('/a')).toEqual(['1', '2']);
    expect(w.views('/a')[0]).not.toHaveProperty('suspect');
    expect(await w.value('baton_state_stale_events_total', { reason: 'older' })).toBe(2);
  });

  it('starts the order again after a full snapshot: a new leader\'s clock may be behind the old one\'s', () => {
    const w = world();
    w.state.replaceAll([{ app: app('/a'), tasks: [task('/a', 1)] }]);
    w.state.apply([status('/a', 1, 'TASK_RUNNING', at(100))]);
    w.state.replaceAll([{ app: app('/a'), tasks: [task('/a', 1)] }]);
    w.state.apply([status('/a', 1, 'TASK_KILLING', at(50))]);
    expect(w.views('/a')[0]).toMatchObject({ routable: false, why: 'state TASK_KILLING' });
  });

  it('a passing check of an app with several checks waits for the instance health event instead of a re-fetch (Marathon 1.4+)', () => {
    const w = world();
    const a = app('/a', { healthChecks: 2 });
    w.state.replaceAll([{ app: a, tasks: [task('/a', 1, { healthResults: [false, true] })] }]);
    const check = { type: 'health-check', appId: '/a', instanceKey: 'a.instance-1', alive: true } as const;
    w.state.apply([check]);
    expect(w.refetched).toEqual(['/a']);
    w.state.apply([health('/a', 1, false), check, check]);
    expect(w.refetched).toEqual(['/a']);
    w.state.apply([health('/a', 1, true)]);
    expect(w.routable('/a')).toEqual(['1']);
  });
});
