import { isDeepStrictEqual } from 'node:util';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { HealthJudge } from './health.js';
import type { AppDef, AppSnapshot, AppView, MarathonChange, TaskDef, TaskView } from './model.js';

/** Mesos states after which a task never runs again: it leaves the model. */
const TERMINAL = new Set(['TASK_KILLED', 'TASK_FAILED', 'TASK_FINISHED', 'TASK_ERROR', 'TASK_DROPPED', 'TASK_GONE', 'TASK_GONE_BY_OPERATOR']);

/** `instance_changed_event` conditions as the Mesos task state they stand for. */
const CONDITION_STATE: Readonly<Record<string, string>> = {
  Running: 'TASK_RUNNING',
  Staging: 'TASK_STAGING',
  Starting: 'TASK_STARTING',
  Killing: 'TASK_KILLING',
  Killed: 'TASK_KILLED',
  Failed: 'TASK_FAILED',
  Finished: 'TASK_FINISHED',
  Error: 'TASK_ERROR',
  Unreachable: 'TASK_UNREACHABLE',
  UnreachableInactive: 'TASK_UNREACHABLE',
  Gone: 'TASK_GONE',
  Dropped: 'TASK_DROPPED',
  Unknown: 'TASK_UNKNOWN',
};

interface AppEntry {
  readonly app: AppDef;
  readonly tasks: Map<string, TaskDef>;
  /** Cached view for the table builder; dropped whenever the entry changes. */
  view?: AppView;
  /** Maintenance reasons of the entry's tasks as last judged (view built or maintenance changed), by instance key. */
  outOfService?: ReadonlyMap<string, string>;
}

/** What takes a task out of service for maintenance (see Maintenance). */
export interface MaintenanceRules {
  reasonFor(task: TaskDef): string | undefined;
}

/** A task maintenance keeps out of service, as `GET /maintenance` lists it. */
export interface OutOfServiceTask {
  readonly taskId: string;
  readonly appId: string;
  readonly host: string;
  readonly zone?: string;
  readonly reason: string;
}

export interface ClusterStateOptions {
  readonly judge: HealthJudge;
  readonly logger: Logger;
  /** Called once after each batch of input that changed something. */
  readonly onChange: () => void;
  /** Called with apps whose current state only a re-fetch can tell. */
  readonly onRefetch: (appIds: string[]) => void;
  /** Mesos maintenance and operator marks; a task they name is never routable. */
  readonly maintenance?: MaintenanceRules;
}

/**
 * The cluster as baton knows it: apps and their tasks keyed by instance. Snapshots replace it,
 * events edit it in place without waiting for a re-fetch. Only apps that changed get a new view,
 * and an unchanged app keeps its AppDef object, so the table builder re-reads only what changed.
 */
export class ClusterState {
  private apps = new Map<string, AppEntry>();
  /** Instances seen terminated: a late, out-of-order event must not bring them back. */
  private readonly tombstones = new LRUCache<string, true>({ max: 10_000 });

  constructor(private readonly opts: ClusterStateOptions) {}

  /** A full snapshot: it is the truth, except that unchanged apps keep their objects. */
  replaceAll(snapshots: readonly AppSnapshot[]): void {
    const next = new Map<string, AppEntry>();
    for (const snapshot of snapshots) next.set(snapshot.app.id, this.entryFrom(snapshot));
    for (const [id, old] of this.apps) {
      for (const key of old.tasks.keys()) if (!next.get(id)?.tasks.has(key)) this.opts.judge.forget(key);
    }
    this.apps = next;
    this.opts.onChange();
  }

  /** The result of re-fetching some apps; `gone` were not found. */
  upsertApps(fetched: readonly AppSnapshot[], gone: readonly string[]): void {
    for (const snapshot of fetched) this.apps.set(snapshot.app.id, this.entryFrom(snapshot));
    for (const id of gone) this.removeApp(id);
    this.opts.onChange();
  }

  apply(changes: readonly MarathonChange[]): void {
    let changed = false;
    for (const change of changes) changed = this.applyOne(change) || changed;
    if (changed) this.opts.onChange();
  }

  views(): AppView[] {
    const out: AppView[] = [];
    for (const entry of this.apps.values()) out.push((entry.view ??= this.viewOf(entry)));
    return out;
  }

  /**
   * Maintenance changed: every app with a task whose maintenance reason differs from the one it
   * was last judged with loses its cached view, and one `onChange` follows if any did. A task
   * going out of service also loses its last-known health verdict: when it comes back it is
   * judged on fresh health results, not on what was true before the maintenance.
   */
  rejudge(): void {
    const rules = this.opts.maintenance;
    if (rules === undefined) return;
    let changed = false;
    for (const entry of this.apps.values()) {
      const outOfService = new Map<string, string>();
      let differs = false;
      for (const task of entry.tasks.values()) {
        const reason = rules.reasonFor(task);
        const before = entry.outOfService?.get(task.instanceKey);
        if (reason !== undefined) outOfService.set(task.instanceKey, reason);
        if (reason === before) continue;
        differs = true;
        if (before === undefined) this.opts.judge.forget(task.instanceKey);
      }
      if (differs) {
        entry.view = undefined;
        entry.outOfService = outOfService;
        changed = true;
      }
    }
    if (changed) this.opts.onChange();
  }

  /** Tasks maintenance keeps out of service right now, with the reason. */
  outOfService(): OutOfServiceTask[] {
    const out: OutOfServiceTask[] = [];
    for (const entry of this.apps.values()) {
      entry.view ??= this.viewOf(entry);
      for (const task of entry.tasks.values()) {
        const reason = entry.outOfService?.get(task.instanceKey);
        if (reason === undefined) continue;
        out.push({ taskId: task.id, appId: task.appId, host: task.host, ...(task.zone !== undefined && { zone: task.zone }), reason });
      }
    }
    return out;
  }

