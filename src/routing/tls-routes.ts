import { groupByHosts, sharedBackends, type HostClaim } from './host-claims.js';
import type { DisabledRoute, PortRoute, TlsRoute } from './types.js';

/** One tls passthrough app port: its hosts, its own port if a label names one, its backends. */
export interface TlsUnit extends HostClaim {
  readonly port?: number;
}

export interface TlsRoutes {
  readonly routes: TlsRoute[];
  /** The units each route is made of, by route position. */
  readonly members: TlsUnit[][];
  readonly disabled: DisabledRoute[];
}

/**
 * TLS passthrough routes, per listening port (the HTTPS entry point or their own), merged and
 * conflicting by hosts as HTTP routes are by hosts and path (the first app's policy applies). An own port that a tcp route
 * listens on belongs to the tcp route: both would need the same socket.
 */
export function tlsRoutes(units: readonly TlsUnit[], portRoutes: readonly PortRoute[]): TlsRoutes {
  const tcp = new Map<number, string>();
  for (const route of portRoutes) if (route.protocol === 'tcp') tcp.set(route.port, route.id);
  const disabled: DisabledRoute[] = [];
  const free: TlsUnit[] = [];
  for (const unit of units) {
    const owner = unit.port === undefined ? undefined : tcp.get(unit.port);
    if (owner === undefined) {
      free.push(unit);
      continue;
    }
    disabled.push({
      appId: unit.appId,
      portIndex: unit.portIndex,
      reason: `port ${unit.port} is already routed to tcp route ${owner}, and a tcp route keeps its port: expected another BATON_${unit.portIndex}_PORT, or none to share the HTTPS entry point`,
    });
  }
  const grouped = groupByHosts(free, {
    key: (u) => (u.port === undefined ? '' : String(u.port)),
    where: (u) => (u.port === undefined ? 'on the HTTPS entry point' : `on port ${u.port}`),
    id: (u) => `${u.appId}:${u.portIndex}`,
  });
  disabled.push(...grouped.disabled);
  const routes = grouped.groups.map(({ id, units: group }): TlsRoute => {
    const first = group[0]!;
    return {
      id,
      appIds: [...new Set(group.map((u) => u.appId))],
      hosts: first.hosts,
      ...(first.port !== undefined && { port: first.port }),
      policy: first.policy,
      ...sharedBackends(group),
      cursor: 0,
    };
  });
  return { routes, members: grouped.groups.map((g) => [...g.units]), disabled };
}
