/**
 * The routing table as its readers (the proxies and the admin API) see it. A table is immutable
 * once built; the holder swaps whole tables by one reference assignment.
 */

/** One place to send requests: a task's address for one app port. */
export interface Backend {
  /** `host:port` (`[v6]:port` for IPv6); the key of the backend registry. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  readonly taskId: string;
  readonly appId: string;
}

/** A backend as `/routes` shows it: routable or not, and why. */
export interface BackendStatus extends Backend {
  readonly health: string;
  readonly routable: boolean;
  readonly why?: string;
}

export interface HttpRoute {
  /** `appId:portIndex` of the first app; stable across swaps. */
  readonly id: string;
  /** Apps merged into this route (blue/green share a host and path). */
  readonly appIds: readonly string[];
  /** Host patterns, lower case: `a.example.com`, `*.example.com`, `name.*`. */
  readonly hosts: readonly string[];
  /** Path prefix, `/` when none. */
  readonly path: string;
  /** Backends that may receive new requests, in a stable order. */
  readonly backends: readonly Backend[];
  /** Every task of the route's apps, routable or not (for `/routes`). */
  readonly status: readonly BackendStatus[];
  /**
   * Round-robin position. The only mutable field of a table: it belongs to the route object,
   * so a new table starts its own count and a request in flight never sees another table's.
   */
  cursor: number;
}

/** A route that a bad label or a conflict disabled; the rest of the table is unaffected. */
export interface DisabledRoute {
  readonly appId: string;
  readonly portIndex: number;
  readonly reason: string;
}

export interface RoutingTable {
  /** Increases by one on every swap. */
  readonly version: number;
  /** `Date.now()` when built. */
  readonly builtAt: number;
  readonly routes: readonly HttpRoute[];
  readonly disabled: readonly DisabledRoute[];
  /**
   * The route for a request: `host` is the raw Host header (any case, port allowed), `path` the
   * raw request target (query allowed). Exact hosts win over `name.*` prefixes, which win over
   * `*.suffix` wildcards; among a host's routes the longest path prefix wins.
   */
  lookupHttp(host: string, path: string): HttpRoute | undefined;
}

/** What the proxies hold: the current table, read once per request. */
export interface TableSource {
  readonly current: RoutingTable;
}
