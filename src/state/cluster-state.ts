import { isDeepStrictEqual } from 'node:util';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { HealthJudge } from './health.js';
import type { StateMetrics } from './metrics.js';
import type { AppDef, AppSnapshot, AppView, MarathonChange, TaskDef, TaskView } from './model.js';
import { RemovalGuard } from './removal-guard.js';
import { DEFAULT_RESILIENCE, type ResilienceOptions } from './resilience.js';
import { replacedLost } from './replaced.js';
import { BROKE, CONDITION_STATE, incarnation, LOST, TERMINAL } from './task-states.js';
import { taskVerdict, type TaskMark, type VerdictRules } from './task-verdict.js';

interface AppEntry {
  readonly app: AppDef;
  readonly tasks: Map<string, TaskDef>;
  /** Cached view for the table builder; dropped whenever the entry changes. */
  view?: AppView;
  /** Maintenance reasons of the entry's tasks as last judged (view built or maintenance changed), by instance key. */
  outOfService?: ReadonlyMap<string, string>;
  /** Position of its view in the state's list of views. */
  index?: number;
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
  /** Lost tasks and the removal guard; DEFAULT_RESILIENCE's when absent. */
  readonly resilience?: Pick<ResilienceOptions, 'lostTasks' | 'removalGuard'>;
  readonly metrics?: StateMetrics;
  /** Unix ms; tests inject a clock. */
  readonly now?: () => number;
}

/**
 * How a change took a task out of rotation: `watched` causes (failures, health checks, lost
 * tasks under `remove`) go through the removal guard; `deliberate` ones (the scheduler killing or
 * restarting it) end a hold; undefined leaves a hold as it is.
 */
type Cause = { readonly watched: string } | 'deliberate' | undefined;

/**
 * The cluster as baton knows it: apps and their tasks keyed by instance. Snapshots replace it,
 * events edit it in place without waiting for a re-fetch. Only apps that changed get a new view,
 * and an unchanged app keeps its AppDef object, so the table builder re-reads only what changed.
 *
 * Worst-day rules: a lost task stays routable as a suspect until Marathon says it ended, its
 * replacement runs, or a snapshot no longer lists it; a burst of removals is held back by the
 * removal guard; events are applied newest-first per task (Marathon does not keep their order),
 * and a terminated task never comes back from a late event.
 */
export class ClusterState {
  private apps = new Map<string, AppEntry>();
  /** The last list of views, while no app came or went since; and the entries whose view was dropped since. */
  private viewList: AppView[] | undefined;
  private dropped: AppEntry[] = [];
  /** Instances seen terminated, with the incarnation that ended: a late event must not bring it back. */
  private readonly tombstones = new LRUCache<string, number>({ max: 10_000 });
  /** By instance key, for every task in the model. */
  private readonly marks = new Map<string, TaskMark>();
  /** Instance keys of held tasks. */
  private readonly held = new Set<string>();
  private readonly guard: RemovalGuard;
  private readonly rules: VerdictRules;
  private readonly holdMs: number;
  private readonly now: () => number;
  private holdTimer: NodeJS.Timeout | undefined;
  /** Marathon sends instance_health_changed_event (1.4+): it tells an instance's health across all its checks. */
  private aggregateHealth = false;

  constructor(private readonly opts: ClusterStateOptions) {
    const resilience = opts.resilience ?? DEFAULT_RESILIENCE;
    this.now = opts.now ?? Date.now;
    this.rules = { judge: opts.judge, lostTasks: resilience.lostTasks };
    this.holdMs = resilience.removalGuard.holdMs;
    this.guard = new RemovalGuard(resilience.removalGuard, opts.logger, opts.metrics);
  }

  /** A full snapshot: it is the truth, except that unchanged apps keep their objects. */
  replaceAll(snapshots: readonly AppSnapshot[]): void {
    const next = new Map<string, AppEntry>();
    for (const snapshot of snapshots) next.set(snapshot.app.id, this.entryFrom(snapshot));
    for (const [id, old] of this.apps) {
      for (const key of old.tasks.keys()) if (!next.get(id)?.tasks.has(key)) this.dropTask(key);
      if (!next.has(id)) this.guard.forget(id);
    }
    this.apps = next;
    this.appsMoved();
    // Event order starts again: the next events may come from a new leader with its own clock.
    for (const mark of this.marks.values()) {
      mark.stateAt = undefined;
      mark.healthAt = undefined;
    }
    this.changed();
  }

  /** The result of re-fetching some apps; `gone` were not found. */
  upsertApps(fetched: readonly AppSnapshot[], gone: readonly string[]): void {
    for (const snapshot of fetched) {
      const old = this.apps.get(snapshot.app.id);
      const entry = this.entryFrom(snapshot);
      for (const key of old?.tasks.keys() ?? []) if (!entry.tasks.has(key)) this.dropTask(key);
      this.apps.set(snapshot.app.id, entry);
      this.appsMoved();
    }
    for (const id of gone) this.removeApp(id);
    this.changed();
  }

