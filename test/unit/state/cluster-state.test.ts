import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ClusterState } from '../../../src/state/cluster-state.js';
import { HealthJudge } from '../../../src/state/health.js';
import type { AppDef, AppSnapshot, MarathonChange, TaskDef } from '../../../src/state/model.js';

function app(id: string, over: Partial<AppDef> = {}): AppDef {
  return { id, version: 'v1', labels: {}, ports: [{ index: 0, servicePort: 10000, protocol: 'tcp', labels: {} }], ipPerTask: false, healthChecks: 0, readinessChecks: 0, deployments: [], ...over };
}
function task(appId: string, n: number, over: Partial<TaskDef> = {}): TaskDef {
  const key = `${appId.slice(1).replace(/\//g, '_')}.instance-${n}`;
  return { id: `${key}._app.1`, instanceKey: key, appId, host: '127.0.0.1', ports: [31000 + n], ipAddresses: [], state: 'TASK_RUNNING', healthResults: [], ...over };
}

function setup() {
  let changes = 0;
  const refetched: string[] = [];
  const state = new ClusterState({
    judge: new HealthJudge(1000),
    logger: pino({ level: 'silent' }),
    onChange: () => changes++,
    onRefetch: (ids) => refetched.push(...ids),
  });
  const routable = (appId: string) =>
    state.views().find((v) => v.app.id === appId)?.tasks.filter((t) => t.routable).map((t) => t.task.instanceKey) ?? [];
  return { state, routable, refetched, changes: () => changes };
}

const status = (appId: string, key: string, state: string, port = 31999): MarathonChange => ({
  type: 'task-status', appId, taskId: `${key}._app.1`, instanceKey: key, state, host: '127.0.0.1', ports: [port], ipAddresses: [],
});

