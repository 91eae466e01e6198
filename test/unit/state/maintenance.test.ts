import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ClusterState } from '../../../src/state/cluster-state.js';
import { HealthJudge } from '../../../src/state/health.js';
import { Maintenance } from '../../../src/state/maintenance.js';
import type { AppDef, TaskDef } from '../../../src/state/model.js';
import { StateFile } from '../../../src/state/state-file.js';

const logger = pino({ level: 'silent' });
let dir: string;
const open: { maintenance: Maintenance; file: StateFile }[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'baton-maintenance-'));
});
afterEach(async () => {
  vi.useRealTimers();
  for (const { maintenance, file } of open.splice(0)) {
    maintenance.close();
    await file.idle();
  }
  rmSync(dir, { recursive: true, force: true });
});

function app(id: string, over: Partial<AppDef> = {}): AppDef {
  return { id, version: 'v1', labels: {}, ports: [{ index: 0, servicePort: 10000, protocol: 'tcp', labels: {} }], ipPerTask: false, healthChecks: 0, readinessChecks: 0, deployments: [], ...over };
}
function task(appId: string, n: number, over: Partial<TaskDef> = {}): TaskDef {
  const key = `${appId.slice(1).replace(/\//g, '_')}.instance-${n}`;
  return { id: `${key}._app.1`, instanceKey: key, appId, host: `agent-${n}`, ports: [31000 + n], ipAddresses: [], state: 'TASK_RUNNING', healthResults: [], ...over };
}

/** A cluster state with maintenance, as main.ts wires them; `rebuilds` counts the state's onChange. */
function setup(path = join(dir, 'state.json')) {
  let rebuilds = 0;
  const file = new StateFile(path, logger);
  const maintenance: Maintenance = new Maintenance({ logger, store: file, initial: file.load(), onChange: () => state.rejudge() });
  open.push({ maintenance, file });
  const state: ClusterState = new ClusterState({ judge: new HealthJudge(1000), logger, onChange: () => rebuilds++, onRefetch: () => {}, maintenance });
  const routable = () => state.views().flatMap((v) => v.tasks.filter((t) => t.routable).map((t) => t.task.instanceKey));
  const why = (key: string) => state.views().flatMap((v) => v.tasks).find((t) => t.task.instanceKey === key)?.why;
  return { maintenance, state, file, routable, why, rebuilds: () => rebuilds };
}

const none = { draining: [], down: [] };

