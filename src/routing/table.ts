import type { AppDef, AppView } from '../state/model.js';
import { DEFAULT_RESILIENCE } from '../state/resilience.js';
import { taskBackends, type Reserve } from './backend-address.js';
import { compare, sharedBackends } from './host-claims.js';
import { portRoutes, type PortUnit } from './port-routes.js';
import { compact, NONE } from './lists.js';
import { withPanic } from './panic.js';
import { mergeRoutes, type RouteUnit } from './route-merge.js';
import { routeSpecs, type HttpSpec, type PortSpec, type RouteSpecOptions, type TlsSpec } from './route-spec.js';
import { createRoutingTable, deriveRoutingTable } from './routing-table.js';
import { sameHttpRoute, samePortRoute, sameTlsRoute } from './table-equal.js';
import { tlsRoutes, type TlsUnit } from './tls-routes.js';
import type { Backend, BackendStatus, DisabledRoute, HttpRoute, PortRoute, RoutingTable, TlsRoute } from './types.js';

/** An app's labels as the table uses them: its ports ready to route by protocol, the rest disabled. */
interface ParsedApp {
  /** Hosts sorted: apps with the same hosts merge whatever order their labels list them in. */
  readonly http: readonly HttpSpec[];
  readonly ports: readonly PortSpec[];
  /** Hosts sorted, as for http. */
  readonly tls: readonly TlsSpec[];
  readonly certificates: readonly string[];
  readonly disabled: readonly DisabledRoute[];
}

/** What one app adds to a table. */
interface AppUnits {
  readonly http: readonly RouteUnit[];
  readonly ports: readonly PortUnit[];
  readonly tls: readonly TlsUnit[];
  readonly certificates: readonly string[];
  readonly disabled: readonly DisabledRoute[];
  /** Tasks panic routing may add, over all of the app's ports. */
  readonly reserve: readonly Reserve[];
}

export interface TableBuilderOptions extends RouteSpecOptions {
  /** A suspect backend's weight relative to a normal one (default 0.25). */
  readonly suspectWeight?: number;
  /** Panic routing below this share of healthy tasks per route; 0 = never (default 0.5). */
  readonly panicThreshold?: number;
}

type AnyUnit = RouteUnit | PortUnit | TlsUnit;
type AnyRoute = HttpRoute | PortRoute | TlsRoute;
type Kind = 'http' | 'ports' | 'tls';
const KINDS: readonly Kind[] = ['http', 'ports', 'tls'];

type Placed = { [K in Kind]?: number[] };

/** What the last build made, kept so that the next one can rebuild only the routes of apps whose tasks changed. */
interface LastBuild {
  table: RoutingTable;
  /** The apps as the build got them: the next build compares in place before it looks up by id. */
  list: readonly AppView[];
  /** By app id, every app of the build. */
  readonly views: Map<string, AppView>;
  /** By app id, the apps that built (an app whose labels failed is absent). */
  readonly units: Map<string, AppUnits>;
  /** The units each route is made of, by kind and route position, before panic routing. */
  readonly members: Record<Kind, AnyUnit[][]>;
  /** By app id, the positions of the routes its units are in. */
  readonly placed: Map<string, Placed>;
}

/** How much the last `build` rebuilt: for tests and benchmarks that check an event costs only its app. */
export interface BuildWork {
  readonly kind: 'full' | 'routes';
  /** Apps whose units were (re)computed. */
  readonly apps: number;
  /** Routes rebuilt (every route on a full build). */
  readonly routes: number;
}

/**
 * Builds routing tables from the state's apps. Parsed labels are cached per AppDef object, and
 * what an app adds to a table per AppView object: the state replaces them only when the app
 * changed. When only tasks changed (every app the same AppDef as in the last build, none added or
 * gone) the new table is the last one with just the routes of the changed apps rebuilt, sharing
 * its lookup indexes; anything else (a new definition, an app added or gone) is a full build and
 * merge, since hosts, paths, ports and conflicts may move.
 */
