import { createRoutingTable, deriveRoutingTable, replacedSince, type TableParts } from '../routing/routing-table.js';
import type { DisabledRoute, HttpRoute, PortRoute, RoutingTable, TlsRoute } from '../routing/types.js';

type AnyRoute = HttpRoute | PortRoute | TlsRoute;

/** Routes of one kind that a swap added or changed (whole), and the ids of those it removed. */
export interface RouteChanges<R extends AnyRoute> {
  readonly set: readonly R[];
  readonly removed: readonly string[];
}

/**
 * What one swap changed, for a worker holding the table of version `base`: at 10,000 apps a whole
 * table is megabytes of JSON, a task event changes one route. Disabled routes and certificates
 * come whole, only when they changed.
 */
export interface TableDelta {
  readonly version: number;
  readonly base: number;
  readonly routes: RouteChanges<HttpRoute>;
  readonly portRoutes: RouteChanges<PortRoute>;
  readonly tlsRoutes: RouteChanges<TlsRoute>;
  readonly disabled?: readonly DisabledRoute[];
  readonly certificates?: readonly string[];
}

/** What changed from `before` to `after`: a route counts as changed when it is another object (the builder keeps unchanged ones). */
export function tableDelta(before: RoutingTable, after: RoutingTable): TableDelta {
  const replaced = replacedSince(before, after);
  return {
    version: after.version,
    base: before.version,
    routes: routeChanges(before.routes, after.routes, replaced?.routes),
    portRoutes: routeChanges(before.portRoutes, after.portRoutes, replaced?.portRoutes),
    tlsRoutes: routeChanges(before.tlsRoutes, after.tlsRoutes, replaced?.tlsRoutes),
    ...(before.disabled !== after.disabled && { disabled: after.disabled }),
    ...(before.certificates !== after.certificates && { certificates: after.certificates }),
  };
}

function routeChanges<R extends AnyRoute>(before: readonly R[], after: readonly R[], replaced: ReadonlyMap<number, R> | undefined): RouteChanges<R> {
  if (before === after) return { set: [], removed: [] };
  // `after` derived from `before` (see deriveRoutingTable): the replaced routes are the change.
  if (replaced !== undefined) return { set: [...replaced.values()], removed: [] };
  if (before.length === after.length && before.every((route, i) => route.id === after[i]!.id)) {
    // Every route where it was (a task event): compare objects in place, no id maps.
    return { set: after.filter((route, i) => route !== before[i]), removed: [] };
  }
  const was = new Map(before.map((route) => [route.id, route]));
  const now = new Set(after.map((route) => route.id));
  return {
    set: after.filter((route) => was.get(route.id) !== route),
    removed: before.filter((route) => !now.has(route.id)).map((route) => route.id),
  };
}

/**
 * A worker's side: the table it routes with, patched by each delta. Returns undefined for a delta
 * that does not follow the table it holds (it then needs the whole table again).
 */
export class PatchedTable {
  #table: RoutingTable;
  /** Route positions by id, per kind, for the current table. */
  #positions: Record<'routes' | 'portRoutes' | 'tlsRoutes', Map<string, number>>;

  constructor(table: RoutingTable) {
    this.#table = table;
    this.#positions = positionsOf(table);
  }

  get current(): RoutingTable {
    return this.#table;
  }

  apply(delta: TableDelta): RoutingTable | undefined {
    if (delta.base !== this.#table.version) return undefined;
    const inPlace = {
      routes: replacements(delta.routes, this.#positions.routes),
      portRoutes: replacements(delta.portRoutes, this.#positions.portRoutes),
      tlsRoutes: replacements(delta.tlsRoutes, this.#positions.tlsRoutes),
    };
    if (inPlace.routes && inPlace.portRoutes && inPlace.tlsRoutes && delta.disabled === undefined && delta.certificates === undefined) {
      this.#table = deriveRoutingTable(this.#table, delta.version, inPlace);
      return this.#table;
    }
    const t = this.#table;
    const parts: TableParts = {
      routes: merged(t.routes, delta.routes),
      portRoutes: merged(t.portRoutes, delta.portRoutes),
      tlsRoutes: merged(t.tlsRoutes, delta.tlsRoutes),
      disabled: delta.disabled ?? t.disabled,
      certificates: delta.certificates ?? t.certificates,
    };
    this.#table = createRoutingTable(delta.version, parts);
    this.#positions = positionsOf(this.#table);
    return this.#table;
  }
}

function positionsOf(table: RoutingTable): Record<'routes' | 'portRoutes' | 'tlsRoutes', Map<string, number>> {
  const ids = (routes: readonly AnyRoute[]) => new Map(routes.map((route, i) => [route.id, i]));
  return { routes: ids(table.routes), portRoutes: ids(table.portRoutes), tlsRoutes: ids(table.tlsRoutes) };
}

/** The changes as replacements in place, or undefined when routes come or go. */
function replacements<R extends AnyRoute>(changes: RouteChanges<R>, positions: ReadonlyMap<string, number>): Map<number, R> | undefined {
  if (changes.removed.length > 0) return undefined;
  const out = new Map<number, R>();
  for (const route of changes.set) {
    const position = positions.get(route.id);
    if (position === undefined) return undefined;
    out.set(position, route);
  }
  return out;
}

/**
 * The list with removed routes dropped, changed ones replaced and new ones added at the end. The
 * order differs from the primary's, which changes no lookup: a host and path, a port, or a TLS
 * host and port has one route at most.
 */
function merged<R extends AnyRoute>(list: readonly R[], changes: RouteChanges<R>): R[] {
  const removed = new Set(changes.removed);
  const set = new Map(changes.set.map((route) => [route.id, route]));
  const out: R[] = [];
  for (const route of list) {
    if (removed.has(route.id)) continue;
    const next = set.get(route.id);
    out.push(next ?? route);
    set.delete(route.id);
  }
  for (const route of set.values()) out.push(route);
  return out;
}
