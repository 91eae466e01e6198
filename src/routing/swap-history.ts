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

export function countBackends(table: RoutingTable): number {
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

  record(before: RoutingTable, after: RoutingTable, buildMs: number): void {
    const was = routeIds(before);
    const now = routeIds(after);
    const added = [...now].filter((id) => !was.has(id));
    const removed = [...was].filter((id) => !now.has(id));
    this.#records.unshift({
      version: after.version,
      at: after.builtAt,
      buildMs,
      routes: now.size,
      backends: countBackends(after),
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