export class TableBuilder {
  readonly #opts: RouteSpecOptions;
  readonly #suspectWeight: number;
  readonly #panicThreshold: number;
  readonly #parsed = new WeakMap<AppDef, ParsedApp>();
  readonly #units = new WeakMap<AppView, AppUnits>();
  #last: LastBuild | undefined;
  #work: BuildWork = { kind: 'full', apps: 0, routes: 0 };

  constructor(opts: TableBuilderOptions) {
    this.#opts = { realm: opts.realm, domain: opts.domain };
    this.#suspectWeight = opts.suspectWeight ?? DEFAULT_RESILIENCE.suspectWeight;
    this.#panicThreshold = opts.panicThreshold ?? DEFAULT_RESILIENCE.panicThreshold;
  }

  /** What the last `build` call rebuilt. */
  get lastWork(): BuildWork {
    return this.#work;
  }

  build(apps: Iterable<AppView>, version: number): RoutingTable {
    // A copy: the next build compares against it, and a caller may reuse its array.
    const list = [...apps];
    try {
      return this.#patch(list, version) ?? this.#full(list, version);
    } catch (err) {
      // The cache may be half updated: the next build starts over.
      this.#last = undefined;
      throw err;
    }
  }

  /** The last table with the routes of apps whose tasks changed rebuilt; undefined when a full build is needed. */
  #patch(apps: readonly AppView[], version: number): RoutingTable | undefined {
    const last = this.#last;
    if (last === undefined || apps.length !== last.views.size) return undefined;
    const changed: { view: AppView; before: AppUnits; after: AppUnits }[] = [];
    // A plain loop: it runs over every app on every task event.
    for (let i = 0; i < apps.length; i++) {
      const view = apps[i]!;
      if (last.list[i] === view) continue;
      const previous = last.views.get(view.app.id);
      if (previous === view) continue;
      const before = last.units.get(view.app.id);
      if (previous === undefined || previous.app !== view.app || before === undefined) return undefined;
      let after = this.#units.get(view);
      if (after === undefined) {
        try {
          after = this.#appUnits(view);
        } catch {
          return undefined; // the full build reports it
        }
        this.#units.set(view, after);
      }
      changed.push({ view, before, after });
    }
    // Same AppDef, same parsed labels: each unit has its counterpart at the same position.
    const successor = new Map<AnyUnit, AnyUnit>();
    const touched: Record<Kind, Set<number>> = { http: new Set(), ports: new Set(), tls: new Set() };
    for (const { view, before, after } of changed) {
      for (const kind of KINDS) {
        before[kind].forEach((unit, i) => successor.set(unit, after[kind][i]!));
        for (const position of last.placed.get(view.app.id)?.[kind] ?? []) touched[kind].add(position);
      }
      last.views.set(view.app.id, view);
      last.units.set(view.app.id, after);
    }
    const replaced: Record<Kind, Map<number, AnyRoute>> = { http: new Map(), ports: new Map(), tls: new Map() };
    const current: Record<Kind, readonly AnyRoute[]> = { http: last.table.routes, ports: last.table.portRoutes, tls: last.table.tlsRoutes };
    let routes = 0;
    for (const kind of KINDS) {
      for (const position of touched[kind]) {
        const members = last.members[kind][position]!.map((unit) => successor.get(unit) ?? unit);
        last.members[kind][position] = members;
        replaced[kind].set(position, this.#rebuilt(current[kind][position]!, members, last.units));
        routes++;
      }
    }
    last.list = apps;
    last.table = deriveRoutingTable(last.table, version, {
      routes: replaced.http as Map<number, HttpRoute>,
      portRoutes: replaced.ports as Map<number, PortRoute>,
      tlsRoutes: replaced.tls as Map<number, TlsRoute>,
    });
    this.#work = { kind: 'routes', apps: changed.length, routes };
    return last.table;
  }

