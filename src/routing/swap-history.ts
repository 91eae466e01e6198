import { replacedSince } from './routing-table.js';
import type { RoutingTable } from './types.js';

/** One table swap as the status page and `GET /swaps` show it. */
export interface SwapRecord {
  readonly version: number;
  /** Unix milliseconds. */
  readonly at: number;
  readonly buildMs: number;
  readonly routes: number;
  readonly backends: number;
  readonly disabled: number;
  /** Route ids (HTTP, port and TLS) that appeared or left with this swap; at most `MAX_IDS` each. */
  readonly added: readonly string[];
  readonly removed: readonly string[];
}

const MAX_IDS = 20;

function routeIds(table: RoutingTable): Set<string> {
  const ids = new Set<string>();
  for (const r of table.routes) ids.add(r.id);
  for (const r of table.portRoutes) ids.add(r.id);
  for (const r of table.tlsRoutes) ids.add(r.id);
  return ids;
}

/** Whether both tables list the same route ids in the same order. */
function sameIds(a: RoutingTable, b: RoutingTable): boolean {
  return sameListIds(a.routes, b.routes) && sameListIds(a.portRoutes, b.portRoutes) && sameListIds(a.tlsRoutes, b.tlsRoutes);
}

function sameListIds(a: readonly { readonly id: string }[], b: readonly { readonly id: string }[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i]!.id !== b[i]!.id) return false;
  return true;
}

/**
 * Backends in `after`; when it was derived from `before`, which has `beforeCount`, only its
 * replaced routes are counted.
 */
export function countBackendsSince(before: RoutingTable, beforeCount: number, after: RoutingTable): number {
  const replaced = replacedSince(before, after);
  if (replaced === undefined) return countBackends(after);
  let n = beforeCount;
  for (const [i, route] of replaced.routes ?? []) n += route.backends.length - before.routes[i]!.backends.length;
  for (const [i, route] of replaced.portRoutes ?? []) n += route.backends.length - before.portRoutes[i]!.backends.length;
  for (const [i, route] of replaced.tlsRoutes ?? []) n += route.backends.length - before.tlsRoutes[i]!.backends.length;
  return n;
}

function countBackends(table: RoutingTable): number {
  let n = 0;
  for (const r of table.routes) n += r.backends.length;
  for (const r of table.portRoutes) n += r.backends.length;
  for (const r of table.tlsRoutes) n += r.backends.length;
  return n;
}

/** The last `size` swaps, newest first: what changed and when, for an operator reading the status page. */
export class SwapHistory {
  readonly #records: SwapRecord[] = [];

  constructor(private readonly size = 50) {}

  /** `backends`: how many the new table has (the holder counts them once per swap). */
  record(before: RoutingTable, after: RoutingTable, buildMs: number, backends: number): void {
    let added: string[] = [];
    let removed: string[] = [];
    // Most swaps (task events) keep every route where it was: no sets to build for them.
    if (replacedSince(before, after) === undefined && !sameIds(before, after)) {
      const was = routeIds(before);
      const now = routeIds(after);
      added = [...now].filter((id) => !was.has(id));
      removed = [...was].filter((id) => !now.has(id));
    }
    this.#records.unshift({
      version: after.version,
      at: after.builtAt,
      buildMs,
      routes: after.routes.length + after.portRoutes.length + after.tlsRoutes.length,
      backends,
      disabled: after.disabled.length,
      added: added.slice(0, MAX_IDS),
      removed: removed.slice(0, MAX_IDS),
    });
    if (this.#records.length > this.size) this.#records.pop();
  }

  recent(): readonly SwapRecord[] {
    return this.#records;
  }
}
