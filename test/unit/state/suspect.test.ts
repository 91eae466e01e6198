import { describe, expect, it } from 'vitest';
import { app, condition, health, status, task, world } from './worst-day-fixtures.js';

const T0 = '2026-01-01T00:00:00.000Z';

describe('ClusterState: lost tasks are suspects, not dead', () => {
  it.each(['TASK_UNREACHABLE', 'TASK_LOST', 'TASK_UNKNOWN'])('%s keeps the task routable as a suspect, saying since when', (state) => {
    const w = world();
    w.state.replaceAll([{ app: app('/a'), tasks: [task('/a', 1), task('/a', 2)] }]);
    w.state.apply([status('/a', 1, state, Date.parse(T0))]);
    expect(w.routable('/a')).toEqual(['1', '2']);
    expect(w.views('/a')[0]).toMatchObject({ routable: true, suspect: 'lost', health: 'no-checks', why: `${state} since ${T0}` });
    expect(w.views('/a')[1]).not.toHaveProperty('suspect');
  });

  it('follows the Unreachable and UnreachableInactive conditions the same way', () => {
    const w = world();
    w.state.replaceAll([{ app: app('/a'), tasks: [task('/a', 1), task('/a', 2)] }]);
    w.state.apply([condition('/a', 1, 'Unreachable'), condition('/a', 2, 'UnreachableInactive')]);
    expect(w.views('/a').map((v) => [v.routable, v.suspect])).toEqual([
      [true, 'lost'],
      [true, 'lost'],
    ]);
  });

  it('is normal again on TASK_RUNNING', () => {
    const w = world();
    w.state.replaceAll([{ app: app('/a'), tasks: [task('/a', 1)] }]);
    w.state.apply([status('/a', 1, 'TASK_UNREACHABLE')]);
    w.state.apply([status('/a', 1, 'TASK_RUNNING')]);
    expect(w.views('/a')[0]).toEqual({ task: expect.objectContaining({ state: 'TASK_RUNNING' }), health: 'no-checks', routable: true });
  });

  it('keeps its last health verdict: a suspect that was failing its checks stays out (panic may use it)', () => {
    const w = world();
    const a = app('/a', { healthChecks: 1 });
    w.state.replaceAll([{ app: a, tasks: [task('/a', 1, { healthResults: [true] }), task('/a', 2, { healthResults: [false] })] }]);
    w.state.apply([status('/a', 1, 'TASK_UNREACHABLE'), status('/a', 2, 'TASK_UNREACHABLE')]);
    expect(w.views('/a').map((v) => [v.routable, v.suspect, v.panicRoutable])).toEqual([
      [true, 'lost', undefined],
      [false, undefined, true],
    ]);
    expect(w.views('/a')[1]?.why).toMatch(/^TASK_UNREACHABLE since .*; failing health checks$/);
  });

  it('leaves when Marathon reports it killed, failed or gone, and when a snapshot no longer lists it', () => {
    const w = world();
    w.state.replaceAll([{ app: app('/a'), tasks: [1, 2, 3, 4].map((n) => task('/a', n)) }]);
    w.state.apply([1, 2, 3, 4].map((n) => status('/a', n, 'TASK_UNREACHABLE')));
    w.state.apply([status('/a', 1, 'TASK_KILLED'), status('/a', 2, 'TASK_GONE'), condition('/a', 3, 'Gone')]);
    expect(w.routable('/a')).toEqual(['4']);
    w.state.replaceAll([{ app: app('/a'), tasks: [] }]);
    expect(w.state.counts()).toEqual({ apps: 1, tasks: 0 });
  });

  it('a snapshot listing a task as TASK_UNREACHABLE makes it a suspect too, since its first sight', () => {
    const w = world();
    w.state.replaceAll([{ app: app('/a'), tasks: [task('/a', 1, { state: 'TASK_UNREACHABLE' })] }]);
    w.clock.now += 60_000;
    w.state.replaceAll([{ app: app('/a'), tasks: [task('/a', 1, { state: 'TASK_UNREACHABLE' })] }]);
    expect(w.views('/a')[0]).toMatchObject({ routable: true, suspect: 'lost', why: `TASK_UNREACHABLE since ${T0}` });
  });

  it('is out once its replacement serves: a task first seen after it went UnreachableInactive', () => {
    const w = world();
    w.state.replaceAll([{ app: app('/a'), tasks: [task('/a', 1), task('/a', 2)] }]);
    w.state.apply([condition('/a', 1, 'UnreachableInactive'), condition('/a', 2, 'Unreachable')]);
    expect(w.routable('/a')).toEqual(['1', '2']);
    w.clock.now += 1000;
    w.state.apply([status('/a', 3, 'TASK_RUNNING')]);
    expect(w.routable('/a')).toEqual(['2', '3']);
    expect(w.views('/a')[0]?.why).toMatch(/^TASK_UNREACHABLE since .*; replaced by a\.instance-3\._app\.1$/);
    // Only inactive ones are replaced, one replacement each.
    w.state.apply([status('/a', 4, 'TASK_RUNNING')]);
    expect(w.routable('/a')).toEqual(['2', '3', '4']);
  });

  it('under lostTasks: remove, takes it out at once (the removal guard still watches)', () => {
    const w = world({ resilience: { lostTasks: 'remove' } });
    w.state.replaceAll([{ app: app('/a'), tasks: [1, 2, 3, 4].map((n) => task('/a', n)) }]);
    w.state.apply([status('/a', 1, 'TASK_LOST')]);
    expect(w.routable('/a')).toEqual(['2', '3', '4']);
    expect(w.views('/a')[0]).toMatchObject({ routable: false, why: 'state TASK_LOST' });
    w.state.apply([status('/a', 2, 'TASK_LOST'), status('/a', 3, 'TASK_LOST')]);
    expect(w.routable('/a')).toEqual(['3', '4']);
    expect(w.views('/a')[2]).toMatchObject({ suspect: 'held', why: `held by the removal guard: TASK_LOST since ${T0}` });
  });

  it('maintenance wins over everything: a suspect in maintenance is out and not for panic', () => {
    const w = world({ maintenance: { reasonFor: (t) => (t.instanceKey.endsWith('-1') ? 'Mesos DRAINING agent-1' : undefined) } });
    w.state.replaceAll([{ app: app('/a'), tasks: [task('/a', 1), task('/a', 2)] }]);
    w.state.apply([status('/a', 1, 'TASK_UNREACHABLE'), status('/a', 2, 'TASK_UNREACHABLE')]);
    expect(w.views('/a')[0]).toEqual({ task: expect.anything(), health: 'no-checks', routable: false, why: 'Mesos DRAINING agent-1' });
    expect(w.routable('/a')).toEqual(['2']);
  });

  it('asks Marathon about a task it first hears of as lost rather than guessing', () => {
    const w = world();
    w.state.replaceAll([{ app: app('/a'), tasks: [] }]);
    w.state.apply([status('/a', 9, 'TASK_UNREACHABLE')]);
    expect(w.refetched).toEqual(['/a']);
    expect(w.state.counts().tasks).toBe(0);
  });

  it('health events still apply to a suspect', () => {
    const w = world();
    const a = app('/a', { healthChecks: 1 });
    w.state.replaceAll([{ app: a, tasks: [task('/a', 1, { healthResults: [true] }), task('/a', 2, { healthResults: [true] })] }]);
    w.state.apply([status('/a', 1, 'TASK_UNREACHABLE'), health('/a', 1, false)]);
    expect(w.routable('/a')).toEqual(['2']);
  });
});

describe('HealthJudge: what panic routing may use', () => {
  it('a running task failing its checks (or last known failing), not one never seen healthy or not ready', () => {
    const w = world();
    const a = app('/a', { healthChecks: 1, readinessChecks: 1, deployments: ['d1'] });
    w.state.replaceAll([
      {
        app: a,
        tasks: [
          task('/a', 1, { healthResults: [false] }),
          task('/a', 2),
          task('/a', 3, { healthResults: [false], ready: false }),
          task('/a', 4, { healthResults: [true], ready: false }),
          task('/a', 5, { state: 'TASK_KILLING', healthResults: [false] }),
        ],
      },
    ]);
    expect(w.views('/a').map((v) => [v.why, v.panicRoutable])).toEqual([
      ['failing health checks', true],
      ['health unknown, never seen healthy', undefined],
      ['failing health checks', undefined],
      ['not ready (deployment in progress)', undefined],
      ['state TASK_KILLING', undefined],
    ]);
  });
});
