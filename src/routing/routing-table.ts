import { HostIndex } from './host-match.js';
import type { DisabledRoute, HttpRoute, RoutingTable } from './types.js';

class Table implements RoutingTable {
  readonly builtAt = Date.now();
  readonly #index: HostIndex;

  constructor(
    readonly version: number,
    readonly routes: readonly HttpRoute[],
    readonly disabled: readonly DisabledRoute[],
  ) {
    this.#index = new HostIndex(routes);
  }

  lookupHttp(host: string | undefined, path: string): HttpRoute | undefined {
    return this.#index.lookup(host, path);
  }
}

/** An immutable table over these routes (their lists are frozen; only `cursor` moves). */
export function createRoutingTable(version: number, routes: readonly HttpRoute[], disabled: readonly DisabledRoute[]): RoutingTable {
  for (const route of routes) {
    Object.freeze(route.appIds);
    Object.freeze(route.hosts);
    Object.freeze(route.backends);
    Object.freeze(route.status);
  }
  return new Table(version, Object.freeze(routes), Object.freeze(disabled));
}

/** What a holder serves before its first build: version 0, nothing routed. */
export function emptyTable(): RoutingTable {
  return createRoutingTable(0, [], []);
}
