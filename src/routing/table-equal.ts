import { replacedSince } from './routing-table.js';
import type { Backend, BackendPolicy, BackendStatus, BreakerPolicy, DisabledRoute, HttpRoute, PortRoute, RoutePanic, RoutingTable, TimeoutPolicy, TlsRoute } from './types.js';

/**
 * Whether two tables route the same way and report the same: every route of every kind (ids,
 * apps, hosts, paths, ports, options, backends, statuses), disabled reasons and certificates, in
 * order; policies; backend ids and weights; panic routing. Version, build time and cursors do not count.
 * A route object both tables share (a table derived from another) is the same without a look inside.
 */
export function sameTable(a: RoutingTable, b: RoutingTable): boolean {
  const replaced = replacedSince(a, b);
  // Derived from a: everything else is a's own objects.
  if (replaced !== undefined) {
    return sameAt(a.routes, replaced.routes, sameHttpRoute) && sameAt(a.portRoutes, replaced.portRoutes, samePortRoute) && sameAt(a.tlsRoutes, replaced.tlsRoutes, sameTlsRoute);
  }
  return (
    sameList(a.routes, b.routes, sameHttpRoute) &&
    sameList(a.portRoutes, b.portRoutes, samePortRoute) &&
    sameList(a.tlsRoutes, b.tlsRoutes, sameTlsRoute) &&
    sameList(a.disabled, b.disabled, sameDisabled) &&
    sameList(a.certificates, b.certificates, same)
  );
}

export function sameHttpRoute(a: HttpRoute, b: HttpRoute): boolean {
  return (
    a === b ||
    (a.id === b.id &&
    a.path === b.path &&
    a.redirectToHttps === b.redirectToHttps &&
    a.hsts === b.hsts &&
    a.backendProtocol === b.backendProtocol &&
    samePolicy(a.policy, b.policy) &&
    sameList(a.appIds, b.appIds, same) &&
    sameList(a.hosts, b.hosts, same) &&
    sameList(a.backends, b.backends, sameBackend) &&
    sameList(a.status, b.status, sameStatus) &&
    samePanic(a.panic, b.panic))
  );
}

export function samePortRoute(a: PortRoute, b: PortRoute): boolean {
  return (
    a === b ||
    (a.id === b.id &&
    a.protocol === b.protocol &&
    a.port === b.port &&
    samePolicy(a.policy, b.policy) &&
    sameList(a.appIds, b.appIds, same) &&
    sameList(a.backends, b.backends, sameBackend) &&
    sameList(a.status, b.status, sameStatus) &&
    samePanic(a.panic, b.panic))
  );
}

export function sameTlsRoute(a: TlsRoute, b: TlsRoute): boolean {
  return (
    a === b ||
    (a.id === b.id &&
    a.port === b.port &&
    samePolicy(a.policy, b.policy) &&
    sameList(a.appIds, b.appIds, same) &&
    sameList(a.hosts, b.hosts, same) &&
    sameList(a.backends, b.backends, sameBackend) &&
    sameList(a.status, b.status, sameStatus) &&
    samePanic(a.panic, b.panic))
  );
}

function samePanic(a: RoutePanic | undefined, b: RoutePanic | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.healthy === b.healthy && a.total === b.total);
}

function sameBackend(a: Backend, b: Backend): boolean {
  return a.address === b.address && a.host === b.host && a.port === b.port && a.taskId === b.taskId && a.appId === b.appId && a.id === b.id && a.weight === b.weight;
}

function samePolicy(a: BackendPolicy, b: BackendPolicy): boolean {
  return a === b || (a.balance === b.balance && a.sticky === b.sticky && sameBreaker(a.breaker, b.breaker) && sameTimeouts(a.timeouts, b.timeouts));
}

function sameBreaker(a: BreakerPolicy | undefined, b: BreakerPolicy | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return (
    a.errorThresholdPercentage === b.errorThresholdPercentage &&
    a.volumeThreshold === b.volumeThreshold &&
    a.resetTimeoutMs === b.resetTimeoutMs &&
    a.failOn5xx === b.failOn5xx &&
    (a.responseCodeRatio === b.responseCodeRatio ||
      (a.responseCodeRatio !== undefined && b.responseCodeRatio !== undefined && sameList(a.responseCodeRatio, b.responseCodeRatio, same)))
  );
}

function sameTimeouts(a: TimeoutPolicy | undefined, b: TimeoutPolicy | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return a.connectMs === b.connectMs && a.headersMs === b.headersMs && a.bodyMs === b.bodyMs && a.totalMs === b.totalMs && a.tunnelIdleMs === b.tunnelIdleMs;
}

function sameStatus(a: BackendStatus, b: BackendStatus): boolean {
  return sameBackend(a, b) && a.health === b.health && a.routable === b.routable && a.why === b.why;
}

function sameDisabled(a: DisabledRoute, b: DisabledRoute): boolean {
  return a.appId === b.appId && a.portIndex === b.portIndex && a.reason === b.reason;
}

function same<T extends string | number>(a: T, b: T): boolean {
  return a === b;
}

function sameAt<T>(list: readonly T[], replaced: ReadonlyMap<number, T> | undefined, eq: (x: T, y: T) => boolean): boolean {
  for (const [i, item] of replaced ?? []) if (!eq(list[i]!, item)) return false;
  return true;
}

function sameList<T>(a: readonly T[], b: readonly T[], eq: (x: T, y: T) => boolean): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!eq(a[i]!, b[i]!)) return false;
  return true;
}
