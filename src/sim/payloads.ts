/**
 * Marathon 1.8+ JSON shapes, after the samples built from Marathon's serializers
 * (`rest.v2.apps-embed-tasks-deployments-readiness`, `event.*` in the reference's derived/ folder).
 */
import type { AppState, Plan, TaskState } from './app-state.js';
import { conditionOf } from './app-state.js';

const HEALTH_CHECK = {
  gracePeriodSeconds: 300,
  intervalSeconds: 60,
  maxConsecutiveFailures: 3,
  path: '/health',
  portIndex: 0,
  protocol: 'HTTP',
  ipProtocol: 'IPv4',
  timeoutSeconds: 20,
  delaySeconds: 15,
  ignoreHttp1xx: false,
};

interface Embed {
  tasks: boolean;
  readiness: boolean;
}

function readinessCheckName(index: number): string {
  return index === 0 ? 'readinessCheck' : `readinessCheck${index + 1}`;
}

function networking(app: AppState): Record<string, unknown> {
  if (app.network === 'host') {
    return {
      networks: [{ mode: 'host' }],
      portDefinitions: app.ports.map((p) => ({ port: p.servicePort, protocol: p.protocol, name: p.name, labels: p.labels })),
    };
  }
  const bridge = app.network === 'bridge';
  return {
    container: {
      type: 'DOCKER',
      docker: { image: 'nginx:1.15', forcePullImage: false, privileged: false, parameters: [] },
      volumes: [],
      portMappings: app.ports.map((p) => ({
        containerPort: p.containerPort,
        // IP-per-task mappings publish no host port unless asked to.
        hostPort: bridge ? 0 : undefined,
        labels: p.labels,
        name: p.name,
        protocol: p.protocol,
        servicePort: p.servicePort,
      })),
    },
    networks: [bridge ? { mode: 'container/bridge' } : { mode: 'container', name: 'dcos' }],
  };
}

/** The app definition alone, as `api_post_event.appDefinition` carries it. */
export function appDefinition(app: AppState): Record<string, unknown> {
  const definition: Record<string, unknown> = {
    id: app.input.id,
    cmd: app.network === 'host' ? 'python3 -m http.server $PORT0' : undefined,
    instances: app.tasks.size,
    cpus: 0.1,
    mem: 64,
    disk: 0,
    gpus: 0,
    labels: app.input.labels ?? {},
    ...networking(app),
    requirePorts: false,
    healthChecks: Array.from({ length: app.healthChecks }, () => HEALTH_CHECK),
  };
  if (app.readinessChecks > 0) {
    definition['readinessChecks'] = Array.from({ length: app.readinessChecks }, (_, i) => ({
      name: readinessCheckName(i),
      protocol: 'HTTP',
      path: '/ready',
      portName: app.ports[0]?.name ?? 'http',
      intervalSeconds: 30,
      timeoutSeconds: 10,
      httpStatusCodesForReady: [200],
      preserveLastResponse: false,
    }));
  }
  return {
    ...definition,
    upgradeStrategy: { maximumOverCapacity: 1, minimumHealthCapacity: 1 },
    version: app.version,
    versionInfo: { lastScalingAt: app.version, lastConfigChangeAt: app.version },
    killSelection: 'YOUNGEST_FIRST',
    unreachableStrategy: { inactiveAfterSeconds: 0, expungeAfterSeconds: 0 },
  };
}

/** One result per declared check, or none at all while health is unknown. */
function healthCheckResults(app: AppState, task: TaskState): Record<string, unknown>[] {
  const health = task.health;
  if (health === undefined) return [];
  const result = {
    alive: health.alive,
    consecutiveFailures: health.consecutiveFailures,
    firstSuccess: health.firstSuccess,
    instanceId: task.instanceId,
    lastFailure: health.lastFailure,
    lastFailureCause: health.lastFailure === undefined ? undefined : 'ConnectException: Connection refused',
    lastSuccess: health.lastSuccess,
  };
  return Array.from({ length: app.healthChecks }, () => result);
}

