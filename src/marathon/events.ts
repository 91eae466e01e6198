import { instanceKey } from '../state/ids.js';
import type { MarathonChange } from '../state/model.js';
import { absoluteAppId, isRecord } from './json.js';

/**
 * Marathon event stream payloads -> MarathonChange. This is the hot input of the control plane
 * (thousands of events a second during big deployments), so it is `JSON.parse` plus cheap field
 * checks, and event types that do not matter for routing are not even parsed.
 */

export type ParsedEvent =
  | { readonly ok: true; readonly changes: MarathonChange[] }
  | { readonly ok: false; readonly reason: string };

type Json = Record<string, unknown>;

export function parseEvent(eventType: string, data: string): ParsedEvent {
  if (!RELEVANT.has(eventType)) return { ok: true, changes: [] };
  let body: unknown;
  try {
    body = JSON.parse(data);
  } catch {
    return { ok: false, reason: 'data is not valid JSON' };
  }
  if (!isRecord(body)) return { ok: false, reason: 'data is not a JSON object' };
  switch (eventType) {
    case 'status_update_event':
      return statusUpdate(body);
    case 'instance_changed_event':
      return instanceChanged(body);
    case 'health_status_changed_event':
      return healthStatusChanged(body);
    case 'failed_health_check_event':
      return failedHealthCheck(body);
    case 'instance_health_changed_event':
      return instanceHealthChanged(body);
    case 'unhealthy_instance_kill_event':
    case 'unhealthy_task_kill_event':
      return unhealthyKill(body);
    case 'app_terminated_event':
      return appTerminated(body);
    case 'api_post_event':
      return apiPost(body);
    default:
      return deployment(body, eventType);
  }
}

const DEPLOYMENT_EVENTS = ['deployment_info', 'deployment_step_success', 'deployment_step_failure', 'deployment_success', 'deployment_failed'];

const RELEVANT: ReadonlySet<string> = new Set([
  'status_update_event',
  'instance_changed_event',
  'health_status_changed_event',
  'failed_health_check_event',
  'instance_health_changed_event',
  'unhealthy_instance_kill_event',
  'unhealthy_task_kill_event',
  'app_terminated_event',
  'api_post_event',
  ...DEPLOYMENT_EVENTS,
]);

/** Every event type Marathon 1.x defines; anything else is counted as `other` to keep metric labels bounded. */
const KNOWN: ReadonlySet<string> = new Set([
  ...RELEVANT,
  'framework_message_event',
  'subscribe_event',
  'unsubscribe_event',
  'event_stream_attached',
  'event_stream_detached',
  'add_health_check_event',
  'remove_health_check_event',
  'group_change_success',
  'group_change_failed',
  'unknown_instance_terminated_event',
  'pod_created_event',
  'pod_updated_event',
  'pod_deleted_event',
  'scheduler_registered_event',
  'scheduler_reregistered_event',
  'scheduler_disconnected_event',
]);

/** The `type` label value for metrics.marathonEvents. */
export function eventTypeLabel(eventType: string): string {
  return KNOWN.has(eventType) ? eventType : 'other';
}

function statusUpdate(e: Json): ParsedEvent {
  const { appId, taskId, taskStatus, host, version } = e;
  if (typeof appId !== 'string') return expected('appId', 'a string');
  if (typeof taskId !== 'string') return expected('taskId', 'a string');
  if (typeof taskStatus !== 'string') return expected('taskStatus', 'a string');
  const ports = portList(e.ports);
  if (!ports) return expected('ports', 'an array of port numbers');
  const ipAddresses = ipList(e.ipAddresses);
  if (!ipAddresses) return expected('ipAddresses', 'an array');
  return one({
    type: 'task-status',
    appId: absoluteAppId(appId),
    taskId,
    instanceKey: instanceKey(taskId),
    state: taskStatus,
    ports,
    ipAddresses,
    ...(typeof host === 'string' && { host }),
    ...(typeof version === 'string' && { version }),
    ...stamp(e),
  });
}

function instanceChanged(e: Json): ParsedEvent {
  const { runSpecId, instanceId, condition, host } = e;
  if (typeof runSpecId !== 'string') return expected('runSpecId', 'a string');
  if (typeof instanceId !== 'string') return expected('instanceId', 'a string');
  if (typeof condition !== 'string') return expected('condition', 'a string');
  return one({
    type: 'instance-condition',
    appId: absoluteAppId(runSpecId),
    instanceKey: instanceKey(instanceId),
    condition,
    ...(typeof host === 'string' && { host }),
    ...stamp(e),
  });
}

