import type { SimAppInput } from './types.js';

/** One port of an app with its service port settled. */
export interface ResolvedPort {
  servicePort: number;
  protocol: 'tcp' | 'udp';
  name?: string;
  labels: Record<string, string>;
  /** bridge/container networking only. */
  containerPort?: number;
}

export interface HealthState {
  alive: boolean;
  consecutiveFailures: number;
  firstSuccess?: string;
  lastSuccess?: string;
  lastFailure?: string;
}

export interface TaskState {
  readonly id: string;
  readonly instanceId: string;
  readonly host: string;
  readonly ports: number[];
  readonly ipAddresses: string[];
  readonly zone?: string;
  readonly region?: string;
  readonly slaveId: string;
  readonly stagedAt: string;
  readonly startedAt: string;
  readonly version: string;
  state: string;
  /** undefined = no health result (grace period, or reset by a leader change). */
  health: HealthState | undefined;
  /** Readiness result; undefined when the app declares no readiness checks. */
  ready: boolean | undefined;
}

/** A light-format deployment plan: `steps[].actions[]`. */
export interface Plan {
  id: string;
  steps: { actions: { action: string; app: string }[] }[];
  version: string;
}

export interface AppState {
  /** The definition as last given, so `updateApp` can merge a patch into it. */
  input: SimAppInput;
  network: 'host' | 'bridge' | 'container';
  ports: ResolvedPort[];
  healthChecks: number;
  readinessChecks: number;
  version: string;
  readonly tasks: Map<string, TaskState>;
  /** A deployment held open by tasks that are not ready yet, and the tasks its readiness checks saw. */
  deployment: { plan: Plan; checked: Set<string> } | undefined;
}

export function nextHealth(previous: HealthState | undefined, alive: boolean, now: string): HealthState {
  if (alive) {
    return {
      alive,
      consecutiveFailures: 0,
      firstSuccess: previous?.firstSuccess ?? now,
      lastSuccess: now,
      lastFailure: previous?.lastFailure,
    };
  }
  return {
    alive,
    consecutiveFailures: (previous?.consecutiveFailures ?? 0) + 1,
    firstSuccess: previous?.firstSuccess,
    lastSuccess: previous?.lastSuccess,
    lastFailure: now,
  };
}

/** Hands out service ports from 10000 up, as Marathon does from its local port range. */
export class ServicePortAllocator {
  private next = 10000;
  private readonly used = new Set<number>();

  take(requested: number | undefined, previous: number | undefined): number {
    const port = requested !== undefined && requested > 0 ? requested : (previous ?? this.fresh());
    this.used.add(port);
    return port;
  }

  private fresh(): number {
    while (this.used.has(this.next)) this.next++;
    return this.next++;
  }
}

/** Settles ports of a definition; an app that is replaced keeps the auto-assigned ports it had. */
export function resolvePorts(
  input: SimAppInput,
  previous: readonly ResolvedPort[] | undefined,
  allocator: ServicePortAllocator,
): ResolvedPort[] {
  const network = input.network ?? 'host';
  const definitions = input.portDefinitions;
  const count =
    network === 'host'
      ? (definitions?.length ?? 1)
      : (input.containerPorts?.length ?? definitions?.length ?? 1);
  const ports: ResolvedPort[] = [];
  for (let i = 0; i < count; i++) {
    const definition = definitions?.[i];
    const port: ResolvedPort = {
      servicePort: allocator.take(definition?.port, previous?.[i]?.servicePort),
      protocol: definition?.protocol ?? 'tcp',
      labels: definition?.labels ?? {},
    };
    if (definition?.name !== undefined) port.name = definition.name;
    if (network !== 'host') port.containerPort = input.containerPorts?.[i] ?? 80 + i;
    ports.push(port);
  }
  return ports;
}

/** `/shop/web` -> `shop_web`, the prefix of its task and instance ids. */
export function safePath(appId: string): string {
  return appId.replace(/^\/+/, '').replaceAll('/', '_');
}

/** Marathon's instance condition for a terminal (or killing) Mesos task state. */
export function conditionOf(taskState: string): string {
  switch (taskState) {
    case 'TASK_STAGING':
      return 'Staging';
    case 'TASK_STARTING':
      return 'Starting';
    case 'TASK_RUNNING':
      return 'Running';
    case 'TASK_KILLING':
      return 'Killing';
    case 'TASK_KILLED':
      return 'Killed';
    case 'TASK_FAILED':
      return 'Failed';
    case 'TASK_FINISHED':
      return 'Finished';
    case 'TASK_ERROR':
      return 'Error';
    case 'TASK_DROPPED':
      return 'Dropped';
    case 'TASK_GONE':
    case 'TASK_GONE_BY_OPERATOR':
      return 'Gone';
    case 'TASK_LOST':
    case 'TASK_UNREACHABLE':
      return 'Unreachable';
    default:
      return 'Unknown';
  }
}