function taskJson(app: AppState, task: TaskState): Record<string, unknown> {
  return {
    appId: app.input.id,
    healthCheckResults: healthCheckResults(app, task),
    host: task.host,
    id: task.id,
    ipAddresses: task.ipAddresses.map(ipAddressJson),
    ports: task.ports,
    servicePorts: app.ports.map((p) => p.servicePort),
    slaveId: task.slaveId,
    state: task.state,
    stagedAt: task.stagedAt,
    startedAt: task.startedAt,
    version: task.version,
    localVolumes: [],
    role: '*',
    region: task.region,
    zone: task.zone,
  };
}

function isHealthy(app: AppState, task: TaskState): boolean {
  return app.healthChecks > 0 && task.health?.alive === true;
}

/** An app as `/v2/apps` shows it: definition, counts, deployments and the embedded parts asked for. */
export function appInfo(app: AppState, embed: Embed): Record<string, unknown> {
  const tasks = [...app.tasks.values()];
  const info: Record<string, unknown> = {
    ...appDefinition(app),
    tasksStaged: 0,
    tasksRunning: tasks.filter((t) => t.state === 'TASK_RUNNING').length,
    tasksHealthy: tasks.filter((t) => isHealthy(app, t)).length,
    tasksUnhealthy: tasks.filter((t) => t.health?.alive === false).length,
    deployments: app.deployment ? [{ id: app.deployment.plan.id }] : [],
  };
  if (embed.readiness) info['readinessCheckResults'] = readinessCheckResults(app, tasks);
  if (embed.tasks) info['tasks'] = tasks.map((t) => taskJson(app, t));
  return info;
}

/** Marathon keeps readiness results only for the tasks a running deployment is checking. */
function readinessCheckResults(app: AppState, tasks: TaskState[]): Record<string, unknown>[] {
  const checked = app.deployment?.checked;
  if (!checked) return [];
  const results: Record<string, unknown>[] = [];
  for (const task of tasks) {
    if (task.ready === undefined || !checked.has(task.id)) continue;
    for (let i = 0; i < app.readinessChecks; i++) {
      results.push({ name: readinessCheckName(i), taskId: task.id, ready: task.ready });
    }
  }
  return results;
}

function ipAddressJson(ip: string): { ipAddress: string; protocol: string } {
  return { ipAddress: ip, protocol: ip.includes(':') ? 'IPv6' : 'IPv4' };
}

// Event bodies below carry no eventType/timestamp: the simulator adds them when publishing.

export function statusUpdateEvent(app: AppState, task: TaskState, taskStatus: string): Record<string, unknown> {
  return {
    slaveId: task.slaveId,
    taskId: task.id,
    taskStatus,
    message: '',
    appId: app.input.id,
    host: task.host,
    ipAddresses: task.ipAddresses.map(ipAddressJson),
    ports: task.ports,
    version: task.version,
  };
}

export function instanceChangedEvent(app: AppState, task: TaskState, taskStatus: string): Record<string, unknown> {
  return {
    instanceId: task.instanceId,
    condition: conditionOf(taskStatus),
    runSpecId: app.input.id,
    agentId: task.slaveId,
    host: task.host,
    runSpecVersion: task.version,
  };
}

export function healthStatusChangedEvent(app: AppState, task: TaskState, alive: boolean): Record<string, unknown> {
  return { appId: app.input.id, instanceId: task.instanceId, version: task.version, alive };
}

export function instanceHealthChangedEvent(app: AppState, task: TaskState, healthy: boolean | null): Record<string, unknown> {
  return { instanceId: task.instanceId, runSpecId: app.input.id, healthy, runSpecVersion: task.version };
}

/** Since 1.4 `taskId` holds the INSTANCE id. */
export function failedHealthCheckEvent(app: AppState, task: TaskState): Record<string, unknown> {
  return { appId: app.input.id, healthCheck: HEALTH_CHECK, taskId: task.instanceId };
}

export function plan(id: string, version: string, actions: { action: string; app: string }[][]): Plan {
  return { id, steps: actions.map((step) => ({ actions: step })), version };
}
