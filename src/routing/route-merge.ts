import type { BackendProtocol } from './route-spec.js';
import { groupByHosts, sharedBackends, type HostClaim } from './host-claims.js';
import type { DisabledRoute, HttpRoute } from './types.js';

/** One app port at one path, with its backends, before apps sharing a host and path are merged. */
export interface RouteUnit extends HostClaim {
  readonly path: string;
  /** The app port has several paths, so its route ids carry the path. */
  readonly multiPath: boolean;
  readonly redirectToHttps: boolean;
  readonly hsts: boolean;
  readonly backendProtocol: BackendProtocol;
}

export interface MergedRoutes {
  readonly routes: HttpRoute[];
  /** The units each route is made of, by route position (what a rebuild of its backends reads). */
  readonly members: RouteUnit[][];
  readonly disabled: DisabledRoute[];
}

/**
 * Units with the same hosts and path become one route sharing their backends (blue/green);
 * partial overlaps are conflicts (see `groupByHosts`). A merged route redirects to https or sends
 * HSTS when any of its apps asks; its apps must agree on the backend protocol, since one route
 * speaks one: an app that differs from the first app is disabled. The backend policy is the
 * first app's: refusing a blue/green pair whose labels differ would break the deployment that
 * changes them.
 */
export function mergeRoutes(units: readonly RouteUnit[]): MergedRoutes {
  const { groups, disabled } = groupByHosts(units, {
    key: (u) => u.path,
    where: (u) => `at path ${u.path}`,
    id: (u) => (u.multiPath ? `${u.appId}:${u.portIndex}:${u.path}` : `${u.appId}:${u.portIndex}`),
  });
  const routes: HttpRoute[] = [];
  const members: RouteUnit[][] = [];
  for (const { id, units: group } of groups) {
    const first = group[0]!;
    if (group.length === 1) {
      // Most routes: one app port, nothing to merge (the same fields as below, without the copies).
      routes.push({
        id,
        appIds: [first.appId],
        hosts: first.hosts,
        path: first.path,
        redirectToHttps: first.redirectToHttps,
        hsts: first.hsts,
        backendProtocol: first.backendProtocol,
        policy: first.policy,
        backends: first.backends,
        status: first.status,
        cursor: 0,
      });
      members.push(group as RouteUnit[]);
      continue;
    }
    const agreeing = group.filter((u) => u.backendProtocol === first.backendProtocol);
    for (const unit of group) {
      if (unit.backendProtocol === first.backendProtocol) continue;
      disabled.push({
        appId: unit.appId,
        portIndex: unit.portIndex,
        reason: `backend protocol ${unit.backendProtocol} differs from ${first.backendProtocol} of ${id}, which has the same hosts at path ${first.path}: expected one backend protocol for apps sharing a route`,
      });
    }
    const { backends, status } = sharedBackends(agreeing);
    routes.push({
      id,
      appIds: [...new Set(agreeing.map((u) => u.appId))],
      hosts: first.hosts,
      path: first.path,
      redirectToHttps: agreeing.some((u) => u.redirectToHttps),
      hsts: agreeing.some((u) => u.hsts),
      backendProtocol: first.backendProtocol,
      policy: first.policy,
      backends,
      status,
      cursor: 0,
    });
    members.push(agreeing);
  }
  return { routes, members, disabled };
}
