import { isDeepStrictEqual } from 'node:util';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { HealthJudge } from './health.js';
import type { AppDef, AppSnapshot, AppView, MarathonChange, TaskDef } from './model.js';

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
}

export interface ClusterStateOptions {
  readonly judge: HealthJudge;
  readonly logger: Logger;
  /** Called once after each batch of input that changed something. */
  readonly onChange: () => void;
  /** Called with apps whose current state only a re-fetch can tell. */
  readonly onRefetch: (appIds: string[]) => void;
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
    for (const entry of this.apps.values()) {
      entry.view ??= { app: entry.app, tasks: [...entry.tasks.values()].map((t) => this.opts.judge.judge(entry.app, t)) };
      out.push(entry.view);
    }
    return out;
  }

  counts(): { apps: number; tasks: number } {
    let tasks = 0;
    for (const entry of this.apps.values()) tasks += entry.tasks.size;
    return { apps: this.apps.size, tasks };
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
