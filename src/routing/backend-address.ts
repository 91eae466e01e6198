import type { AppDef, TaskDef, TaskView } from '../state/model.js';
import { backendId } from './backend-id.js';
import { compact } from './lists.js';
import type { AppWeight } from './labels/balance.js';
import type { Backend, BackendStatus } from './types.js';

export type BackendAddress =
  | { readonly host: string; readonly port: number; readonly address: string; readonly why?: undefined }
  | { readonly why: string };

/**
 * Where to dial a task for app port n: IP-per-task apps at the task's first IP and the
 * container port, the others at the agent's host and the task's host port.
 * `host` is bare (IPv6 without brackets); `address` brackets IPv6 (`[fd00::1]:8080`).
 */
export function backendAddress(app: AppDef, task: TaskDef, portIndex: number): BackendAddress {
  let host: string | undefined;
  let port: number | undefined;
  if (app.ipPerTask) {
    host = task.ipAddresses[0];
    port = app.ports[portIndex]?.containerPort;
    if (!host) return { why: 'task has no IP address' };
    if (!validPort(port)) return { why: `app port ${portIndex} has no container port` };
  } else {
    host = task.host;
    port = task.ports[portIndex];
    if (!host) return { why: 'task has no host' };
    if (!validPort(port)) return { why: `task has no host port ${portIndex}` };
  }
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return { host, port, address };
}

/** A task panic routing may add to its route: the backend it would be, and its status entry. */
export interface Reserve {
  readonly status: BackendStatus;
  readonly backend: Backend;
}

export interface TaskBackends {
  readonly backends: readonly Backend[];
  readonly status: readonly BackendStatus[];
  readonly reserve: readonly Reserve[];
}

/**
 * App port n's backends (routable tasks with an address), every task's status, in task order, and
 * the reserve panic routing may add. Each backend's weight is the app's weight spread over its
 * backends (or, for a per-backend weight, the weight itself), times `suspectWeight` for a suspect;
 * statuses of tasks that get no traffic carry weight 0. A suspect shows health `suspect`.
 */
export function taskBackends(app: AppDef, tasks: readonly TaskView[], portIndex: number, weight: AppWeight, suspectWeight: number): TaskBackends {
  // Plain loops and object literals, no spreads: a full build runs this for every task (50,000 at scale).
  const addresses: BackendAddress[] = new Array(tasks.length);
  let routable = 0;
  for (let i = 0; i < tasks.length; i++) {
    const view = tasks[i]!;
    const at = backendAddress(app, view.task, portIndex);
    addresses[i] = at;
    if (view.routable && at.why === undefined) routable++;
  }
  const backendWeight = weight.perBackend ? weight.value : weight.value / Math.max(routable, 1);
  const appId = app.id;
  const backends: Backend[] = [];
  const status: BackendStatus[] = [];
  const reserve: Reserve[] = [];
  for (let i = 0; i < tasks.length; i++) {
    const view = tasks[i]!;
    const taskId = view.task.id;
    const at = addresses[i]!;
    if (at.why !== undefined) {
      const why = view.why === undefined ? at.why : `${view.why}; ${at.why}`;
      status.push({ address: '', host: '', port: 0, taskId, appId, id: backendId(taskId, 0), weight: 0, health: view.health, routable: false, why });
      continue;
    }
    const { address, host, port } = at;
    const id = backendId(taskId, port);
    const backend: Backend = { address, host, port, taskId, appId, id, weight: backendWeight };
    if (view.routable) {
      const suspect = view.suspect !== undefined;
      const routedWeight = suspect ? backendWeight * suspectWeight : backendWeight;
      backends.push(suspect ? { address, host, port, taskId, appId, id, weight: routedWeight } : backend);
      const health = suspect ? 'suspect' : view.health;
      status.push(
        view.why === undefined
          ? { address, host, port, taskId, appId, id, weight: routedWeight, health, routable: true }
          : { address, host, port, taskId, appId, id, weight: routedWeight, health, routable: true, why: view.why },
      );
    } else {
      const entry: BackendStatus = { address, host, port, taskId, appId, id, weight: 0, health: view.health, routable: false, why: view.why ?? 'not routable' };
      status.push(entry);
      if (view.panicRoutable) reserve.push({ status: entry, backend });
    }
  }
  return { backends: compact(backends), status: compact(status), reserve: compact(reserve) };
}

function validPort(port: number | undefined): port is number {
  return port !== undefined && Number.isInteger(port) && port > 0 && port < 65536;
}
