import type { BackendStatus, RoutingTable } from '../routing/types.js';

/**
 * What the data path says about itself, for `/routes`: service-port listeners, certificates, and
 * the live state of each backend that has had traffic (breaker, in flight, latency), by address.
 */
export interface RuntimeStatus {
  readonly listeners: readonly { protocol: string; port: number; state: string; error?: string }[];
  readonly certificates?: unknown;
  readonly backends?: Readonly<Record<string, LiveBackend>>;
}

/** A backend's live state as the registry reports it. */
export interface LiveBackend {
  readonly breaker: string;
  readonly inFlight: number;
  readonly latencyMs: number;
}

function backendsView(status: readonly BackendStatus[], live: RuntimeStatus['backends']) {
  return status.map((b) => ({
    address: b.address,
    taskId: b.taskId,
    appId: b.appId,
    health: b.health,
    routable: b.routable,
    weight: b.weight,
    ...(b.why !== undefined && { why: b.why }),
    ...(live?.[b.address] && { live: live[b.address] }),
  }));
}

/** The routing table as `GET /routes` shows it: plain JSON, every backend with its health. */
export function routesView(table: RoutingTable, runtime: RuntimeStatus, now: number) {
  return {
    version: table.version,
    builtAt: new Date(table.builtAt).toISOString(),
    ageMs: now - table.builtAt,
    routes: table.routes.map((route) => ({
      id: route.id,
      apps: route.appIds,
      hosts: route.hosts,
      path: route.path,
      policy: route.policy,
      ...(route.redirectToHttps && { redirectToHttps: true }),
      ...(route.hsts && { hsts: true }),
      ...(route.backendProtocol !== 'http1' && { backendProtocol: route.backendProtocol }),
      ...(route.panic && { panic: route.panic }),
      routable: route.backends.length,
      backends: backendsView(route.status, runtime.backends),
    })),
    ports: table.portRoutes.map((route) => ({
      id: route.id,
      apps: route.appIds,
      protocol: route.protocol,
      port: route.port,
      policy: route.policy,
      ...(route.panic && { panic: route.panic }),
      routable: route.backends.length,
      backends: backendsView(route.status, runtime.backends),
    })),
    tls: table.tlsRoutes.map((route) => ({
      id: route.id,
      apps: route.appIds,
      hosts: route.hosts,
      port: route.port ?? 'https',
      policy: route.policy,
      ...(route.panic && { panic: route.panic }),
      routable: route.backends.length,
      backends: backendsView(route.status, runtime.backends),
    })),
    disabled: table.disabled,
    listeners: runtime.listeners,
    ...(runtime.backends !== undefined && { liveBackends: Object.keys(runtime.backends).length }),
    ...(runtime.certificates !== undefined && { certificates: runtime.certificates }),
  };
}
