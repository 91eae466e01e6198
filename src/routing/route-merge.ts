import type { Backend, BackendStatus, DisabledRoute, HttpRoute } from './types.js';

/** One app port at one path, with its backends, before apps sharing a host and path are merged. */
export interface RouteUnit {
  readonly appId: string;
  readonly portIndex: number;
  /** Sorted, unique. */
  readonly hosts: readonly string[];
  readonly path: string;
  /** The app port has several paths, so its route ids carry the path. */
  readonly multiPath: boolean;
  readonly backends: readonly Backend[];
  readonly status: readonly BackendStatus[];
}

export interface MergedRoutes {
  readonly routes: HttpRoute[];
  readonly disabled: DisabledRoute[];
}

/**
 * Units with the same hosts and path become one route sharing their backends (blue/green).
 * Units that share some hosts but not all at a path are a conflict: the route whose first app
 * sorts first keeps the hosts, the other is disabled, so the outcome does not depend on order.
 */
export function mergeRoutes(units: readonly RouteUnit[]): MergedRoutes {
  const groups = new Map<string, RouteUnit[]>();
  for (const unit of [...units].sort(byUnit)) {
    const key = `${unit.path}\n${unit.hosts.join('\n')}`;
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [unit]);
    else group.push(unit);
  }
  const routes: HttpRoute[] = [];
  const disabled: DisabledRoute[] = [];
  const claimed = new Map<string, string>();
  for (const group of groups.values()) {
    const first = group[0]!;
    const id = first.multiPath ? `${first.appId}:${first.portIndex}:${first.path}` : `${first.appId}:${first.portIndex}`;
    const taken = first.hosts.find((host) => claimed.has(`${host}\n${first.path}`));
    if (taken !== undefined) {
      const owner = claimed.get(`${taken}\n${first.path}`)!;
      for (const unit of group) {
        disabled.push({
          appId: unit.appId,
          portIndex: unit.portIndex,
          reason: `host ${taken} at path ${first.path} is already routed to ${owner}, which has other hosts: expected the same hosts as ${owner} (to share its backends) or none of them`,
        });
      }
      continue;
    }
    for (const host of first.hosts) claimed.set(`${host}\n${first.path}`, id);
    routes.push(routeOf(id, group));
  }
  return { routes, disabled };
}

function routeOf(id: string, group: readonly RouteUnit[]): HttpRoute {
  const first = group[0]!;
  if (group.length === 1) {
    return { id, appIds: [first.appId], hosts: first.hosts, path: first.path, backends: first.backends, status: first.status, cursor: 0 };
  }
  return {
    id,
    appIds: [...new Set(group.map((u) => u.appId))],
    hosts: first.hosts,
    path: first.path,
    backends: group.flatMap((u) => u.backends).sort(byTask),
    status: group.flatMap((u) => u.status).sort(byTask),
    cursor: 0,
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function byUnit(a: RouteUnit, b: RouteUnit): number {
  return compare(a.appId, b.appId) || a.portIndex - b.portIndex || compare(a.path, b.path);
}

function byTask(a: Backend, b: Backend): number {
  return compare(a.appId, b.appId) || compare(a.taskId, b.taskId) || compare(a.address, b.address);
}