describe('maintenance: which tasks are out of service', () => {
  it('matches Mesos machines by hostname in any case, by ip against host or ipAddresses', () => {
    const { maintenance, state, routable, why } = setup();
    state.replaceAll([
      {
        app: app('/a'),
        tasks: [
          task('/a', 1, { host: 'Agent-1.Example.com' }),
          task('/a', 2, { host: '10.0.0.2' }),
          task('/a', 3, { host: 'agent-3', ipAddresses: ['10.0.0.3'] }),
          task('/a', 4),
        ],
      },
    ]);
    maintenance.setMesos({ draining: [{ hostname: 'agent-1.example.COM' }, { hostname: 'elsewhere', ip: '10.0.0.2' }], down: [{ ip: '10.0.0.3' }] });
    expect(routable()).toEqual(['a.instance-4']);
    expect(why('a.instance-1')).toBe('maintenance: mesos draining agent-1.example.COM');
    expect(why('a.instance-2')).toBe('maintenance: mesos draining elsewhere');
    expect(why('a.instance-3')).toBe('maintenance: mesos down 10.0.0.3');
    maintenance.setMesos(none);
    expect(routable()).toEqual(['a.instance-1', 'a.instance-2', 'a.instance-3', 'a.instance-4']);
  });

  it('matches marks by host, zone, app and task (task id or instance id), with the mark in the reason', async () => {
    const { maintenance, state, routable, why } = setup();
    state.replaceAll([
      { app: app('/a'), tasks: [task('/a', 1, { host: 'AGENT-1' }), task('/a', 2, { zone: 'Zone-B' }), task('/a', 3), task('/a', 4)] },
      { app: app('/b'), tasks: [task('/b', 5)] },
    ]);
    const byHost = await maintenance.addMark({ hosts: ['agent-1'], note: 'kernel' });
    await maintenance.addMark({ zones: ['zone-b'] });
    await maintenance.addMark({ apps: ['/b'] });
    await maintenance.addMark({ tasks: ['a.instance-3'] });
    expect(routable()).toEqual(['a.instance-4']);
    expect(byHost.mark).toMatchObject({ id: '1', hosts: ['agent-1'], note: 'kernel', createdAt: expect.any(String) });
    expect(why('a.instance-1')).toBe('maintenance: mark 1 (host agent-1, "kernel")');
    expect(why('a.instance-2')).toBe('maintenance: mark 2 (zone zone-b)');
    expect(why('b.instance-5')).toBe('maintenance: mark 3 (app /b)');
    expect(why('a.instance-3')).toBe('maintenance: mark 4 (task a.instance-3)');
    // A task id names its instance too.
    await maintenance.addMark({ tasks: ['a.instance-4._app.1'] });
    expect(routable()).toEqual([]);
    expect(state.outOfService().map((t) => [t.taskId, t.reason.slice(0, 20)])).toHaveLength(5);
  });

  it('re-judges with one rebuild per change, and none for a change that touches no task', async () => {
    const { maintenance, state, rebuilds } = setup();
    state.replaceAll([{ app: app('/a'), tasks: [task('/a', 1), task('/a', 2)] }, { app: app('/b'), tasks: [task('/b', 3)] }]);
    const views = state.views();
    const before = rebuilds();
    maintenance.setMesos({ draining: [{ hostname: 'agent-1' }, { hostname: 'agent-2' }], down: [] });
    expect(rebuilds()).toBe(before + 1);
    // Only the affected app gets a new view; /b keeps its cached one.
    const after = state.views();
    expect(after[0]).not.toBe(views[0]);
    expect(after[1]).toBe(views[1]);
    maintenance.setMesos({ draining: [{ hostname: 'agent-2' }, { hostname: 'agent-1' }], down: [] });
    expect(rebuilds()).toBe(before + 1);
    await maintenance.addMark({ hosts: ['agent-77'] });
    expect(rebuilds()).toBe(before + 1);
    const { mark } = await maintenance.addMark({ apps: ['/b'] });
    expect(rebuilds()).toBe(before + 2);
    await maintenance.deleteMark(mark.id);
    expect(rebuilds()).toBe(before + 3);
  });

  it('drops the last-known health verdict of a task taken out of service: it comes back on fresh health only', async () => {
    const { maintenance, state, routable, why } = setup();
    const a = app('/a', { healthChecks: 1 });
    state.replaceAll([{ app: a, tasks: [task('/a', 1, { healthResults: [true] })] }]);
    // A Marathon failover forgets every health result; the last verdict keeps the task routable.
    state.replaceAll([{ app: a, tasks: [task('/a', 1)] }]);
    expect(routable()).toEqual(['a.instance-1']);
    const { mark } = await maintenance.addMark({ hosts: ['agent-1'] });
    expect(routable()).toEqual([]);
    await maintenance.deleteMark(mark.id);
    expect(routable()).toEqual([]);
    expect(why('a.instance-1')).toBe('health unknown, never seen healthy');
    state.apply([{ type: 'instance-health', appId: '/a', instanceKey: 'a.instance-1', healthy: true }]);
    expect(routable()).toEqual(['a.instance-1']);
  });

  it('takes a task out on the first TASK_KILLING, whichever event says it', () => {
    const { state, routable } = setup();
    state.replaceAll([{ app: app('/a'), tasks: [task('/a', 1), task('/a', 2)] }]);
    state.apply([{ type: 'instance-condition', appId: '/a', instanceKey: 'a.instance-1', condition: 'Killing' }]);
    state.apply([{ type: 'unhealthy-kill', appId: '/a', instanceKey: 'a.instance-2' }]);
    expect(routable()).toEqual([]);
  });

  it('expires marks on one timer, the earliest first', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const { maintenance, state, routable, rebuilds } = setup();
    state.replaceAll([{ app: app('/a'), tasks: [task('/a', 1), task('/a', 2)] }]);
    const now = Date.now();
    await maintenance.addMark({ hosts: ['agent-2'], expiresAt: now + 60_000 });
    await maintenance.addMark({ hosts: ['agent-1'], expiresAt: now + 10_000 });
    expect(vi.getTimerCount()).toBe(1);
    expect(routable()).toEqual([]);
    const before = rebuilds();
    vi.advanceTimersByTime(10_000);
    expect(routable()).toEqual(['a.instance-1']);
    expect(rebuilds()).toBe(before + 1);
    expect(maintenance.listMarks().map((m) => m.id)).toEqual(['1']);
    vi.advanceTimersByTime(50_000);
    expect(routable()).toEqual(['a.instance-1', 'a.instance-2']);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('maintenance: the state file', () => {
  it('keeps marks and the last Mesos maintenance across a restart, and never reuses an id', async () => {
    const first = setup();
    first.maintenance.setMesos({ draining: [{ hostname: 'agent-1', ip: '10.0.0.1' }], down: [] });
    await first.maintenance.addMark({ zones: ['a'], note: 'upgrade' });
    const { mark } = await first.maintenance.addMark({ apps: ['/x'] });
    // Writes are serialised: once this one is done, the Mesos write before it is too.
    await first.maintenance.deleteMark(mark.id);

    const second = setup();
    second.state.replaceAll([{ app: app('/a'), tasks: [task('/a', 1), task('/a', 2, { zone: 'a' }), task('/a', 3)] }]);
    expect(second.routable()).toEqual(['a.instance-3']);
    expect(second.maintenance.listMarks()).toEqual([expect.objectContaining({ id: '1', zones: ['a'], note: 'upgrade' })]);
    const { mark: next } = await second.maintenance.addMark({ tasks: ['t'] });
    expect(next.id).toBe('3');
    expect(readdirSync(dir)).toEqual(['state.json']);
  });

  it('reports a corrupt file, moves it aside and starts without marks', async () => {
    const path = join(dir, 'state.json');
    writeFileSync(path, '{"version":1,"nextId":2,"marks":[{"id":"1"');
    const { maintenance, file } = setup(path);
    expect(maintenance.listMarks()).toEqual([]);
    const status = file.status();
    expect(status.loadError).toMatch(/^not JSON/);
    expect(readFileSync(status.movedTo!, 'utf8')).toContain('"nextId":2');
    await maintenance.addMark({ hosts: ['h'] });
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ version: 1, nextId: 2, marks: [{ id: '1', hosts: ['h'] }] });
  });

  it('ignores a file of the wrong shape, and an unreadable path, without throwing', () => {
    const path = join(dir, 'state.json');
    writeFileSync(path, JSON.stringify({ version: 1, nextId: 1, marks: [{ id: 'one', createdAt: 'yesterday' }] }));
    expect(setup(path).file.status().loadError).toMatch(/^unexpected content/);
    // A directory where the file should be: unreadable.
    expect(setup(dir).file.status().loadError).toMatch(/^cannot read/);
  });

  it('keeps a mark in effect when the file cannot be written, with a warning', async () => {
    const { maintenance, state, routable } = setup(join(dir, 'missing-dir', 'state.json'));
    state.replaceAll([{ app: app('/a'), tasks: [task('/a', 1)] }]);
    const result = await maintenance.addMark({ apps: ['/a'] });
    expect(result.warning).toMatch(/not saved to the state file/);
    expect(routable()).toEqual([]);
  });
});
