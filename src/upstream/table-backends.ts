import type { RouteReplacements } from '../routing/routing-table.js';
import type { Backend, BackendPolicy, RoutingTable } from '../routing/types.js';

type RouteKind = 'routes' | 'portRoutes' | 'tlsRoutes';

/** Table order: HTTP, then port, then TLS routes (the order `backendPolicies` reads). */
const KINDS: readonly RouteKind[] = ['routes', 'portRoutes', 'tlsRoutes'];

interface Listed {
  readonly backends: readonly Backend[];
  readonly policy: BackendPolicy;
}

/**
 * The backend addresses of the live table, kept up to date swap by swap: for each address, the
 * policy and app id of the first route listing it (as `backendPolicies`), and how many times the
 * table lists it. `rebuild` reads a whole table; `follow` reads only the routes a derived table
 * replaced, so a task event at 50,000 backends costs the backends of the routes it touched.
 *
 * The maps are updated in place: who holds them (the registry) sees the current table.
 */
export class TableBackends {
  /** Address -> policy of the first route listing it. */
  policies = new Map<string, BackendPolicy>();
  /** Address -> app id of that backend in the first route listing it. */
  apps = new Map<string, string>();
  /** Address -> times the table lists it (over every route). */
  private counts = new Map<string, number>();

  /** Reads the whole of `table`; the maps are new ones. */
  rebuild(table: RoutingTable): void {
    const policies = new Map<string, BackendPolicy>();
    const apps = new Map<string, string>();
    const counts = new Map<string, number>();
    for (const kind of KINDS) {
      for (const route of table[kind]) {
        for (const backend of route.backends) {
          const count = counts.get(backend.address);
          if (count === undefined) {
            policies.set(backend.address, route.policy);
            apps.set(backend.address, backend.appId);
          }
          counts.set(backend.address, (count ?? 0) + 1);
        }
      }
    }
    this.policies = policies;
    this.apps = apps;
    this.counts = counts;
  }

  /**
   * `after` is `before` with the routes of `replaced` replaced (see `replacedSince`); the maps
   * describe `before`. Updates them to describe `after` and returns the addresses whose entry may
   * have changed (listed by a replaced route, old or new): an address no longer in `policies` left.
   *
   * Returns undefined when such an address is also listed by a route that was not replaced (which
   * route lists it first would take the whole table to tell): the maps are then stale, call `rebuild`.
   */
  follow(before: RoutingTable, replaced: RouteReplacements): Set<string> | undefined {
    const touched = new Set<string>();
    /** Times the new replaced routes list each touched address. */
    const inNew = new Map<string, number>();
    const counts = this.counts;
    for (const kind of KINDS) {
      const map = replaced[kind];
      if (map === undefined) continue;
      const old: readonly Listed[] = before[kind];
      for (const [i, route] of map as ReadonlyMap<number, Listed>) {
        for (const { address } of old[i]?.backends ?? []) {
          touched.add(address);
          counts.set(address, (counts.get(address) ?? 0) - 1);
        }
        for (const { address } of route.backends) {
          touched.add(address);
          counts.set(address, (counts.get(address) ?? 0) + 1);
          inNew.set(address, (inNew.get(address) ?? 0) + 1);
        }
      }
    }
    for (const address of touched) {
      const count = counts.get(address) ?? 0;
      if (count !== (inNew.get(address) ?? 0)) return undefined;
      if (count === 0) {
        counts.delete(address);
        this.policies.delete(address);
        this.apps.delete(address);
      }
    }
    // Every touched address still listed is listed by new replaced routes only: the first of them in table order names its policy.
    const assigned = new Set<string>();
    for (const kind of KINDS) {
      const map = replaced[kind];
      if (map === undefined) continue;
      for (const i of [...map.keys()].sort((a, b) => a - b)) {
        const route = map.get(i) as Listed;
        for (const backend of route.backends) {
          if (assigned.has(backend.address)) continue;
          assigned.add(backend.address);
          this.policies.set(backend.address, route.policy);
          this.apps.set(backend.address, backend.appId);
        }
      }
    }
    return touched;
  }
}
