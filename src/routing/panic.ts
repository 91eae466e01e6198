import { byTask } from './host-claims.js';
import type { Backend, BackendStatus, RoutePanic } from './types.js';

interface RouteBackends {
  readonly backends: readonly Backend[];
  readonly status: readonly BackendStatus[];
  readonly panic?: RoutePanic;
}

/**
 * Panic routing, as Envoy does it: when fewer than `threshold` of a route's tasks are healthy
 * (routable, suspects included), the route also uses the tasks its checks keep out (`reserve`:
 * running tasks failing health or readiness checks, by their status entry), so the load spreads
 * over every task not in maintenance and breakers and retries do the filtering, rather than
 * falling on the few healthy ones until they fall over too. A threshold of 0 turns it off.
 * Returns the route itself when not in panic, else a copy that says so.
 */
export function withPanic<R extends RouteBackends>(route: R, reserve: ReadonlyMap<BackendStatus, Backend>, threshold: number): R {
  const healthy = route.backends.length;
  // Even if every other task were spare, the route would not be in panic: most routes, most of the time.
  if (threshold <= 0 || reserve.size === 0 || healthy >= threshold * route.status.length) return route;
  let spare = 0;
  for (const entry of route.status) if (reserve.has(entry)) spare++;
  const total = healthy + spare;
  if (spare === 0 || healthy >= threshold * total) return route;
  const note = `routed in panic: ${healthy} of ${total} tasks healthy, below ${Math.round(threshold * 100)}%`;
  const backends = [...route.backends];
  const status = route.status.map((entry): BackendStatus => {
    const backend = reserve.get(entry);
    if (backend === undefined) return entry;
    backends.push(backend);
    return { ...entry, weight: backend.weight, routable: true, why: `${entry.why}; ${note}` };
  });
  return { ...route, backends: backends.sort(byTask), status, panic: { healthy, total } };
}
