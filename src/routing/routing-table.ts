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

class Table implements RoutingTable {
  readonly builtAt = Date.now();
  readonly routes: readonly HttpRoute[];
  readonly portRoutes: readonly PortRoute[];
  readonly tlsRoutes: readonly TlsRoute[];
  readonly disabled: readonly DisabledRoute[];
  readonly certificates: readonly string[];
  readonly #http: HostIndex;
  // Two maps rather than one keyed by protocol and port: a lookup builds no key.
  readonly #tcp = new Map<number, PortRoute>();
  readonly #udp = new Map<number, PortRoute>();
  readonly #tlsEntry = new HostMap<TlsRoute>();
  readonly #tlsOwnPorts = new Map<number, HostMap<TlsRoute>>();

  constructor(
    readonly version: number,
    parts: TableParts,
  ) {
    this.routes = parts.routes;
    this.portRoutes = parts.portRoutes;
    this.tlsRoutes = parts.tlsRoutes;
    this.disabled = parts.disabled;
    this.certificates = parts.certificates;
    this.#http = new HostIndex(parts.routes);
    for (const route of parts.portRoutes) (route.protocol === 'tcp' ? this.#tcp : this.#udp).set(route.port, route);
    for (const route of parts.tlsRoutes) {
      let hosts = this.#tlsEntry;
      if (route.port !== undefined) {
        hosts = this.#tlsOwnPorts.get(route.port) ?? new HostMap<TlsRoute>();
        this.#tlsOwnPorts.set(route.port, hosts);
      }
      // The builder leaves one route per host and port; should two meet, the first one stays.
      for (const pattern of route.hosts) if (hosts.get(pattern) === undefined) hosts.set(pattern, route);
    }
  }

  lookupHttp(host: string | undefined, path: string): HttpRoute | undefined {
    return this.#http.lookup(host, path);
  }

  lookupPort(protocol: 'tcp' | 'udp', port: number): PortRoute | undefined {
    return (protocol === 'tcp' ? this.#tcp : this.#udp).get(port);
  }

  lookupTls(serverName: string | undefined, port?: number): TlsRoute | undefined {
    const hosts = port === undefined ? this.#tlsEntry : this.#tlsOwnPorts.get(port);
    if (hosts === undefined) return undefined;
    const name = normalizeHost(serverName);
    return name === undefined ? undefined : hosts.match(name);
  }
}

/** An immutable table over these parts (their lists are frozen; only the routes' `cursor` moves). */
export function createRoutingTable(version: number, parts: TableParts): RoutingTable {
  for (const route of [...parts.routes, ...parts.portRoutes, ...parts.tlsRoutes]) {
    Object.freeze(route.appIds);
    Object.freeze(route.backends);
    Object.freeze(route.status);
    if ('hosts' in route) Object.freeze(route.hosts);
  }
  return new Table(version, {
    routes: Object.freeze(parts.routes),
    portRoutes: Object.freeze(parts.portRoutes),
    tlsRoutes: Object.freeze(parts.tlsRoutes),
    disabled: Object.freeze(parts.disabled),
    certificates: Object.freeze(parts.certificates),
  });
}

/** What a holder serves before its first build: version 0, nothing routed. */
export function emptyTable(): RoutingTable {
  return createRoutingTable(0, { routes: [], portRoutes: [], tlsRoutes: [], disabled: [], certificates: [] });
}
