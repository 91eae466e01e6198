import { HostIndex, HostMap, normalizeHost } from './host-match.js';
import type { DisabledRoute, HttpRoute, PortRoute, RoutingTable, TlsRoute } from './types.js';

/** A table's contents; `createRoutingTable` freezes them. */
export interface TableParts {
  readonly routes: readonly HttpRoute[];
  readonly portRoutes: readonly PortRoute[];
  readonly tlsRoutes: readonly TlsRoute[];
  readonly disabled: readonly DisabledRoute[];
  /** Sorted, unique. */
  readonly certificates: readonly string[];
}

/** The lookup indexes of a table: by position in its route lists, so a derived table can share them. */
class TableIndex {
  readonly http: HostIndex;
  // Two maps rather than one keyed by protocol and port: a lookup builds no key.
  readonly tcp = new Map<number, number>();
  readonly udp = new Map<number, number>();
  readonly tlsEntry = new HostMap<number>();
  readonly tlsOwnPorts = new Map<number, HostMap<number>>();

  constructor(parts: TableParts) {
    this.http = new HostIndex(parts.routes);
    for (const [i, route] of parts.portRoutes.entries()) (route.protocol === 'tcp' ? this.tcp : this.udp).set(route.port, i);
    for (const [i, route] of parts.tlsRoutes.entries()) {
      let hosts = this.tlsEntry;
      if (route.port !== undefined) {
        hosts = this.tlsOwnPorts.get(route.port) ?? new HostMap<number>();
        this.tlsOwnPorts.set(route.port, hosts);
      }
      // The builder leaves one route per host and port; should two meet, the first one stays.
      for (const pattern of route.hosts) if (hosts.get(pattern) === undefined) hosts.set(pattern, i);
    }
  }
}

class Table implements RoutingTable {
  readonly builtAt = Date.now();
  readonly routes: readonly HttpRoute[];
  readonly portRoutes: readonly PortRoute[];
  readonly tlsRoutes: readonly TlsRoute[];
  readonly disabled: readonly DisabledRoute[];
  readonly certificates: readonly string[];
  readonly index: TableIndex;
  /**
   * For a derived table: the table it came from (weakly: a chain of tables must not stay alive)
   * and the routes replaced, so that comparing, counting and sending it costs what changed.
   */
  readonly origin: { readonly base: WeakRef<RoutingTable>; readonly replaced: RouteReplacements } | undefined;

  constructor(
    readonly version: number,
    parts: TableParts,
    index?: TableIndex,
    origin?: Table['origin'],
  ) {
    this.origin = origin;
    this.routes = parts.routes;
    this.portRoutes = parts.portRoutes;
    this.tlsRoutes = parts.tlsRoutes;
    this.disabled = parts.disabled;
    this.certificates = parts.certificates;
    this.index = index ?? new TableIndex(parts);
  }

  lookupHttp(host: string | undefined, path: string): HttpRoute | undefined {
    return this.index.http.lookup(this.routes, host, path);
  }

  lookupPort(protocol: 'tcp' | 'udp', port: number): PortRoute | undefined {
    const i = (protocol === 'tcp' ? this.index.tcp : this.index.udp).get(port);
    return i === undefined ? undefined : this.portRoutes[i];
  }

  lookupTls(serverName: string | undefined, port?: number): TlsRoute | undefined {
    const hosts = port === undefined ? this.index.tlsEntry : this.index.tlsOwnPorts.get(port);
    if (hosts === undefined) return undefined;
    const name = normalizeHost(serverName);
    if (name === undefined) return undefined;
    const i = hosts.match(name);
    return i === undefined ? undefined : this.tlsRoutes[i];
  }
}

function freezeRoute(route: HttpRoute | PortRoute | TlsRoute): void {
  Object.freeze(route.appIds);
  Object.freeze(route.backends);
  Object.freeze(route.status);
  if ('hosts' in route) Object.freeze(route.hosts);
}

function frozen(parts: TableParts): TableParts {
  return {
    routes: Object.freeze(parts.routes),
    portRoutes: Object.freeze(parts.portRoutes),
    tlsRoutes: Object.freeze(parts.tlsRoutes),
    disabled: Object.freeze(parts.disabled),
    certificates: Object.freeze(parts.certificates),
  };
}

/** An immutable table over these parts (their lists are frozen; only the routes' `cursor` moves). */
export function createRoutingTable(version: number, parts: TableParts): RoutingTable {
  for (const route of [...parts.routes, ...parts.portRoutes, ...parts.tlsRoutes]) freezeRoute(route);
  return new Table(version, frozen(parts));
}

/** Routes replaced by position in each list of a table; every other route stays as it was. */
export interface RouteReplacements {
  readonly routes?: ReadonlyMap<number, HttpRoute>;
  readonly portRoutes?: ReadonlyMap<number, PortRoute>;
  readonly tlsRoutes?: ReadonlyMap<number, TlsRoute>;
}

/**
 * A table like `previous` with some routes replaced by routes of the same id, hosts, path and port
 * (only backends, statuses and panic differ): it shares the previous table's lookup indexes and
 * unchanged route objects, so a task event costs the routes it touched, not the whole table.
 * Throws if a replacement would move a route (another id at that position).
 */
export function deriveRoutingTable(previous: RoutingTable, version: number, replaced: RouteReplacements): RoutingTable {
  const parts: TableParts = {
    routes: patched(previous.routes, replaced.routes),
    portRoutes: patched(previous.portRoutes, replaced.portRoutes),
    tlsRoutes: patched(previous.tlsRoutes, replaced.tlsRoutes),
    disabled: previous.disabled,
    certificates: previous.certificates,
  };
  const origin = { base: new WeakRef(previous), replaced };
  return new Table(version, frozen(parts), previous instanceof Table ? previous.index : undefined, origin);
}

/** The routes replaced, by position, when `after` was derived from `before`; undefined for any other pair. */
export function replacedSince(before: RoutingTable, after: RoutingTable): RouteReplacements | undefined {
  if (!(after instanceof Table) || after.origin?.base.deref() !== before) return undefined;
  return after.origin.replaced;
}

function patched<R extends HttpRoute | PortRoute | TlsRoute>(list: readonly R[], replaced: ReadonlyMap<number, R> | undefined): readonly R[] {
  if (replaced === undefined || replaced.size === 0) return list;
  // Spread, not slice: slice copies a frozen array element by element on a slow path.
  const out = [...list];
  for (const [i, route] of replaced) {
    if (out[i]?.id !== route.id) throw new Error(`route ${route.id} replaces ${out[i]?.id ?? 'nothing'} at position ${i}`);
    freezeRoute(route);
    out[i] = route;
  }
  return out;
}

/** What a holder serves before its first build: version 0, nothing routed. */
export function emptyTable(): RoutingTable {
  return createRoutingTable(0, { routes: [], portRoutes: [], tlsRoutes: [], disabled: [], certificates: [] });
}
