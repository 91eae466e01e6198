import type { z } from 'zod';
import type { AppDef, AppPort, AppSnapshot, TaskDef } from '../state/model.js';
import { instanceKey } from '../state/ids.js';
import { absoluteAppId, isRecord } from './json.js';
import { appSchema, type MarathonApp, type MarathonTask } from './schemas.js';

/**
 * Turns `GET /v2/apps?embed=apps.tasks&embed=apps.readiness` and `GET /v2/apps/{id}` bodies into
 * AppSnapshots. Each app is validated on its own: one malformed app is rejected with a reason
 * naming the field, the others are kept.
 */

export interface RejectedApp {
  readonly appId?: string;
  readonly reason: string;
}

export interface ParsedApps {
  readonly apps: AppSnapshot[];
  readonly rejected: RejectedApp[];
}

export type ParsedApp = { readonly ok: true; readonly app: AppSnapshot } | { readonly ok: false; readonly rejected: RejectedApp };

export function parseApps(json: unknown): ParsedApps {
  if (!isRecord(json) || !Array.isArray(json.apps)) {
    throw new Error('Marathon apps body is not {"apps": [...]}');
  }
  const apps: AppSnapshot[] = [];
  const rejected: RejectedApp[] = [];
  for (const raw of json.apps) {
    const parsed = parseOne(raw);
    if (parsed.ok) apps.push(parsed.app);
    else rejected.push(parsed.rejected);
  }
  return { apps, rejected };
}

export function parseApp(json: unknown): ParsedApp {
  if (!isRecord(json) || !isRecord(json.app)) {
    throw new Error('Marathon app body is not {"app": {...}}');
  }
  return parseOne(json.app);
}

function parseOne(raw: unknown): ParsedApp {
  const result = appSchema.safeParse(raw);
  if (result.success) return { ok: true, app: toSnapshot(result.data) };
  const appId = isRecord(raw) && typeof raw.id === 'string' ? absoluteAppId(raw.id) : undefined;
  const reason = describe(result.error);
  return { ok: false, rejected: appId === undefined ? { reason } : { appId, reason } };
}

function describe(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid app';
  const path = issue.path.map(String).join('.');
  return `${path || '(app)'}: ${issue.message}`;
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