  counts(): { apps: number; tasks: number } {
    let tasks = 0;
    for (const entry of this.apps.values()) tasks += entry.tasks.size;
    return { apps: this.apps.size, tasks };
  }

  private viewOf(entry: AppEntry): AppView {
    const rules = this.opts.maintenance;
    const outOfService = new Map<string, string>();
    const tasks = [...entry.tasks.values()].map((task): TaskView => {
      const view = this.opts.judge.judge(entry.app, task);
      const reason = rules?.reasonFor(task);
      if (reason === undefined) return view;
      outOfService.set(task.instanceKey, reason);
      return { task, health: view.health, routable: false, why: reason };
    });
    entry.outOfService = outOfService;
    return { app: entry.app, tasks };
  }

  private entryFrom(snapshot: AppSnapshot): AppEntry {
    const old = this.apps.get(snapshot.app.id);
    const app = old && isDeepStrictEqual(old.app, snapshot.app) ? old.app : snapshot.app;
    const tasks = new Map<string, TaskDef>();
    for (const task of snapshot.tasks) {
      // Two tasks of one instance (a resident task relaunched): the running one counts.
      const seen = tasks.get(task.instanceKey);
      if (!seen || (seen.state !== 'TASK_RUNNING' && task.state === 'TASK_RUNNING')) tasks.set(task.instanceKey, task);
      this.tombstones.delete(task.instanceKey);
      this.opts.judge.observe(task);
    }
    if (old && old.app === app && isDeepStrictEqual(old.tasks, tasks)) return old;
    return { app, tasks };
  }

  private applyOne(change: MarathonChange): boolean {
    switch (change.type) {
      case 'task-status':
        return this.setState(change.appId, change.instanceKey, change.state, change);
      case 'instance-condition': {
        const state = CONDITION_STATE[change.condition];
        if (state === undefined) return false;
        return this.setState(change.appId, change.instanceKey, state, undefined);
      }
      case 'health-check': {
        const entry = this.apps.get(change.appId);
        if (!change.alive) return this.editTask(change.appId, change.instanceKey, { healthResults: [false] });
        // One check passing says nothing about the others: ask Marathon.
        if (entry && entry.app.healthChecks > 1) {
          this.opts.onRefetch([change.appId]);
          return false;
        }
        return this.editTask(change.appId, change.instanceKey, { healthResults: [true] });
      }
      case 'instance-health': {
        const entry = this.apps.get(change.appId);
        const checks = Math.max(1, entry?.app.healthChecks ?? 1);
        const healthResults = change.healthy === null ? [] : change.healthy ? new Array<boolean>(checks).fill(true) : [false];
        return this.editTask(change.appId, change.instanceKey, { healthResults });
      }
      case 'unhealthy-kill':
        return this.setState(change.appId, change.instanceKey, 'TASK_KILLING', undefined);
      case 'app-terminated':
        return this.removeApp(change.appId);
      case 'apps-changed':
        return false;
    }
  }

  private setState(
    appId: string,
    key: string,
    state: string,
    event: Extract<MarathonChange, { type: 'task-status' }> | undefined,
  ): boolean {
    const entry = this.apps.get(appId);
    if (!entry) {
      // Its app is new to baton: a re-fetch brings the app with this task (gathered with the
      // re-fetch its deployment events asked for).
      if (state === 'TASK_RUNNING') this.opts.onRefetch([appId]);
      return false;
    }
    const existing = entry.tasks.get(key);
    if (TERMINAL.has(state)) {
      this.tombstones.set(key, true);
      this.opts.judge.forget(key);
      if (!existing) return false;
      entry.tasks.delete(key);
      entry.view = undefined;
      return true;
    }
    if (this.tombstones.has(key)) {
      this.opts.logger.debug({ appId, instance: key, state }, 'ignored a late event for a terminated task');
      return false;
    }
    if (existing) {
      if (existing.state === state && !event) return false;
      return this.editTask(appId, key, {
        state,
        ...(event && {
          id: event.taskId,
          host: event.host ?? existing.host,
          ports: event.ports.length > 0 ? event.ports : existing.ports,
          ipAddresses: event.ipAddresses.length > 0 ? event.ipAddresses : existing.ipAddresses,
        }),
      });
    }
    if (!event) return false; // an instance event alone carries no address
    if (entry.app.readinessChecks > 0) {
      // Only a fetch tells whether a new task of such an app passed its readiness check.
      this.opts.onRefetch([appId]);
      return false;
    }
    entry.tasks.set(key, {
      id: event.taskId,
      instanceKey: key,
      appId,
      host: event.host ?? '',
      ports: event.ports,
      ipAddresses: event.ipAddresses,
      state,
      healthResults: [],
      ...(event.version !== undefined && { version: event.version }),
    });
    entry.view = undefined;
    return true;
  }

  private editTask(appId: string, key: string, patch: Partial<TaskDef>): boolean {
    const entry = this.apps.get(appId);
    const task = entry?.tasks.get(key);
    if (!entry || !task) return false;
    const next = { ...task, ...patch };
    if (isDeepStrictEqual(next, task)) return false;
    this.opts.judge.observe(next);
    entry.tasks.set(key, next);
    entry.view = undefined;
    return true;
  }

  private removeApp(appId: string): boolean {
    const entry = this.apps.get(appId);
    if (!entry) return false;
    for (const key of entry.tasks.keys()) this.opts.judge.forget(key);
    this.apps.delete(appId);
    return true;
  }
}
