import type { AppDef, TaskDef, TaskView } from '../state/model.js';
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

/** App port n's backends (routable tasks with an address) and every task's status, in task order. */
export function taskBackends(app: AppDef, tasks: readonly TaskView[], portIndex: number): { backends: Backend[]; status: BackendStatus[] } {
  const backends: Backend[] = [];
  const status: BackendStatus[] = [];
  for (const view of tasks) {
    const taskId = view.task.id;
    const at = backendAddress(app, view.task, portIndex);
    if (at.why !== undefined) {
      const why = view.why === undefined ? at.why : `${view.why}; ${at.why}`;
      status.push({ address: '', host: '', port: 0, taskId, appId: app.id, health: view.health, routable: false, why });
      continue;
    }
    const backend: Backend = { address: at.address, host: at.host, port: at.port, taskId, appId: app.id };
    if (view.routable) {
      backends.push(backend);
      status.push({ ...backend, health: view.health, routable: true });
    } else {
      status.push({ ...backend, health: view.health, routable: false, why: view.why ?? 'not routable' });
    }
  }
  return { backends, status };
}

function validPort(port: number | undefined): port is number {
  return port !== undefined && Number.isInteger(port) && port > 0 && port < 65536;
}
