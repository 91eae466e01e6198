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
  readonly disabled: DisabledRoute[];
}

/**
 * One route per protocol and port. Two app ports claiming the same one: the first by app id
 * (then port index) keeps it, whatever order they came in; tcp and udp on one number both live.
 */
export function portRoutes(units: readonly PortUnit[]): PortRoutes {
  const owners = new Map<string, PortRoute>();
  const disabled: DisabledRoute[] = [];
  for (const unit of [...units].sort((a, b) => compare(a.appId, b.appId) || a.portIndex - b.portIndex)) {
    const key = `${unit.protocol} ${unit.port}`;
    const owner = owners.get(key);
    if (owner !== undefined) {
      disabled.push({
        appId: unit.appId,
        portIndex: unit.portIndex,
        reason: `${unit.protocol} port ${unit.port} is already routed to ${owner.id}: expected a port no other app claims (BATON_${unit.portIndex}_PORT or another service port)`,
      });
      continue;
    }
    owners.set(key, {
      id: `${unit.appId}:${unit.portIndex}`,
      appIds: [unit.appId],
      protocol: unit.protocol,
      port: unit.port,
      backends: unit.backends,
      status: unit.status,
      policy: unit.policy,
      cursor: 0,
    });
  }
  const routes = [...owners.values()].sort((a, b) => compare(a.protocol, b.protocol) || a.port - b.port);
  return { routes, disabled };
}
