import type { Backend, BackendPolicy, BackendStatus, DisabledRoute } from './types.js';

/** One app port's claim on some hosts within a scope (an HTTP path, a TLS listening port). */
export interface HostClaim {
  readonly appId: string;
  readonly portIndex: number;
  /** Sorted, unique. */
  readonly hosts: readonly string[];
  readonly backends: readonly Backend[];
  readonly status: readonly BackendStatus[];
  readonly policy: BackendPolicy;
}

export interface ClaimScope<U extends HostClaim> {
  /** Claims with different scope keys never meet. */
  key(unit: U): string;
  /** The scope in a reason: `at path /`, `on the HTTPS entry point`. */
  where(unit: U): string;
  /** The id of a route whose first claim is this one. */
  id(unit: U): string;
}

export interface ClaimGroup<U extends HostClaim> {
  readonly id: string;
  /** In app, port, scope order; never empty. */
  readonly units: readonly U[];
}

export interface GroupedClaims<U extends HostClaim> {
  readonly groups: ClaimGroup<U>[];
  readonly disabled: DisabledRoute[];
}

/**
 * Claims with the same hosts in one scope become one group sharing their backends (blue/green).
 * Claims that share some hosts but not all in a scope are a conflict: the group whose first app
 * sorts first keeps the hosts, the other is disabled, so the outcome does not depend on order.
 */
export function groupByHosts<U extends HostClaim>(units: readonly U[], scope: ClaimScope<U>): GroupedClaims<U> {
  const byKey = new Map<string, U[]>();
  const sorted = [...units].sort((a, b) => compare(a.appId, b.appId) || a.portIndex - b.portIndex || compare(scope.key(a), scope.key(b)));
  for (const unit of sorted) {
    const hosts = unit.hosts;
    const groupKey = `${scope.key(unit)}\n${hosts.length === 1 ? hosts[0] : hosts.join('\n')}`;
    const group = byKey.get(groupKey);
    if (group === undefined) byKey.set(groupKey, [unit]);
    else group.push(unit);
  }
  const groups: ClaimGroup<U>[] = [];
  const disabled: DisabledRoute[] = [];
  // By scope key, host -> id of the route that has it.
  const claimed = new Map<string, Map<string, string>>();
  for (const units of byKey.values()) {
    const first = units[0]!;
    const key = scope.key(first);
    const id = scope.id(first);
    let inScope = claimed.get(key);
    if (inScope === undefined) claimed.set(key, (inScope = new Map()));
    const taken = first.hosts.find((host) => inScope.has(host));
    if (taken !== undefined) {
      const owner = inScope.get(taken)!;
      for (const unit of units) {
        disabled.push({
          appId: unit.appId,
          portIndex: unit.portIndex,
          reason: `host ${taken} ${scope.where(first)} is already routed to ${owner}, which has other hosts: expected the same hosts as ${owner} (to share its backends) or none of them`,
        });
      }
      continue;
    }
    for (const host of first.hosts) inScope.set(host, id);
    groups.push({ id, units });
  }
  return { groups, disabled };
}

/** The backends and statuses of several claims as one stable list each: app, then task order. */
export function sharedBackends(units: readonly Pick<HostClaim, 'backends' | 'status'>[]): { backends: readonly Backend[]; status: readonly BackendStatus[] } {
  if (units.length === 1) return { backends: units[0]!.backends, status: units[0]!.status };
  return { backends: units.flatMap((u) => u.backends).sort(byTask), status: units.flatMap((u) => u.status).sort(byTask) };
}

export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** App, then task, then address order: how a route lists backends of several apps. */
export function byTask(a: Backend, b: Backend): number {
  return compare(a.appId, b.appId) || compare(a.taskId, b.taskId) || compare(a.address, b.address);
}
