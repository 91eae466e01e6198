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
  /**
   * Opaque, stable id (a hash of the task id and port): what a sticky-session cookie names, so
   * a cookie never reveals a backend's address.
   */
  readonly id: string;
  /** Share of the route's traffic, relative to its other backends (blue/green splits). Default 1. */
  readonly weight: number;
}

export type Balance = 'roundrobin' | 'leastconn' | 'p2c' | 'random' | 'source';

/** Circuit-breaker settings of a route's backends (`BATON_{n}_BREAKER_*`, traefik's expression); absent fields come from the config. */
export interface BreakerPolicy {
  readonly errorThresholdPercentage?: number;
  readonly volumeThreshold?: number;
  readonly resetTimeoutMs?: number;
  /** Count 5xx answers as failures. */
  readonly failOn5xx?: boolean;
  /** traefik `ResponseCodeRatio(a,b,c,d)`: answers in [a,b) count against the total of [c,d). */
  readonly responseCodeRatio?: readonly [number, number, number, number];
}

/** Timeouts of a route (`BATON_{n}_TIMEOUT_*`); absent fields come from the config. */
export interface TimeoutPolicy {
  readonly connectMs?: number;
  readonly headersMs?: number;
  readonly bodyMs?: number;
  readonly totalMs?: number;
  /** TCP, TLS passthrough and WebSocket tunnels. */
  readonly tunnelIdleMs?: number;
}

/** How a route chooses among its backends and judges them. */
export interface BackendPolicy {
  /** `BATON_{n}_BALANCE` / `HAPROXY_{n}_BALANCE` / `traefik.backend.loadbalancer.method`; default roundrobin. */
  readonly balance: Balance;
  /** `BATON_{n}_STICKY` / `HAPROXY_{n}_STICKY` (HTTP only): a cookie keeps a client on one backend. */
  readonly sticky: boolean;
  readonly breaker?: BreakerPolicy;
  readonly timeouts?: TimeoutPolicy;
}

/**
 * A route in panic routing: fewer than the panic threshold of its tasks are healthy, so it routes
 * to every task not in maintenance and lets breakers and retries filter (Envoy's panic mode).
 */
export interface RoutePanic {
  /** Routable tasks without panic (suspects count: they are routable). */
  readonly healthy: number;
  /** Those plus the tasks panic adds (running, failing their checks). */
  readonly total: number;
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
  /** `BATON_{n}_REDIRECT_TO_HTTPS` / `HAPROXY_{n}_REDIRECT_TO_HTTPS`: plain HTTP gets a 301 to https. */
  readonly redirectToHttps: boolean;
  /** `BATON_{n}_USE_HSTS` / `HAPROXY_{n}_USE_HSTS`: HTTPS responses carry Strict-Transport-Security. */
  readonly hsts: boolean;
  /** How baton talks to the backends: HTTP/1.1, or h2c (`BATON_{n}_BACKEND_PROTOCOL=h2c`, gRPC). */
  readonly backendProtocol: 'http1' | 'h2c';
  /** Backends that may receive new requests, in a stable order. */
  readonly backends: readonly Backend[];
  readonly policy: BackendPolicy;
  /** Every task of the route's apps, routable or not (for `/routes`). */
  readonly status: readonly BackendStatus[];
  /** Set while the route is in panic routing. */
  readonly panic?: RoutePanic;
  /**
   * Round-robin position. The only mutable field of a table: it belongs to the route object. A
   * route unchanged by a swap is the same object in the new table, so its count carries on; a
   * changed route starts its own.
   */
  cursor: number;
}

/**
 * A whole service port: raw TCP or UDP. baton listens on `port` and hands every connection (TCP)
 * or client flow (UDP) to one backend.
 */
export interface PortRoute {
  /** `appId:portIndex`. */
  readonly id: string;
  readonly appIds: readonly string[];
  readonly protocol: 'tcp' | 'udp';
  /** The service port baton listens on: `BATON_{n}_PORT`, `HAPROXY_{n}_PORT`, else the app's service port. */
  readonly port: number;
  readonly backends: readonly Backend[];
  readonly policy: BackendPolicy;
  readonly status: readonly BackendStatus[];
  readonly panic?: RoutePanic;
  cursor: number;
}

/**
 * TLS passthrough (`BATON_{n}_PROTOCOL=tls` with a vhost): a TLS connection routed by the SNI
 * name of its ClientHello, never decrypted. On the HTTPS entry point, or on its own port when a
 * port label names one.
 */
export interface TlsRoute {
  readonly id: string;
  readonly appIds: readonly string[];
  /** Host patterns as for HTTP routes (exact, `*.suffix`, `name.*`), lower case. */
  readonly hosts: readonly string[];
  /** Its own listening port (`BATON_{n}_PORT` / `HAPROXY_{n}_PORT`); absent = the HTTPS entry point. */
  readonly port?: number;
  readonly backends: readonly Backend[];
  readonly policy: BackendPolicy;
  readonly status: readonly BackendStatus[];
  readonly panic?: RoutePanic;
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
  readonly portRoutes: readonly PortRoute[];
  readonly tlsRoutes: readonly TlsRoute[];
  readonly disabled: readonly DisabledRoute[];
  /** Certificate files that app labels name (`BATON_{n}_SSL_CERT`, `HAPROXY_{n}_SSL_CERT`), sorted, unique. */
  readonly certificates: readonly string[];
  /**
   * The route for a request: `host` is the raw Host header (any case, port allowed), `path` the
   * raw request target (query allowed). Exact hosts win over `name.*` prefixes, which win over
   * `*.suffix` wildcards; among a host's routes the longest path prefix wins.
   */
  lookupHttp(host: string, path: string): HttpRoute | undefined;
  /** The TCP or UDP route listening on `port`. */
  lookupPort(protocol: 'tcp' | 'udp', port: number): PortRoute | undefined;
  /**
   * The TLS passthrough route for an SNI name (any case), on its own `port`, or on the HTTPS entry
   * point when `port` is undefined. Same precedence as HTTP hosts: exact, `name.*`, `*.suffix`.
   */
  lookupTls(serverName: string, port?: number): TlsRoute | undefined;
}

/** What the proxies hold: the current table, read once per request. */
export interface TableSource {
  readonly current: RoutingTable;
}
