import { describe, expect, it } from 'vitest';
import { TableSender, type ToWorker } from '../../../src/cluster/messages.js';
import { PatchedTable, type TableDelta } from '../../../src/cluster/table-delta.js';
import { createRoutingTable } from '../../../src/routing/routing-table.js';
import { TableBuilder } from '../../../src/routing/table.js';
import { sameTable } from '../../../src/routing/table-equal.js';
import type { RoutingTable } from '../../../src/routing/types.js';
import type { AppView } from '../../../src/state/model.js';
import { appDef, appView, taskView } from '../routing/fixtures.js';

/** Through JSON, as the IPC channel carries it. */
function wire(message: ToWorker): ToWorker {
  return JSON.parse(JSON.stringify(message)) as ToWorker;
}

function apps(count: number, tasksOf: (i: number) => number): AppView[] {
  return Array.from({ length: count }, (_, i) => {
    const id = `/app-${i}`;
    const tasks = Array.from({ length: tasksOf(i) }, (_, t) => taskView(id, `app-${i}.t${t}`, { host: `10.0.${i}.${t}`, ports: [31000 + t] }));
    return appView(appDef(id, { labels: { BATON_0_VHOST: `app-${i}.com` } }), tasks);
  });
}

/** The worker's side of one message. */
function receive(worker: PatchedTable | undefined, message: ToWorker): { worker: PatchedTable; table: RoutingTable | undefined } {
  if (message.type === 'table') {
    const w = new PatchedTable(createRoutingTable(message.version, message.parts));
    return { worker: w, table: w.current };
  }
  if (message.type !== 'table-delta' || worker === undefined) throw new Error(`unexpected ${message.type}`);
  return { worker, table: worker.apply(message.delta) };
}

describe('cluster: tables sent to workers as deltas', () => {
  it('sends a task event as the one route it changed, and the worker routes as the primary does', () => {
    const builder = new TableBuilder({});
    const sender = new TableSender();
    const views = apps(50, () => 2);
    const first = wire(sender.next(builder.build(views, 1)));
    expect(first.type).toBe('table');
    let { worker } = receive(undefined, first);

    // The state keeps an app's definition object when only its tasks change.
    views[7] = appView(views[7]!.app, [...apps(8, (i) => (i === 7 ? 3 : 2))[7]!.tasks]);
    const primary = builder.build(views, 2);
    const message = wire(sender.next(primary));
    expect(message.type).toBe('table-delta');
    const delta = (message as { delta: TableDelta }).delta;
    expect(delta.routes.set.map((r) => r.id)).toEqual(['/app-7:0']);
    expect(delta.routes.removed).toEqual([]);
    expect(delta.disabled).toBeUndefined();

    const applied = receive(worker, message);
    worker = applied.worker;
    expect(applied.table?.version).toBe(2);
    expect(sameTable(applied.table!, primary)).toBe(true);
    expect(applied.table?.lookupHttp('app-7.com', '/')?.backends.map((b) => b.address)).toEqual(['10.0.7.0:31000', '10.0.7.1:31001', '10.0.7.2:31002']);
    expect(applied.table?.lookupHttp('app-8.com', '/')?.backends).toHaveLength(2);
  });

  it('adds and removes routes by id when apps come and go', () => {
    const builder = new TableBuilder({});
    const sender = new TableSender();
    const views = apps(10, () => 1);
    let { worker } = receive(undefined, wire(sender.next(builder.build(views, 1))));
    const next = [...views.slice(1), ...apps(12, () => 1).slice(10)];
    const primary = builder.build(next, 2);
    const message = wire(sender.next(primary));
    const delta = (message as { delta: TableDelta }).delta;
    expect(delta.routes.removed).toEqual(['/app-0:0']);
    expect(delta.routes.set.map((r) => r.id).sort()).toEqual(['/app-10:0', '/app-11:0']);
    const applied = receive(worker, message);
    worker = applied.worker;
    expect(applied.table?.lookupHttp('app-0.com', '/')).toBeUndefined();
    for (let i = 1; i < 12; i++) expect(applied.table?.lookupHttp(`app-${i}.com`, '/')?.id).toBe(`/app-${i}:0`);
    expect(applied.table?.routes).toHaveLength(11);
  });

  it('refuses a delta that does not follow the table the worker holds', () => {
    const builder = new TableBuilder({});
    const sender = new TableSender();
    const views = apps(3, () => 1);
    const { worker } = receive(undefined, wire(sender.next(builder.build(views, 1))));
    sender.next(builder.build(apps(3, () => 2), 2)); // never reaches the worker
    const skipped = wire(sender.next(builder.build(apps(3, () => 3), 3)));
    expect(receive(worker, skipped).table).toBeUndefined();
    expect(worker.current.version).toBe(1);
  });
});