  /** A route with its members' current backends, panic routing judged again over its apps' reserve. */
  #rebuilt<R extends AnyRoute>(route: R, members: readonly AnyUnit[], units: ReadonlyMap<string, AppUnits>): R {
    const { panic: _panic, ...rest } = route;
    const base = { ...rest, ...sharedBackends(members), cursor: 0 } as R;
    const reserve = new Map<BackendStatus, Backend>();
    for (const appId of new Set(members.map((u) => u.appId))) for (const spare of units.get(appId)?.reserve ?? []) reserve.set(spare.status, spare.backend);
    return withPanic(base, reserve, this.#panicThreshold);
  }

  #full(apps: readonly AppView[], version: number): RoutingTable {
    const http: RouteUnit[] = [];
    const ports: PortUnit[] = [];
    const tls: TlsUnit[] = [];
    const certificates = new Set<string>();
    const disabled: DisabledRoute[] = [];
    const reserve = new Map<BackendStatus, Backend>();
    const views = new Map<string, AppView>();
    const built = new Map<string, AppUnits>();
    let computed = 0;
    for (const view of apps) {
      views.set(view.app.id, view);
      let app = this.#units.get(view);
      if (app === undefined) {
        computed++;
        try {
          app = this.#appUnits(view);
        } catch (err) {
          // One odd app must not stop the table: its routes go, the others stay.
          disabled.push(...failedApp(view.app, err));
          continue;
        }
        this.#units.set(view, app);
      }
      built.set(view.app.id, app);
      for (const unit of app.http) http.push(unit);
      for (const unit of app.ports) ports.push(unit);
      for (const unit of app.tls) tls.push(unit);
      for (const file of app.certificates) certificates.add(file);
      for (const route of app.disabled) disabled.push(route);
      for (const spare of app.reserve) reserve.set(spare.status, spare.backend);
    }
    const httpMerged = mergeRoutes(http);
    const portMerged = portRoutes(ports);
    const tlsMerged = tlsRoutes(tls, portMerged.routes);
    disabled.push(...httpMerged.disabled, ...portMerged.disabled, ...tlsMerged.disabled);
    disabled.sort(byAppPort);
    const threshold = this.#panicThreshold;
    const before = this.#last?.table;
    const table = createRoutingTable(version, {
      routes: kept(httpMerged.routes.map((route) => withPanic(route, reserve, threshold)), before?.routes, sameHttpRoute),
      portRoutes: kept(portMerged.routes.map((route) => withPanic(route, reserve, threshold)), before?.portRoutes, samePortRoute),
      tlsRoutes: kept(tlsMerged.routes.map((route) => withPanic(route, reserve, threshold)), before?.tlsRoutes, sameTlsRoute),
      disabled,
      certificates: [...certificates].sort(),
    });
    const members: Record<Kind, AnyUnit[][]> = { http: httpMerged.members, ports: portMerged.members, tls: tlsMerged.members };
    this.#last = { table, list: apps, views, units: built, members, placed: placements(members) };
    this.#work = { kind: 'full', apps: computed, routes: table.routes.length + table.portRoutes.length + table.tlsRoutes.length };
    return table;
  }

  #parse(app: AppDef): ParsedApp {
    const cached = this.#parsed.get(app);
    if (cached !== undefined) return cached;
    const { specs, disabled } = routeSpecs(app, this.#opts);
    const http: HttpSpec[] = [];
    const ports: PortSpec[] = [];
    const tls: TlsSpec[] = [];
    const certificates: string[] = [];
    for (const spec of specs) {
      // Any served port may name a certificate: the HTTPS entry point serves them all by SNI.
      if (spec.certificate !== undefined) certificates.push(spec.certificate);
      if (spec.protocol === 'http') http.push(withSortedHosts(spec));
      else if (spec.protocol === 'tls') tls.push(withSortedHosts(spec));
      else ports.push(spec);
    }
    const parsed = {
      http: compact(http),
      ports: compact(ports),
      tls: compact(tls),
      certificates: compact(certificates),
      disabled: compact(disabled.sort((a, b) => a.portIndex - b.portIndex)),
    };
    this.#parsed.set(app, parsed);
    return parsed;
  }

  #appUnits(view: AppView): AppUnits {
    const app = view.app;
    const parsed = this.#parse(app);
    const tasks = [...view.tasks].sort((a, b) => compare(a.task.id, b.task.id));
    let reserve: Reserve[] | undefined;
    const backendsOf = (portIndex: number, weight: HttpSpec['weight']) => {
      const { backends, status, reserve: spare } = taskBackends(app, tasks, portIndex, weight, this.#suspectWeight);
      if (spare.length > 0) (reserve ??= []).push(...spare);
      return { backends, status };
    };
    const http: RouteUnit[] = [];
    for (const spec of parsed.http) {
      const { backends, status } = backendsOf(spec.portIndex, spec.weight);
      const multiPath = spec.paths.length > 1;
      for (const path of spec.paths) {
        http.push({
          appId: app.id,
          portIndex: spec.portIndex,
          hosts: spec.hosts,
          path,
          multiPath,
          redirectToHttps: spec.redirectToHttps,
          hsts: spec.hsts,
          backendProtocol: spec.backendProtocol,
          policy: spec.policy,
          backends,
          status,
        });
      }
    }
    const ports = listOf(parsed.ports, (spec): PortUnit => ({
      appId: app.id,
      portIndex: spec.portIndex,
      protocol: spec.protocol,
      port: spec.port,
      policy: spec.policy,
      ...backendsOf(spec.portIndex, spec.weight),
    }));
    const tls = listOf(parsed.tls, (spec): TlsUnit => ({
      appId: app.id,
      portIndex: spec.portIndex,
      hosts: spec.hosts,
      ...(spec.port !== undefined && { port: spec.port }),
      policy: spec.policy,
      ...backendsOf(spec.portIndex, spec.weight),
    }));
    return { http: compact(http), ports, tls, certificates: parsed.certificates, disabled: parsed.disabled, reserve: reserve ?? NONE };
  }
}

