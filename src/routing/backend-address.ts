import type { AppDef, TaskDef } from '../state/model.js';

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

function validPort(port: number | undefined): port is number {
  return port !== undefined && Number.isInteger(port) && port > 0 && port < 65536;
}
