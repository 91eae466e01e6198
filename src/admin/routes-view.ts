import type { BackendStatus, RoutingTable } from '../routing/types.js';

/** What the service-port listeners and the certificate store say about themselves, for `/routes`. */
export interface RuntimeStatus {
  readonly listeners: readonly { protocol: string; port: number; state: string; error?: string }[];
  readonly certificates?: unknown;
}

function backendsView(status: readonly BackendStatus[]) {
  return status.map((b) => ({
    address: b.address,
    taskId: b.taskId,
    appId: b.appId,
    health: b.health,
    routable: b.routable,
    ...(b.why !== undefined && { why: b.why }),
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
      ...(route.redirectToHttps && { redirectToHttps: true }),
      ...(route.hsts && { hsts: true }),
      ...(route.backendProtocol !== 'http1' && { backendProtocol: route.backendProtocol }),
      routable: route.backends.length,
      backends: backendsView(route.status),
    })),
    ports: table.portRoutes.map((route) => ({
      id: route.id,
      apps: route.appIds,
      protocol: route.protocol,
      port: route.port,
      routable: route.backends.length,
      backends: backendsView(route.status),
    })),
    tls: table.tlsRoutes.map((route) => ({
      id: route.id,
      apps: route.appIds,
      hosts: route.hosts,
      port: route.port ?? 'https',
      routable: route.backends.length,
      backends: backendsView(route.status),
    })),
    disabled: table.disabled,
    listeners: runtime.listeners,
    ...(runtime.certificates !== undefined && { certificates: runtime.certificates }),
  };
}
