/**
 * The zod schema and conversion that read Marathon apps before the hand-written reader
 * (src/marathon/app-reader.ts) replaced them, kept as the oracle the reader is compared with.
 */
import { z } from 'zod';
import type { AppDef, AppPort, AppSnapshot, TaskDef } from '../../../src/state/model.js';
import { instanceKey } from '../../../src/state/ids.js';
import { absoluteAppId } from '../../../src/marathon/json.js';
const labels = z.record(z.string(), z.unknown()).nullish();
const portNumber = z.number().int().min(0).max(65535);

const portDefinition = z.object({
  port: portNumber.nullish(),
  protocol: z.string().nullish(),
  name: z.string().nullish(),
  labels,
});

const portMapping = z.object({
  containerPort: portNumber.nullish(),
  hostPort: portNumber.nullish(),
  servicePort: portNumber.nullish(),
  protocol: z.string().nullish(),
  name: z.string().nullish(),
  labels,
});

/** Pre-1.5 IP-per-task apps: `ipAddress.discovery.ports[{number, name, protocol}]`. */
const discoveryPort = z.object({
  number: portNumber,
  name: z.string().nullish(),
  protocol: z.string().nullish(),
  labels,
});

const container = z.object({
  type: z.string().nullish(),
  portMappings: z.array(portMapping).nullish(),
  docker: z
    .object({
      network: z.string().nullish(),
      portMappings: z.array(portMapping).nullish(),
    })
    .nullish(),
});

const healthCheckResult = z.object({ alive: z.boolean() });

const taskSchema = z.object({
  id: z.string().min(1),
  host: z.string(),
  ports: z.array(portNumber).nullish(),
  ipAddresses: z.array(z.object({ ipAddress: z.string() })).nullish(),
  state: z.string().nullish(),
  version: z.string().nullish(),
  slaveId: z.string().nullish(),
  zone: z.string().nullish(),
  region: z.string().nullish(),
  startedAt: z.string().nullish(),
  // Very old Marathons put `null` in this list for a check without a result yet.
  healthCheckResults: z.array(healthCheckResult.nullable()).nullish(),
});

const appSchema = z.object({
  id: z.string().min(1),
  version: z.string().nullish(),
  labels,
  portDefinitions: z.array(portDefinition).nullish(),
  ports: z.array(portNumber).nullish(),
  container: container.nullish(),
  networks: z.array(z.object({ mode: z.string().nullish() })).nullish(),
  ipAddress: z
    .object({ discovery: z.object({ ports: z.array(discoveryPort).nullish() }).nullish() })
    .nullish(),
  healthChecks: z.array(z.unknown()).nullish(),
  readinessChecks: z.array(z.unknown()).nullish(),
  deployments: z.array(z.object({ id: z.string() })).nullish(),
  readinessCheckResults: z.array(z.object({ taskId: z.string(), ready: z.boolean() })).nullish(),
  tasks: z.array(taskSchema).nullish(),
});

type MarathonApp = z.infer<typeof appSchema>;
type MarathonTask = z.infer<typeof taskSchema>;

/** What the old parser made of one app: the snapshot, or the path of the first issue. */
export function oracle(raw: unknown): { ok: true; app: AppSnapshot } | { ok: false; path: string } {
  const result = appSchema.safeParse(raw);
  if (result.success) return { ok: true, app: toSnapshot(result.data) };
  return { ok: false, path: result.error.issues[0]?.path.map(String).join('.') ?? '' };
}

function toSnapshot(raw: MarathonApp): AppSnapshot {
  const id = absoluteAppId(raw.id);
  const app: AppDef = {
    id,
    version: raw.version ?? '',
    labels: stringLabels(raw.labels),
    ports: appPorts(raw),
    ipPerTask: isIpPerTask(raw),
    healthChecks: raw.healthChecks?.length ?? 0,
    readinessChecks: raw.readinessChecks?.length ?? 0,
    deployments: (raw.deployments ?? []).map((d) => d.id),
  };
  const ready = readiness(raw);
  return { app, tasks: (raw.tasks ?? []).map((t) => toTask(t, id, ready)) };
}

