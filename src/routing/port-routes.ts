import { compare } from './host-claims.js';
import type { Backend, BackendPolicy, BackendStatus, DisabledRoute, PortRoute } from './types.js';

/** One tcp or udp app port with its listening port and backends. */
export interface PortUnit {
  readonly appId: string;
  readonly portIndex: number;
  readonly protocol: 'tcp' | 'udp';
  readonly port: number;
  readonly backends: readonly Backend[];
  readonly status: readonly BackendStatus[];
  readonly policy: BackendPolicy;
}

export interface PortRoutes {
  /** In protocol, then port order. */
  readonly routes: PortRoute[];
  /** The unit of each route, by route position. */
  readonly members: PortUnit[][];
  readonly disabled: DisabledRoute[];
}

/**
 * One route per protocol and port. Two app ports claiming the same one: the first by app id
 * (then port index) keeps it, whatever order they came in; tcp and udp on one number both live.
 */
export function portRoutes(units: readonly PortUnit[]): PortRoutes {
  const owners = new Map<string, { route: PortRoute; unit: PortUnit }>();
  const disabled: DisabledRoute[] = [];
  for (const unit of [...units].sort((a, b) => compare(a.appId, b.appId) || a.portIndex - b.portIndex)) {
    const key = `${unit.protocol} ${unit.port}`;
    const owner = owners.get(key);
    if (owner !== undefined) {
      disabled.push({
        appId: unit.appId,
        portIndex: unit.portIndex,
        reason: `${unit.protocol} port ${unit.port} is already routed to ${owner.route.id}: expected a port no other app claims (BATON_${unit.portIndex}_PORT or another service port)`,
      });
      continue;
    }
    const route: PortRoute = {
      id: `${unit.appId}:${unit.portIndex}`,
      appIds: [unit.appId],
      protocol: unit.protocol,
      port: unit.port,
      backends: unit.backends,
      status: unit.status,
      policy: unit.policy,
      cursor: 0,
    };
    owners.set(key, { route, unit });
  }
  const owned = [...owners.values()].sort((a, b) => compare(a.route.protocol, b.route.protocol) || a.route.port - b.route.port);
  return { routes: owned.map((o) => o.route), members: owned.map((o) => [o.unit]), disabled };
}