describe('ClusterState', () => {
  it('routes every TASK_RUNNING task of an app without health checks, and none in other states', () => {
    const { state, routable } = setup();
    state.replaceAll([{ app: app('/a'), tasks: [task('/a', 1), task('/a', 2, { state: 'TASK_STAGING' })] }]);
    expect(routable('/a')).toEqual(['a.instance-1']);
  });

  it('needs every health result alive when the app has health checks', () => {
    const { state, routable } = setup();
    const a = app('/a', { healthChecks: 2 });
    state.replaceAll([{ app: a, tasks: [task('/a', 1, { healthResults: [true, true] }), task('/a', 2, { healthResults: [true, false] }), task('/a', 3)] }]);
    expect(routable('/a')).toEqual(['a.instance-1']);
    const why = state.views()[0]!.tasks.map((t) => t.why);
    expect(why).toEqual([undefined, 'failing health checks', 'health unknown, never seen healthy']);
  });

  it('keeps the last verdict when a Marathon failover resets every health result', () => {
    const { state, routable } = setup();
    const a = app('/a', { healthChecks: 1 });
    state.replaceAll([{ app: a, tasks: [task('/a', 1, { healthResults: [true] }), task('/a', 2, { healthResults: [false] })] }]);
    state.replaceAll([{ app: a, tasks: [task('/a', 1), task('/a', 2)] }]);
    expect(routable('/a')).toEqual(['a.instance-1']);
  });

  it('holds back tasks reported not ready while a deployment with readiness checks runs', () => {
    const { state, routable } = setup();
    const a = app('/a', { readinessChecks: 1, deployments: ['d1'] });
    state.replaceAll([{ app: a, tasks: [task('/a', 1, { ready: true }), task('/a', 2, { ready: false }), task('/a', 3)] }]);
    expect(routable('/a')).toEqual(['a.instance-1', 'a.instance-3']);
    state.replaceAll([{ app: { ...a, deployments: [] }, tasks: [task('/a', 1, { ready: true }), task('/a', 2, { ready: false })] }]);
    expect(routable('/a')).toEqual(['a.instance-1', 'a.instance-2']);
  });

  it('re-fetches instead of adding a new task of an app with readiness checks (only a fetch knows if it is ready)', () => {
    const { state, routable, refetched } = setup();
    state.replaceAll([{ app: app('/a', { readinessChecks: 1 }), tasks: [] }]);
    state.apply([status('/a', 'a.instance-9', 'TASK_RUNNING')]);
    expect(routable('/a')).toEqual([]);
    expect(refetched).toEqual(['/a']);
  });

  it('adds a task on TASK_RUNNING and drops it from routing on TASK_KILLING, then removes it on TASK_KILLED', () => {
    const { state, routable } = setup();
    state.replaceAll([{ app: app('/a'), tasks: [] }]);
    state.apply([status('/a', 'a.instance-9', 'TASK_RUNNING', 31009)]);
    expect(routable('/a')).toEqual(['a.instance-9']);
    expect(state.views()[0]!.tasks[0]!.task.ports).toEqual([31009]);
    state.apply([status('/a', 'a.instance-9', 'TASK_KILLING')]);
    expect(routable('/a')).toEqual([]);
    expect(state.counts().tasks).toBe(1);
    state.apply([status('/a', 'a.instance-9', 'TASK_KILLED')]);
    expect(state.counts().tasks).toBe(0);
  });

  it('never resurrects a killed task from a late TASK_RUNNING event', () => {
    const { state, routable } = setup();
    state.replaceAll([{ app: app('/a'), tasks: [task('/a', 1)] }]);
    state.apply([status('/a', 'a.instance-1', 'TASK_KILLED'), status('/a', 'a.instance-1', 'TASK_RUNNING')]);
    expect(routable('/a')).toEqual([]);
  });

  it('follows instance conditions and health events', () => {
    const { state, routable } = setup();
    const a = app('/a', { healthChecks: 1 });
    state.replaceAll([{ app: a, tasks: [task('/a', 1, { healthResults: [true] })] }]);
    state.apply([{ type: 'health-check', appId: '/a', instanceKey: 'a.instance-1', alive: false }]);
    expect(routable('/a')).toEqual([]);
    state.apply([{ type: 'instance-health', appId: '/a', instanceKey: 'a.instance-1', healthy: true }]);
    expect(routable('/a')).toEqual(['a.instance-1']);
    state.apply([{ type: 'instance-health', appId: '/a', instanceKey: 'a.instance-1', healthy: null }]);
    expect(routable('/a')).toEqual(['a.instance-1']);
    state.apply([{ type: 'instance-condition', appId: '/a', instanceKey: 'a.instance-1', condition: 'Killing' }]);
    expect(routable('/a')).toEqual([]);
  });

  it('asks for a re-fetch when one of several health checks passes', () => {
    const { state, routable, refetched } = setup();
    state.replaceAll([{ app: app('/a', { healthChecks: 2 }), tasks: [task('/a', 1, { healthResults: [false, true] })] }]);
    state.apply([{ type: 'health-check', appId: '/a', instanceKey: 'a.instance-1', alive: true }]);
    expect(refetched).toEqual(['/a']);
    expect(routable('/a')).toEqual([]);
  });

  it('removes an app on app-terminated and on a re-fetch that finds it gone', () => {
    const { state } = setup();
    state.replaceAll([{ app: app('/a'), tasks: [task('/a', 1)] }, { app: app('/b'), tasks: [] }]);
    state.apply([{ type: 'app-terminated', appId: '/a' }]);
    expect(state.views().map((v) => v.app.id)).toEqual(['/b']);
    state.upsertApps([], ['/b']);
    expect(state.counts()).toEqual({ apps: 0, tasks: 0 });
  });

  it('keeps the objects of unchanged apps across snapshots, so the table rebuilds only what changed', () => {
    const { state } = setup();
    const snap = (tasks: TaskDef[]): AppSnapshot[] => [{ app: app('/a'), tasks }, { app: app('/b'), tasks: [task('/b', 1)] }];
    state.replaceAll(snap([task('/a', 1)]));
    const [a1, b1] = state.views();
    state.replaceAll(snap([task('/a', 1), task('/a', 2)]));
    const [a2, b2] = state.views();
    expect(b2).toBe(b1);
    expect(a2).not.toBe(a1);
    expect(a2!.app).toBe(a1!.app);
  });

  it('after an event, lists every app again with only the changed view new, and never a removed or stale one', () => {
    const { state } = setup();
    state.replaceAll([
      { app: app('/a'), tasks: [task('/a', 1)] },
      { app: app('/b'), tasks: [task('/b', 1)] },
      { app: app('/c'), tasks: [task('/c', 1)] },
    ]);
    const first = state.views();
    state.apply([status('/b', 'b.instance-2', 'TASK_RUNNING', 31002)]);
    const second = state.views();
    expect(second).not.toBe(first);
    expect(second.map((v) => v.app.id)).toEqual(['/a', '/b', '/c']);
    expect(second[0]).toBe(first[0]);
    expect(second[2]).toBe(first[2]);
    expect(second[1]!.tasks.map((t) => t.task.instanceKey)).toEqual(['b.instance-1', 'b.instance-2']);
    // The list a caller holds is left as it was.
    expect(first[1]!.tasks).toHaveLength(1);
    expect(state.views()).toBe(second);

    state.apply([{ type: 'app-terminated', appId: '/a' }, status('/c', 'c.instance-1', 'TASK_KILLED')]);
    const third = state.views();
    expect(third.map((v) => v.app.id)).toEqual(['/b', '/c']);
    expect(third[1]!.tasks).toEqual([]);
    state.upsertApps([{ app: app('/d'), tasks: [] }], []);
    state.apply([status('/b', 'b.instance-1', 'TASK_KILLED')]);
    expect(state.views().map((v) => [v.app.id, v.tasks.length])).toEqual([['/b', 1], ['/c', 0], ['/d', 0]]);
  });

  it('asks for a re-fetch of an app it does not know when one of its tasks starts running', () => {
    const { state, changes, refetched } = setup();
    state.replaceAll([]);
    const before = changes();
    state.apply([status('/new', 'new.instance-1', 'TASK_RUNNING'), status('/old', 'old.instance-1', 'TASK_KILLED')]);
    expect(changes()).toBe(before);
    expect(refetched).toEqual(['/new']);
  });
});
