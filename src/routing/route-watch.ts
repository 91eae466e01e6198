import type { Logger } from 'pino';
import type { StateMetrics } from '../state/metrics.js';
import type { RoutePanic, RoutingTable } from './types.js';

/**
 * Watches each swapped-in table for the worst-day signs an operator alerts on: routes in panic
 * routing (one line when a route enters, one when it leaves, and a gauge per route) and suspect
 * backends (lost or held, still routed). Call `onSwap` with every table the holder swaps in.
 */
export class RouteWatch {
  #panic = new Map<string, RoutePanic>();

  constructor(
    private readonly logger: Logger,
    private readonly metrics: StateMetrics,
    private readonly panicThreshold: number,
  ) {}

  onSwap(table: RoutingTable): void {
    const panic = new Map<string, RoutePanic>();
    let suspects = 0;
    for (const routes of [table.routes, table.portRoutes, table.tlsRoutes]) {
      for (const route of routes) {
        if (route.panic !== undefined) panic.set(route.id, route.panic);
        for (const entry of route.status) if (entry.routable && entry.health === 'suspect') suspects++;
      }
    }
    const threshold = `${Math.round(this.panicThreshold * 100)}%`;
    for (const [route, { healthy, total }] of panic) {
      if (this.#panic.has(route)) continue;
      this.metrics.routePanic.set({ route }, 1);
      this.logger.warn({ route, healthy, total, threshold }, 'route entered panic routing: too few healthy tasks, routing to every task not in maintenance');
    }
    for (const route of this.#panic.keys()) {
      if (panic.has(route)) continue;
      this.metrics.routePanic.remove({ route });
      this.logger.info({ route }, 'route left panic routing');
    }
    this.#panic = panic;
    this.metrics.routesInPanic.set(panic.size);
    this.metrics.suspectBackends.set(suspects);
  }
}
