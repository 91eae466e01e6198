import type { AppDef, AppView } from '../state/model.js';
import { DEFAULT_RESILIENCE } from '../state/resilience.js';
import { taskBackends, type Reserve } from './backend-address.js';
import { compare } from './host-claims.js';
import { portRoutes, type PortUnit } from './port-routes.js';
import { withPanic } from './panic.js';
import { mergeRoutes, type RouteUnit } from './route-merge.js';
import { routeSpecs, type HttpSpec, type PortSpec, type RouteSpecOptions, type TlsSpec } from './route-spec.js';
import { createRoutingTable } from './routing-table.js';
import { tlsRoutes, type TlsUnit } from './tls-routes.js';
import type { Backend, BackendStatus, DisabledRoute, RoutingTable } from './types.js';

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
  readonly http: RouteUnit[];
  readonly ports: PortUnit[];
  readonly tls: TlsUnit[];
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

/**
 * Builds whole routing tables from the state's apps. Parsed labels are cached per AppDef object,
 * and what an app adds to a table per AppView object: the state replaces them only when the app
 * changed, so a burst of task events costs one re-read of the apps they touched, plus the merge.
 */
export class TableBuilder {
  readonly #opts: RouteSpecOptions;
  readonly #suspectWeight: number;
  readonly #panicThreshold: number;
  readonly #parsed = new WeakMap<AppDef, ParsedApp>();
  readonly #units = new WeakMap<AppView, AppUnits>();

  constructor(opts: TableBuilderOptions) {
    this.#opts = { realm: opts.realm, domain: opts.domain };
    this.#suspectWeight = opts.suspectWeight ?? DEFAULT_RESILIENCE.suspectWeight;
    this.#panicThreshold = opts.panicThreshold ?? DEFAULT_RESILIENCE.panicThreshold;
  }

  build(apps: Iterable<AppView>, version: number): RoutingTable {
    const http: RouteUnit[] = [];
    const ports: PortUnit[] = [];
    const tls: TlsUnit[] = [];
    const certificates = new Set<string>();
    const disabled: DisabledRoute[] = [];
    const reserve = new Map<BackendStatus, Backend>();
    for (const view of apps) {
      let app = this.#units.get(view);
      if (app === undefined) {
        try {
          app = this.#appUnits(view);
        } catch (err) {
          // One odd app must not stop the table: its routes go, the others stay.
          disabled.push(...failedApp(view.app, err));
          continue;
        }
        this.#units.set(view, app);
      }
      http.push(...app.http);
      ports.push(...app.ports);
      tls.push(...app.tls);
      for (const file of app.certificates) certificates.add(file);
      disabled.push(...app.disabled);
      for (const spare of app.reserve) reserve.set(spare.status, spare.backend);
    }
    const httpMerged = mergeRoutes(http);
    const portMerged = portRoutes(ports);
    const tlsMerged = tlsRoutes(tls, portMerged.routes);
    disabled.push(...httpMerged.disabled, ...portMerged.disabled, ...tlsMerged.disabled);
    disabled.sort(byAppPort);
    const threshold = this.#panicThreshold;
    return createRoutingTable(version, {
      routes: httpMerged.routes.map((route) => withPanic(route, reserve, threshold)),
      portRoutes: portMerged.routes.map((route) => withPanic(route, reserve, threshold)),
      tlsRoutes: tlsMerged.routes.map((route) => withPanic(route, reserve, threshold)),
      disabled,
      certificates: [...certificates].sort(),
    });
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
      if (spec.protocol === 'http') http.push({ ...spec, hosts: [...spec.hosts].sort() });
      else if (spec.protocol === 'tls') tls.push({ ...spec, hosts: [...spec.hosts].sort() });
      else ports.push(spec);
    }
    const parsed = { http, ports, tls, certificates, disabled: disabled.sort((a, b) => a.portIndex - b.portIndex) };
    this.#parsed.set(app, parsed);
    return parsed;
  }

  #appUnits(view: AppView): AppUnits {
    const app = view.app;
    const parsed = this.#parse(app);
    const tasks = [...view.tasks].sort((a, b) => compare(a.task.id, b.task.id));
    const reserve: Reserve[] = [];
    const backendsOf = (portIndex: number, weight: HttpSpec['weight']) => {
      const { backends, status, reserve: spare } = taskBackends(app, tasks, portIndex, weight, this.#suspectWeight);
      reserve.push(...spare);
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
    const ports = parsed.ports.map((spec): PortUnit => ({
      appId: app.id,
      portIndex: spec.portIndex,
      protocol: spec.protocol,
      port: spec.port,
      policy: spec.policy,
      ...backendsOf(spec.portIndex, spec.weight),
    }));
    const tls = parsed.tls.map((spec): TlsUnit => ({
      appId: app.id,
      portIndex: spec.portIndex,
      hosts: spec.hosts,
      ...(spec.port !== undefined && { port: spec.port }),
      policy: spec.policy,
      ...backendsOf(spec.portIndex, spec.weight),
    }));
    return { http, ports, tls, certificates: parsed.certificates, disabled: parsed.disabled, reserve };
  }
}

function byAppPort(a: DisabledRoute, b: DisabledRoute): number {
  return compare(a.appId, b.appId) || a.portIndex - b.portIndex || compare(a.reason, b.reason);
}

function failedApp(app: AppDef, err: unknown): DisabledRoute[] {
  const reason = `labels could not be read: ${err instanceof Error ? err.message : String(err)}`;
  const ports = Array.isArray(app.ports) ? Math.max(app.ports.length, 1) : 1;
  return Array.from({ length: ports }, (_, portIndex) => ({ appId: String(app.id), portIndex, reason }));
}
