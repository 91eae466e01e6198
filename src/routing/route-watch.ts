import type { Logger } from 'pino';
import type { StateMetrics } from '../state/metrics.js';
import { replacedSince, type RouteReplacements } from './routing-table.js';
import type { RoutePanic, RoutingTable } from './types.js';

/**
 * Watches each swapped-in table for the worst-day signs an operator alerts on: routes in panic
 * routing (one line when a route enters, one when it leaves, and a gauge per route) and suspect
 * backends (lost or held, still routed). Call `onSwap` with every table the holder swaps in.
 */
export class RouteWatch {
  #panic = new Map<string, RoutePanic>();
  #suspects = 0;
  #last: RoutingTable | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly metrics: StateMetrics,
    private readonly panicThreshold: number,
  ) {}

  onSwap(table: RoutingTable): void {
    const replaced = this.#last === undefined ? undefined : replacedSince(this.#last, table);
    const { panic, suspects } = replaced === undefined ? scan(table) : this.#rescan(this.#last!, replaced);
    this.#last = table;
    this.#suspects = suspects;
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

  /** A table derived from the last one: only its replaced routes are looked at (a task event at 10,000 apps). */
  #rescan(last: RoutingTable, replaced: RouteReplacements): { panic: Map<string, RoutePanic>; suspects: number } {
    const panic = new Map(this.#panic);
    let suspects = this.#suspects;
    const lists: [readonly AnyRoute[], ReadonlyMap<number, AnyRoute> | undefined][] = [
      [last.routes, replaced.routes],
      [last.portRoutes, replaced.portRoutes],
      [last.tlsRoutes, replaced.tlsRoutes],
    ];
    for (const [before, changes] of lists) {
      for (const [i, route] of changes ?? []) {
        suspects += suspectsOf(route) - suspectsOf(before[i]!);
        if (route.panic === undefined) panic.delete(route.id);
        else panic.set(route.id, route.panic);
      }
    }
    return { panic, suspects };
  }
}

type AnyRoute = RoutingTable['routes'][number] | RoutingTable['portRoutes'][number] | RoutingTable['tlsRoutes'][number];

function suspectsOf(route: AnyRoute): number {
  let n = 0;
  for (const entry of route.status) if (entry.routable && entry.health === 'suspect') n++;
  return n;
}

function scan(table: RoutingTable): { panic: Map<string, RoutePanic>; suspects: number } {
  const panic = new Map<string, RoutePanic>();
  let suspects = 0;
  for (const routes of [table.routes, table.portRoutes, table.tlsRoutes]) {
    for (const route of routes) {
      if (route.panic !== undefined) panic.set(route.id, route.panic);
      suspects += suspectsOf(route);
    }
  }
  return { panic, suspects };
}