/** Ports in the order labels like `HAPROXY_{n}_*` count them; see MARATHON.md for the versions. */
function appPorts(raw: MarathonApp): AppPort[] {
  const mappings = nonEmpty(raw.container?.portMappings) ?? nonEmpty(raw.container?.docker?.portMappings);
  if (mappings) {
    return mappings.map((m, index) =>
      port(index, m.protocol, m.name, m.labels, m.servicePort ?? undefined, m.containerPort ?? undefined),
    );
  }
  const discovery = raw.ipAddress ? nonEmpty(raw.ipAddress.discovery?.ports) : undefined;
  if (discovery) {
    return discovery.map((d, index) => port(index, d.protocol, d.name, d.labels, undefined, d.number));
  }
  const definitions = nonEmpty(raw.portDefinitions);
  if (definitions) {
    return definitions.map((d, index) => port(index, d.protocol, d.name, d.labels, d.port ?? undefined, undefined));
  }
  return (raw.ports ?? []).map((p, index) => port(index, undefined, undefined, undefined, p, undefined));
}

function port(
  index: number,
  protocol: string | null | undefined,
  name: string | null | undefined,
  labels: Record<string, unknown> | null | undefined,
  servicePort: number | undefined,
  containerPort: number | undefined,
): AppPort {
  return {
    index,
    protocol: protocol || 'tcp',
    labels: stringLabels(labels),
    ...(servicePort !== undefined && { servicePort }),
    ...(containerPort !== undefined && { containerPort }),
    ...(name && { name }),
  };
}

/**
 * 1.5+: a `container` network mode means one IP per task (`container/bridge` and `host` do not).
 * Before 1.5: an `ipAddress` block, unless Docker runs the task on the BRIDGE or HOST network.
 */
function isIpPerTask(raw: MarathonApp): boolean {
  if (raw.networks && raw.networks.length > 0) return raw.networks.some((n) => n.mode === 'container');
  if (!raw.ipAddress) return false;
  const network = raw.container?.docker?.network;
  return network !== 'BRIDGE' && network !== 'HOST';
}

/** taskId -> ready; a task with several readiness checks is ready when all of them say so. */
function readiness(raw: MarathonApp): Map<string, boolean> {
  const ready = new Map<string, boolean>();
  for (const r of raw.readinessCheckResults ?? []) {
    ready.set(r.taskId, (ready.get(r.taskId) ?? true) && r.ready);
  }
  return ready;
}

function toTask(raw: MarathonTask, appId: string, ready: Map<string, boolean>): TaskDef {
  const isReady = ready.get(raw.id);
  return {
    id: raw.id,
    instanceKey: instanceKey(raw.id),
    appId,
    host: raw.host,
    ports: raw.ports ?? [],
    ipAddresses: (raw.ipAddresses ?? []).map((a) => a.ipAddress),
    // Tasks of old Marathons carry no `state`: a started task is running.
    state: raw.state ?? (raw.startedAt ? 'TASK_RUNNING' : 'TASK_STAGING'),
    healthResults: (raw.healthCheckResults ?? []).flatMap((h) => (h ? [h.alive] : [])),
    ...(raw.version && { version: raw.version }),
    ...(raw.slaveId && { slaveId: raw.slaveId }),
    ...(raw.zone && { zone: raw.zone }),
    ...(raw.region && { region: raw.region }),
    ...(raw.startedAt && { startedAt: raw.startedAt }),
    ...(isReady !== undefined && { ready: isReady }),
  };
}

function stringLabels(labels: Record<string, unknown> | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!labels) return out;
  for (const [key, value] of Object.entries(labels)) {
    if (typeof value === 'string') out[key] = value;
  }
  return out;
}

function nonEmpty<T>(list: readonly T[] | null | undefined): readonly T[] | undefined {
  return list && list.length > 0 ? list : undefined;
}