function healthStatusChanged(e: Json): ParsedEvent {
  const { appId, alive } = e;
  // 1.4+ names the instance, older versions the task.
  const id = typeof e.instanceId === 'string' ? e.instanceId : e.taskId;
  if (typeof appId !== 'string') return expected('appId', 'a string');
  if (typeof id !== 'string') return expected('instanceId or taskId', 'a string');
  if (typeof alive !== 'boolean') return expected('alive', 'a boolean');
  return one({ type: 'health-check', appId: absoluteAppId(appId), instanceKey: instanceKey(id), alive, ...stamp(e) });
}

function failedHealthCheck(e: Json): ParsedEvent {
  const { appId, taskId } = e;
  if (typeof appId !== 'string') return expected('appId', 'a string');
  // Since 1.4 `taskId` holds an instance id; instanceKey maps both forms to one key.
  if (typeof taskId !== 'string') return expected('taskId', 'a string');
  return one({ type: 'health-check', appId: absoluteAppId(appId), instanceKey: instanceKey(taskId), alive: false, ...stamp(e) });
}

function instanceHealthChanged(e: Json): ParsedEvent {
  const { runSpecId, instanceId, healthy } = e;
  if (typeof runSpecId !== 'string') return expected('runSpecId', 'a string');
  if (typeof instanceId !== 'string') return expected('instanceId', 'a string');
  if (typeof healthy !== 'boolean' && healthy !== null) return expected('healthy', 'a boolean or null');
  return one({ type: 'instance-health', appId: absoluteAppId(runSpecId), instanceKey: instanceKey(instanceId), healthy, ...stamp(e) });
}

function unhealthyKill(e: Json): ParsedEvent {
  const { appId } = e;
  const id = typeof e.instanceId === 'string' ? e.instanceId : e.taskId;
  if (typeof appId !== 'string') return expected('appId', 'a string');
  if (typeof id !== 'string') return expected('instanceId or taskId', 'a string');
  return one({ type: 'unhealthy-kill', appId: absoluteAppId(appId), instanceKey: instanceKey(id) });
}

function appTerminated(e: Json): ParsedEvent {
  if (typeof e.appId !== 'string') return expected('appId', 'a string');
  return one({ type: 'app-terminated', appId: absoluteAppId(e.appId) });
}

function apiPost(e: Json): ParsedEvent {
  const definition = e.appDefinition;
  if (!isRecord(definition) || typeof definition.id !== 'string') return expected('appDefinition.id', 'a string');
  return one({ type: 'apps-changed', appIds: [absoluteAppId(definition.id)], reason: 'api_post_event' });
}

/** Apps named in `plan.steps[].actions[].app` and `currentStep.actions[].app`. */
function deployment(e: Json, eventType: string): ParsedEvent {
  const plan = e.plan;
  if (!isRecord(plan) || !Array.isArray(plan.steps)) return expected('plan.steps', 'an array');
  const ids = new Set<string>();
  for (const step of plan.steps) collectApps(step, ids);
  collectApps(e.currentStep, ids);
  if (ids.size === 0) return { ok: true, changes: [] };
  return one({ type: 'apps-changed', appIds: [...ids], reason: eventType });
}

function collectApps(step: unknown, into: Set<string>): void {
  if (!isRecord(step)) return;
  // Marathon's docs show `steps: [{action, app}]`; real Marathons write `steps: [{actions: [{action, app}]}]`.
  if (typeof step.app === 'string') into.add(absoluteAppId(step.app));
  if (!Array.isArray(step.actions)) return;
  for (const action of step.actions) {
    if (isRecord(action) && typeof action.app === 'string') into.add(absoluteAppId(action.app));
  }
}

function portList(value: unknown): number[] | undefined {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) return undefined;
  for (const p of value) if (!Number.isInteger(p)) return undefined;
  return value as number[];
}

/** `ipAddresses[{ipAddress, protocol}]` -> the address strings; entries without one are skipped. */
function ipList(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) return undefined;
  const out: string[] = [];
  for (const entry of value) {
    if (isRecord(entry) && typeof entry.ipAddress === 'string') out.push(entry.ipAddress);
  }
  return out;
}

/**
 * The event's `timestamp` as `{ at }` (Unix ms), or nothing when absent or unreadable: Marathon
 * does not guarantee event order, so the state keeps the newest state per task by this time.
 */
function stamp(e: Json): { at?: number } {
  if (typeof e.timestamp !== 'string') return {};
  const at = Date.parse(e.timestamp);
  return Number.isFinite(at) ? { at } : {};
}

function one(change: MarathonChange): ParsedEvent {
  return { ok: true, changes: [change] };
}

function expected(field: string, what: string): ParsedEvent {
  return { ok: false, reason: `${field}: expected ${what}` };
}
