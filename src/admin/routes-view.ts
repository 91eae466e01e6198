import type { RoutingTable } from '../routing/types.js';

/** The routing table as `GET /routes` shows it: plain JSON, every backend with its health. */
export function routesView(table: RoutingTable, now: number) {
  return {
    version: table.version,
    builtAt: new Date(table.builtAt).toISOString(),
    ageMs: now - table.builtAt,
    routes: table.routes.map((route) => ({
      id: route.id,
      apps: route.appIds,
      hosts: route.hosts,
      path: route.path,
      routable: route.backends.length,
      backends: route.status.map((b) => ({
        address: b.address,
        taskId: b.taskId,
        appId: b.appId,
        health: b.health,
        routable: b.routable,
        ...(b.why !== undefined && { why: b.why }),
      })),
    })),
    disabled: table.disabled,
  };
}
