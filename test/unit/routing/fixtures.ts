import type { AppDef, AppPort, AppView, TaskView } from '../../../src/state/model.js';

export interface AppOptions {
  labels?: Record<string, string>;
  /** Port count (tcp ports 10000 + n, container ports 8080 + n) or explicit ports. */
  ports?: number | Array<Partial<AppPort>>;
  ipPerTask?: boolean;
}

export function appDef(id: string, opts: AppOptions = {}): AppDef {
  const ports = typeof opts.ports === 'number' || opts.ports === undefined
    ? Array.from({ length: opts.ports ?? 1 }, () => ({}))
    : opts.ports;
  return {
    id,
    version: '2024-01-01T00:00:00.000Z',
    labels: opts.labels ?? {},
    ports: ports.map((p, index) => ({ index, protocol: 'tcp', servicePort: 10000 + index, containerPort: 8080 + index, labels: {}, ...p })),
    ipPerTask: opts.ipPerTask ?? false,
    healthChecks: 0,
    readinessChecks: 0,
    deployments: [],
  };
}

export interface TaskOptions {
  host?: string;
  ports?: number[];
  ipAddresses?: string[];
  routable?: boolean;
  why?: string;
  health?: TaskView['health'];
}

export function taskView(appId: string, id: string, opts: TaskOptions = {}): TaskView {
  const routable = opts.routable ?? true;
  return {
    task: {
      id,
      instanceKey: id,
      appId,
      host: opts.host ?? 'agent-1.local',
      ports: opts.ports ?? [31000],
      ipAddresses: opts.ipAddresses ?? ['10.0.0.1'],
      state: 'TASK_RUNNING',
      healthResults: [],
    },
    health: opts.health ?? 'no-checks',
    routable,
    ...(routable ? {} : { why: opts.why ?? 'unhealthy' }),
  };
}

export function appView(app: AppDef, tasks: TaskView[] = []): AppView {
  return { app, tasks };
}

/** What a spec carries when no policy or weight label is set. */
export const DEFAULT_SPEC_POLICY = { policy: { balance: 'roundrobin', sticky: false }, weight: { value: 1, perBackend: false } } as const;
