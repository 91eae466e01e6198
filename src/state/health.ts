import { LRUCache } from 'lru-cache';
import type { AppDef, TaskDef, TaskView } from './model.js';

/**
 * Decides whether a task may receive new requests, following Marathon's rules:
 * TASK_RUNNING only; an app with health checks needs every result alive; during a deployment
 * with readiness checks, a task reported not ready gets no traffic.
 *
 * A task with no health results is *unknown*: Marathon resets every result on a leader failover,
 * so treating unknown as dead would empty every route at once. The last definite verdict of a
 * task seen before is kept in a bounded LRU and used instead.
 *
 * A running task kept out by failing health checks (or last known failing) is `panicRoutable`: a
 * route with too few healthy tasks may use it. One never seen healthy is not (it is still
 * starting), nor one its readiness check holds back (a scale-up must not reach unready tasks).
 */
export class HealthJudge {
  private readonly verdicts: LRUCache<string, boolean>;

  constructor(cacheSize: number) {
    this.verdicts = new LRUCache({ max: cacheSize });
  }

  judge(app: AppDef, task: TaskDef): TaskView {
    if (task.state !== 'TASK_RUNNING') return { task, health: 'unknown', routable: false, why: `state ${task.state}` };
    const ready = !(app.readinessChecks > 0 && app.deployments.length > 0 && task.ready === false);
    if (app.healthChecks === 0) {
      return ready ? { task, health: 'no-checks', routable: true } : notReady(task, 'no-checks');
    }
    if (task.healthResults.length > 0) {
      const healthy = task.healthResults.every(Boolean);
      if (!healthy) return { task, health: 'unhealthy', routable: false, why: 'failing health checks', ...(ready && { panicRoutable: true }) };
      return ready ? { task, health: 'healthy', routable: true } : notReady(task, 'healthy');
    }
    const last = this.verdicts.get(task.instanceKey);
    if (last === true) return ready ? { task, health: 'unknown', routable: true } : notReady(task, 'unknown');
    if (last === false) return { task, health: 'unknown', routable: false, why: 'health unknown, last known unhealthy', ...(ready && { panicRoutable: true }) };
    return { task, health: 'unknown', routable: false, why: 'health unknown, never seen healthy' };
  }

  /** Records a task's definite verdict as it enters the model, before any table is built from it. */
  observe(task: TaskDef): void {
    if (task.healthResults.length > 0) this.verdicts.set(task.instanceKey, task.healthResults.every(Boolean));
  }

  /** A task that is gone for good: its verdict is of no further use. */
  forget(instanceKey: string): void {
    this.verdicts.delete(instanceKey);
  }
}

function notReady(task: TaskDef, health: TaskView['health']): TaskView {
  return { task, health, routable: false, why: 'not ready (deployment in progress)' };
}
