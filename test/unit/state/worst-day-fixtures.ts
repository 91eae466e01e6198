import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { ClusterState, type ClusterStateOptions } from '../../../src/state/cluster-state.js';
import { HealthJudge } from '../../../src/state/health.js';
import { createStateMetrics, type StateMetrics } from '../../../src/state/metrics.js';
import type { AppDef, MarathonChange, TaskDef, TaskView } from '../../../src/state/model.js';
import { DEFAULT_RESILIENCE, type ResilienceOptions } from '../../../src/state/resilience.js';

export function app(id: string, over: Partial<AppDef> = {}): AppDef {
  return { id, version: 'v1', labels: {}, ports: [{ index: 0, servicePort: 10000, protocol: 'tcp', labels: {} }], ipPerTask: false, healthChecks: 0, readinessChecks: 0, deployments: [], ...over };
}

/** Task n of the app: instance key `<app>.instance-<n>`, task id `<key>._app.1`. */
export function task(appId: string, n: number, over: Partial<TaskDef> = {}): TaskDef {
  const key = `${appId.slice(1).replace(/\//g, '_')}.instance-${n}`;
  return { id: `${key}._app.1`, instanceKey: key, appId, host: '127.0.0.1', ports: [31000 + n], ipAddresses: [], state: 'TASK_RUNNING', healthResults: [], ...over };
}

export function status(appId: string, n: number, state: string, at?: number, incarnation = 1): MarathonChange {
  const key = `${appId.slice(1).replace(/\//g, '_')}.instance-${n}`;
  return { type: 'task-status', appId, taskId: `${key}._app.${incarnation}`, instanceKey: key, state, host: '127.0.0.1', ports: [31000 + n], ipAddresses: [], ...(at !== undefined && { at }) };
}

export function condition(appId: string, n: number, condition: string, at?: number): MarathonChange {
  return { type: 'instance-condition', appId, instanceKey: `${appId.slice(1).replace(/\//g, '_')}.instance-${n}`, condition, ...(at !== undefined && { at }) };
}

export function health(appId: string, n: number, healthy: boolean | null, at?: number): MarathonChange {
  return { type: 'instance-health', appId, instanceKey: `${appId.slice(1).replace(/\//g, '_')}.instance-${n}`, healthy, ...(at !== undefined && { at }) };
}

export interface WorldOptions {
  readonly resilience?: Partial<Omit<ResilienceOptions, 'removalGuard'>> & { removalGuard?: Partial<ResilienceOptions['removalGuard']> };
  readonly maintenance?: ClusterStateOptions['maintenance'];
}

/** A ClusterState on a clock the test moves, with its metrics, log lines and callbacks recorded. */
export function world(opts: WorldOptions = {}) {
  const clock = { now: Date.parse('2026-01-01T00:00:00.000Z') };
  const lines: Array<Record<string, unknown> & { msg: string; level: number }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()));
      done();
    },
  });
  const registry = new Registry();
  const metrics: StateMetrics = createStateMetrics(registry);
  let changes = 0;
  const refetched: string[] = [];
  const resilience = {
    ...DEFAULT_RESILIENCE,
    ...opts.resilience,
    removalGuard: { ...DEFAULT_RESILIENCE.removalGuard, ...opts.resilience?.removalGuard },
  };
  const state = new ClusterState({
    judge: new HealthJudge(1000),
    logger: pino({ level: 'debug' }, sink),
    onChange: () => changes++,
    onRefetch: (ids) => refetched.push(...ids),
    resilience,
    metrics,
    now: () => clock.now,
    ...(opts.maintenance !== undefined && { maintenance: opts.maintenance }),
  });
  const views = (appId: string): readonly TaskView[] => state.views().find((v) => v.app.id === appId)?.tasks ?? [];
  const routable = (appId: string) => views(appId).filter((t) => t.routable).map((t) => t.task.instanceKey.replace(/^.*\.instance-/, ''));
  const value = async (name: string, labels: Record<string, string> = {}) =>
    (await registry.getSingleMetric(name)?.get())?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value ?? 0;
  return { state, clock, lines, metrics, value, views, routable, refetched, changes: () => changes };
}