/**
 * The new routes, each replaced by the last build's route of its id when that one is the same:
 * an unchanged route keeps its object (its round-robin position, and a delta to workers leaves it out).
 */
function kept<R extends AnyRoute>(routes: R[], before: readonly R[] | undefined, same: (a: R, b: R) => boolean): R[] {
  if (before === undefined || before.length === 0) return routes;
  const byId = new Map(before.map((route) => [route.id, route]));
  return routes.map((route) => {
    const old = byId.get(route.id);
    return old !== undefined && same(old, route) ? old : route;
  });
}

/** By app id, the positions of the routes each app has units in (a kind it has none of is absent). */
function placements(members: Record<Kind, AnyUnit[][]>): Map<string, Placed> {
  const placed = new Map<string, Placed>();
  for (const kind of KINDS) {
    const routes = members[kind];
    for (let position = 0; position < routes.length; position++) {
      for (const unit of routes[position]!) {
        let at = placed.get(unit.appId);
        if (at === undefined) placed.set(unit.appId, (at = {}));
        const list = at[kind];
        if (list === undefined) at[kind] = [position];
        else if (list.at(-1) !== position) list.push(position);
      }
    }
  }
  return placed;
}

/** `list.map(each)`, or the shared empty list. */
function listOf<T, U>(list: readonly T[], each: (item: T) => U): readonly U[] {
  return list.length === 0 ? NONE : list.map(each);
}

/** A spec with its hosts sorted: apps with the same hosts merge whatever order their labels list them in. */
function withSortedHosts<S extends HttpSpec | TlsSpec>(spec: S): S {
  // One host (most specs) is sorted already.
  return spec.hosts.length < 2 ? spec : { ...spec, hosts: [...spec.hosts].sort() };
}

function byAppPort(a: DisabledRoute, b: DisabledRoute): number {
  return compare(a.appId, b.appId) || a.portIndex - b.portIndex || compare(a.reason, b.reason);
}

function failedApp(app: AppDef, err: unknown): DisabledRoute[] {
  const reason = `labels could not be read: ${err instanceof Error ? err.message : String(err)}`;
  const ports = Array.isArray(app.ports) ? Math.max(app.ports.length, 1) : 1;
  return Array.from({ length: ports }, (_, portIndex) => ({ appId: String(app.id), portIndex, reason }));
}
