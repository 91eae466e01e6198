import type { AppDef, AppView } from '../state/model.js';
import { taskBackends } from './backend-address.js';
import { compare } from './host-claims.js';
import { portRoutes, type PortUnit } from './port-routes.js';
import { mergeRoutes, type RouteUnit } from './route-merge.js';
import { routeSpecs, type HttpSpec, type PortSpec, type RouteSpecOptions, type TlsSpec } from './route-spec.js';
import { createRoutingTable } from './routing-table.js';
import { tlsRoutes, type TlsUnit } from './tls-routes.js';
import type { DisabledRoute, RoutingTable } from './types.js';

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
}

/**
 * Builds whole routing tables from the state's apps. Parsed labels are cached per AppDef object:
 * the state replaces an AppDef only when the app changed, so a task event re-reads no labels.
 */
export class TableBuilder {
  readonly #opts: RouteSpecOptions;
  readonly #parsed = new WeakMap<AppDef, ParsedApp>();

  constructor(opts: RouteSpecOptions) {
    this.#opts = { realm: opts.realm, domain: opts.domain };
  }

  build(apps: Iterable<AppView>, version: number): RoutingTable {
    const http: RouteUnit[] = [];
    const ports: PortUnit[] = [];
    const tls: TlsUnit[] = [];
    const certificates = new Set<string>();
    const disabled: DisabledRoute[] = [];
    for (const view of apps) {
      let app: AppUnits;
      try {
        app = this.#appUnits(view);
      } catch (err) {
        // One odd app must not stop the table: its routes go, the others stay.
        disabled.push(...failedApp(view.app, err));
        continue;
      }
      http.push(...app.http);
      ports.push(...app.ports);
      tls.push(...app.tls);
      for (const file of app.certificates) certificates.add(file);
      disabled.push(...app.disabled);
    }
    const httpMerged = mergeRoutes(http);
    const portMerged = portRoutes(ports);
    const tlsMerged = tlsRoutes(tls, portMerged.routes);
    disabled.push(...httpMerged.disabled, ...portMerged.disabled, ...tlsMerged.disabled);
    disabled.sort(byAppPort);
    return createRoutingTable(version, {
      routes: httpMerged.routes,
      portRoutes: portMerged.routes,
      tlsRoutes: tlsMerged.routes,
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
    const http: RouteUnit[] = [];
    for (const spec of parsed.http) {
      const { backends, status } = taskBackends(app, tasks, spec.portIndex, spec.weight);
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
      ...taskBackends(app, tasks, spec.portIndex, spec.weight),
    }));
    const tls = parsed.tls.map((spec): TlsUnit => ({
      appId: app.id,
      portIndex: spec.portIndex,
      hosts: spec.hosts,
      ...(spec.port !== undefined && { port: spec.port }),
      policy: spec.policy,
      ...taskBackends(app, tasks, spec.portIndex, spec.weight),
    }));
    return { http, ports, tls, certificates: parsed.certificates, disabled: parsed.disabled };
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