  apply(changes: readonly MarathonChange[]): void {
    let changed = false;
    for (const change of changes) changed = this.applyOne(change) || changed;
    if (changed) this.changed();
  }

  /**
   * Every app's view, in app order. Read-only: while no app comes or goes, the next call copies
   * this list and replaces only the views that changed (a task event costs one view, not 10,000).
   */
  views(): readonly AppView[] {
    let list = this.viewList;
    if (list === undefined) {
      list = [];
      for (const entry of this.apps.values()) {
        entry.index = list.length;
        list.push((entry.view ??= this.viewOf(entry)));
      }
    } else if (this.dropped.length > 0) {
      // A new list: a caller may hold the last one.
      list = list.slice();
      for (const entry of this.dropped) list[entry.index!] = entry.view ??= this.viewOf(entry);
    }
    this.viewList = list;
    this.dropped = [];
    return list;
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
        this.dropView(entry);
        entry.outOfService = outOfService.size === 0 ? undefined : outOfService;
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

  /** Stops the timer that ends holds. */
  close(): void {
    clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
  }

  /** The entry's view is out of date. */
  private dropView(entry: AppEntry): void {
    entry.view = undefined;
    if (this.viewList !== undefined) this.dropped.push(entry);
  }

  /** Apps came, went or were replaced: the next list of views is made afresh. */
  private appsMoved(): void {
    this.viewList = undefined;
    this.dropped = [];
  }

  private changed(): void {
    this.armHoldTimer();
    this.opts.metrics?.heldTasks.set(this.held.size);
    this.opts.onChange();
  }

  private viewOf(entry: AppEntry): AppView {
    const rules = this.opts.maintenance;
    const outOfService = new Map<string, string>();
    const tasks = [...entry.tasks.values()].map((task): TaskView => {
      const reason = rules?.reasonFor(task);
      if (reason !== undefined) outOfService.set(task.instanceKey, reason);
      return taskVerdict(this.rules, entry.app, task, this.marks.get(task.instanceKey), reason);
    });
    // Most apps have no task in maintenance: no empty map kept for each.
    entry.outOfService = outOfService.size === 0 ? undefined : outOfService;
    return { app: entry.app, tasks: replacedLost(tasks, this.marks) };
  }

  /** The task's view now; `withHold: false` judges it as if the guard held nothing. */
  private verdict(entry: AppEntry, task: TaskDef, withHold = true): TaskView {
    const mark = this.marks.get(task.instanceKey);
    return taskVerdict(this.rules, entry.app, task, withHold || mark === undefined ? mark : { ...mark, held: undefined }, this.opts.maintenance?.reasonFor(task));
  }

  private routableCount(entry: AppEntry): number {
    let n = 0;
    for (const task of entry.tasks.values()) if (this.verdict(entry, task).routable) n++;
    return n;
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
    const entry = old && old.app === app && isDeepStrictEqual(old.tasks, tasks) ? old : { app, tasks };
    for (const task of tasks.values()) {
      const mark = this.track(app.id, task, undefined);
      // A held task Marathon now lists as routable has recovered.
      if (mark.held !== undefined && this.verdict(entry, task, false).routable) {
        this.release(task.instanceKey, mark);
        this.dropView(entry);
      }
    }
    return entry;
  }

  /** The task's mark, created on first sight; its lost state follows the task's. */
  private track(appId: string, task: TaskDef, at: number | undefined): TaskMark {
    let mark = this.marks.get(task.instanceKey);
    if (mark === undefined) {
      // Every field in the literal: fields added later would each task get a second, out-of-object store.
      mark = { appId, seenAt: this.now(), lostSince: undefined, inactiveAt: undefined, held: undefined, stateAt: undefined, healthAt: undefined };
      this.marks.set(task.instanceKey, mark);
    }
    if (LOST.has(task.state)) {
      mark.lostSince ??= at ?? this.now();
    } else {
      mark.lostSince = undefined;
      mark.inactiveAt = undefined;
    }
    return mark;
  }

  private applyOne(change: MarathonChange): boolean {
    switch (change.type) {
      case 'task-status':
        return this.setState(change.appId, change.instanceKey, change.state, change.at, change, false);
      case 'instance-condition': {
        const state = CONDITION_STATE[change.condition];
        if (state === undefined) return false;
        return this.setState(change.appId, change.instanceKey, state, change.at, undefined, change.condition === 'UnreachableInactive');
      }
      case 'health-check': {
        if (!change.alive) return this.setHealth(change.appId, change.instanceKey, [false], change.at);
        const entry = this.apps.get(change.appId);
        if (entry && entry.app.healthChecks > 1) {
          // One check passing says nothing about the others: Marathon's aggregated instance
          // health event will tell, or, from a Marathon too old to send it, a re-fetch.
          if (!this.aggregateHealth) this.opts.onRefetch([change.appId]);
          return false;
        }
        return this.setHealth(change.appId, change.instanceKey, [true], change.at);
      }
      case 'instance-health': {
        this.aggregateHealth = true;
        const entry = this.apps.get(change.appId);
        const checks = Math.max(1, entry?.app.healthChecks ?? 1);
        const healthResults = change.healthy === null ? [] : change.healthy ? new Array<boolean>(checks).fill(true) : [false];
        return this.setHealth(change.appId, change.instanceKey, healthResults, change.at);
      }
      case 'unhealthy-kill':
        return this.setState(change.appId, change.instanceKey, 'TASK_KILLING', undefined, undefined, false);
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
    at: number | undefined,
    event: Extract<MarathonChange, { type: 'task-status' }> | undefined,
    inactive: boolean,
  ): boolean {
    const entry = this.apps.get(appId);
    if (!entry) {
      // Its app is new to baton: a re-fetch brings the app with this task (gathered with the
      // re-fetch its deployment events asked for).
      if (state === 'TASK_RUNNING') this.opts.onRefetch([appId]);
      return false;
    }
    const existing = entry.tasks.get(key);
    if (event && existing && incarnation(event.taskId) < incarnation(existing.id)) return this.stale('older');
    if (TERMINAL.has(state)) return this.terminate(entry, key, existing, state, event?.taskId);
    if (this.tombstoned(key, event?.taskId)) return this.stale('tombstone');
    if (!existing) return this.addTask(entry, key, state, at, event);
    const mark = this.marks.get(key)!;
    if (at !== undefined && mark.stateAt !== undefined && at < mark.stateAt) return this.stale('older');
    if (at !== undefined) mark.stateAt = at;
    const wasRoutable = this.verdict(entry, existing).routable;
    const wasInactive = mark.inactiveAt;
    if (inactive && LOST.has(state)) mark.inactiveAt ??= this.now();
    let changed = mark.inactiveAt !== wasInactive;
    if (existing.state !== state || event) {
      changed =
        this.editTask(entry, existing, {
          state,
          ...(event && {
            id: event.taskId,
            host: event.host ?? existing.host,
            ports: event.ports.length > 0 ? event.ports : existing.ports,
            ipAddresses: event.ipAddresses.length > 0 ? event.ipAddresses : existing.ipAddresses,
          }),
        }) || changed;
    }
    if (!changed) return false;
    this.dropView(entry);
    const task = entry.tasks.get(key)!;
    this.track(appId, task, at);
    const lostCause: Cause = this.rules.lostTasks === 'remove' ? { watched: state } : undefined;
    this.afterChange(entry, task, mark, wasRoutable, LOST.has(state) ? lostCause : state === 'TASK_RUNNING' ? undefined : 'deliberate');
    return true;
  }

  private addTask(entry: AppEntry, key: string, state: string, at: number | undefined, event: Extract<MarathonChange, { type: 'task-status' }> | undefined): boolean {
    if (!event) return false; // an instance event alone carries no address
    if (entry.app.readinessChecks > 0 || LOST.has(state)) {
      // Only a fetch tells whether a new task of such an app passed its readiness check, or
      // what Marathon knows of a task baton first hears of as lost.
      this.opts.onRefetch([entry.app.id]);
      return false;
    }
    const task: TaskDef = {
      id: event.taskId,
      instanceKey: key,
      appId: entry.app.id,
      host: event.host ?? '',
      ports: event.ports,
      ipAddresses: event.ipAddresses,
      state,
      healthResults: [],
      ...(event.version !== undefined && { version: event.version }),
    };
    entry.tasks.set(key, task);
    const mark = this.track(entry.app.id, task, at);
    if (at !== undefined) mark.stateAt = at;
    this.dropView(entry);
    return true;
  }

  /** A terminal state: the task leaves, unless it broke as part of a burst the guard holds back. */
  private terminate(entry: AppEntry, key: string, existing: TaskDef | undefined, state: string, taskId: string | undefined): boolean {
    const ended = taskId !== undefined ? incarnation(taskId) : existing ? incarnation(existing.id) : 0;
    this.tombstones.set(key, Math.max(this.tombstones.get(key) ?? 0, ended));
    if (!existing) {
      this.opts.judge.forget(key);
      return false;
    }
    const mark = this.marks.get(key)!;
    if (BROKE.has(state) && this.verdict(entry, existing).routable) {
      const hold = mark.held !== undefined || !this.guard.admit(entry.app.id, state, this.now(), () => this.routableCount(entry));
      if (hold) {
        this.editTask(entry, existing, { state });
        this.hold(entry, key, mark, state);
        return true;
      }
    }
    entry.tasks.delete(key);
    this.dropTask(key);
    this.dropView(entry);
    return true;
  }

  /** A late event of a terminated task, unless it names a newer incarnation (a resident task relaunched). */
  private tombstoned(key: string, taskId: string | undefined): boolean {
    const ended = this.tombstones.get(key);
    if (ended === undefined) return false;
    if (taskId !== undefined && incarnation(taskId) > ended) {
      this.tombstones.delete(key);
      return false;
    }
    return true;
  }

  private setHealth(appId: string, key: string, healthResults: boolean[], at: number | undefined): boolean {
    const entry = this.apps.get(appId);
    const task = entry?.tasks.get(key);
    if (!entry || !task || TERMINAL.has(task.state)) return false;
    const mark = this.marks.get(key)!;
    if (at !== undefined && mark.healthAt !== undefined && at < mark.healthAt) return this.stale('older');
    if (at !== undefined) mark.healthAt = at;
    const wasRoutable = this.verdict(entry, task).routable;
    if (!this.editTask(entry, task, { healthResults })) return false;
    const failing = healthResults.length > 0 && !healthResults.every(Boolean);
    this.afterChange(entry, entry.tasks.get(key)!, mark, wasRoutable, failing ? { watched: 'failing health checks' } : undefined);
    return true;
  }

  /** After a task changed: a hold ends when it is routable again or the scheduler took over; a watched removal may start one. */
  private afterChange(entry: AppEntry, task: TaskDef, mark: TaskMark, wasRoutable: boolean, cause: Cause): void {
    if (mark.held !== undefined) {
      if (cause === 'deliberate' || this.verdict(entry, task, false).routable) this.release(task.instanceKey, mark);
      return;
    }
    if (cause === undefined || cause === 'deliberate' || !wasRoutable || this.verdict(entry, task).routable) return;
    // The task already left: the app had one routable task more before it.
    if (!this.guard.admit(entry.app.id, cause.watched, this.now(), () => this.routableCount(entry) + 1)) this.hold(entry, task.instanceKey, mark, cause.watched);
  }

  private hold(entry: AppEntry, key: string, mark: TaskMark, reason: string): void {
    const now = this.now();
    mark.held = { reason, since: mark.held?.since ?? now, until: mark.held?.until ?? now + this.holdMs };
    this.held.add(key);
    this.dropView(entry);
  }

  private release(key: string, mark: TaskMark): void {
    mark.held = undefined;
    this.held.delete(key);
  }

  /** One timer, for the earliest hold to end. */
  private armHoldTimer(): void {
    clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    let earliest = Infinity;
    for (const key of this.held) earliest = Math.min(earliest, this.marks.get(key)?.held?.until ?? Infinity);
    if (earliest === Infinity) return;
    this.holdTimer = setTimeout(() => this.endHolds(), Math.max(0, earliest - this.now()));
    this.holdTimer.unref();
  }

  /** Holds past their limit end: the removals they held back are applied. */
  private endHolds(): void {
    this.holdTimer = undefined;
    const now = this.now();
    const apps = new Set<string>();
    for (const key of [...this.held]) {
      const mark = this.marks.get(key);
      if (mark?.held === undefined || mark.held.until > now) continue;
      this.release(key, mark);
      const entry = this.apps.get(mark.appId);
      if (entry === undefined) continue;
      apps.add(mark.appId);
      this.dropView(entry);
      const task = entry.tasks.get(key);
      if (task !== undefined && TERMINAL.has(task.state)) {
        entry.tasks.delete(key);
        this.dropTask(key);
      }
    }
    if (apps.size > 0) this.opts.logger.warn({ apps: [...apps].slice(0, 20), count: apps.size, holdMs: this.holdMs }, 'removal guard: holds ended; the removals they held back are applied');
    this.changed();
  }

  private stale(reason: 'older' | 'tombstone'): false {
    this.opts.metrics?.staleEvents.inc({ reason });
    return false;
  }

  private editTask(entry: AppEntry, task: TaskDef, patch: Partial<TaskDef>): boolean {
    const next = { ...task, ...patch };
    if (isDeepStrictEqual(next, task)) return false;
    this.opts.judge.observe(next);
    entry.tasks.set(task.instanceKey, next);
    this.dropView(entry);
    return true;
  }

  /** The task left the model: what was kept about it goes too. */
  private dropTask(key: string): void {
    this.marks.delete(key);
    this.held.delete(key);
    this.opts.judge.forget(key);
  }

  private removeApp(appId: string): boolean {
    const entry = this.apps.get(appId);
    if (!entry) return false;
    for (const key of entry.tasks.keys()) this.dropTask(key);
    this.apps.delete(appId);
    this.appsMoved();
    this.guard.forget(appId);
    return true;
  }
}
