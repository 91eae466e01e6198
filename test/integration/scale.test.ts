import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { TableSender, type ToWorker } from '../../src/cluster/messages.js';
import { PatchedTable, type TableDelta } from '../../src/cluster/table-delta.js';
import { TableHolder } from '../../src/routing/holder.js';
import { createRoutingTable } from '../../src/routing/routing-table.js';
import { TableBuilder } from '../../src/routing/table.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { ClusterState } from '../../src/state/cluster-state.js';
import { HealthJudge } from '../../src/state/health.js';
import type { AppSnapshot, MarathonChange, TaskDef } from '../../src/state/model.js';

// The scale path without timings: at 2,000 apps a task event must cost its own app's route (what
// keeps one event under a couple of milliseconds at 10,000 apps), and a worker must receive that
// route alone. A regression to whole-table work shows as counts, whatever the machine's speed.

const APPS = 2_000;
const TASKS = 3;

function task(app: number, n: number): TaskDef {
  const key = `scale_app-${app}.instance-${n.toString(16).padStart(8, '0')}-0000-4000-8000-000000000000`;
  return { id: `${key}._app.1`, instanceKey: key, appId: `/scale/app-${app}`, host: `10.0.${app % 250}.${n}`, ports: [31000 + n], ipAddresses: [], state: 'TASK_RUNNING', healthResults: [] };
}

function snapshot(): AppSnapshot[] {
  return Array.from({ length: APPS }, (_, a) => ({
    app: {
      id: `/scale/app-${a}`,
      version: '2026-01-01T00:00:00.000Z',
      labels: { BATON_0_VHOST: `app-${a}.scale.test` },
      ports: [{ index: 0, servicePort: 0, protocol: 'tcp', labels: {} }],
      ipPerTask: false,
      healthChecks: 0,
      readinessChecks: 0,
      deployments: [],
    },
    tasks: Array.from({ length: TASKS }, (_, n) => task(a, n)),
  }));
}

function started(t: TaskDef): MarathonChange {
  return { type: 'task-status', appId: t.appId, taskId: t.id, instanceKey: t.instanceKey, state: 'TASK_RUNNING', host: t.host, ports: t.ports, ipAddresses: [] };
}

function killed(t: TaskDef): MarathonChange {
  return { ...started(t), state: 'TASK_KILLED' } as MarathonChange;
}

function setUp() {
  const logger = pino({ level: 'silent' });
  const builder = new TableBuilder({});
  const state = new ClusterState({ judge: new HealthJudge(10_000), logger, onChange: () => {}, onRefetch: () => {} });
  const sent: ToWorker[] = [];
  const sender = new TableSender();
  const holder = new TableHolder({ build: (version) => builder.build(state.views(), version), logger, metrics: createMetrics(), onSwap: (table) => sent.push(sender.next(table)) });
  state.replaceAll(snapshot());
  holder.rebuildNow();
  const first = sent.shift()!;
  if (first.type !== 'table') throw new Error('the first message must be the whole table');
  const worker = new PatchedTable(createRoutingTable(first.version, first.parts));
  return { builder, state, holder, sent, worker };
}

function deltaOf(message: ToWorker | undefined): TableDelta {
  if (message?.type !== 'table-delta') throw new Error(`expected a delta, got ${message?.type}`);
  return (JSON.parse(JSON.stringify(message)) as { delta: TableDelta }).delta;
}

describe('scale: 2,000 apps, one task event', () => {
  it('rebuilds only the changed app route and sends the workers only that route', () => {
    const { builder, state, holder, sent, worker } = setUp();
    expect(holder.current.routes).toHaveLength(APPS);
    expect(builder.lastWork).toMatchObject({ kind: 'full', apps: APPS });

    const fresh = task(1234, 99);
    state.apply([started(fresh)]);
    expect(holder.rebuildNow()).toBe(true);
    expect(builder.lastWork).toEqual({ kind: 'routes', apps: 1, routes: 1 });
    const delta = deltaOf(sent.shift());
    expect(delta.routes.set.map((r) => r.id)).toEqual(['/scale/app-1234:0']);
    expect(delta.routes.removed).toEqual([]);
    expect(delta.disabled).toBeUndefined();
    expect(JSON.stringify(delta).length).toBeLessThan(10_000);

    const patched = worker.apply(delta);
    expect(patched?.lookupHttp('app-1234.scale.test', '/')?.backends.map((b) => b.address)).toContain('10.0.234.99:31099');
    expect(patched?.lookupHttp('app-1233.scale.test', '/')?.backends).toHaveLength(TASKS);

    state.apply([killed(task(1234, 0))]);
    holder.rebuildNow();
    expect(builder.lastWork).toEqual({ kind: 'routes', apps: 1, routes: 1 });
    const afterKill = worker.apply(deltaOf(sent.shift()));
    expect(afterKill?.lookupHttp('app-1234.scale.test', '/')?.backends.map((b) => b.address)).not.toContain('10.0.234.0:31000');
    expect(afterKill?.lookupHttp('app-1234.scale.test', '/')?.backends).toHaveLength(TASKS);
    // The swap history still tells what the swap did, without whole-table work to know it.
    expect(holder.recentSwaps()[0]).toMatchObject({ routes: APPS, backends: APPS * TASKS, added: [], removed: [] });
  });

  it('builds in full and sends added and removed routes by id when an app comes or goes', () => {
    const { builder, state, holder, sent, worker } = setUp();
    const extra = snapshot()[0]!;
    state.upsertApps([{ app: { ...extra.app, id: '/scale/new', labels: { BATON_0_VHOST: 'new.scale.test' } }, tasks: [{ ...task(0, 7), appId: '/scale/new' }] }], ['/scale/app-5']);
    holder.rebuildNow();
    expect(builder.lastWork.kind).toBe('full');
    const delta = deltaOf(sent.shift());
    // Every other route kept its object through the full build, so it is not sent again.
    expect(delta.routes.set.map((r) => r.id)).toEqual(['/scale/new:0']);
    expect(delta.routes.removed).toEqual(['/scale/app-5:0']);
    const table = worker.apply(delta);
    expect(table?.lookupHttp('new.scale.test', '/')?.id).toBe('/scale/new:0');
    expect(table?.lookupHttp('app-5.scale.test', '/')).toBeUndefined();
    expect(table?.routes).toHaveLength(APPS);
    expect(holder.recentSwaps()[0]).toMatchObject({ added: ['/scale/new:0'], removed: ['/scale/app-5:0'] });
  });
});
