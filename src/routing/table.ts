import type { AppDef, AppView, TaskView } from '../state/model.js';
import { backendAddress } from './backend-address.js';
import { mergeRoutes, type RouteUnit } from './route-merge.js';
import { routeSpecs, type RouteSpecOptions } from './route-spec.js';
import { createRoutingTable } from './routing-table.js';
import type { Backend, BackendStatus, DisabledRoute, RoutingTable } from './types.js';

interface HttpPort {
  readonly portIndex: number;
  /** Sorted: apps with the same hosts merge whatever order their labels list them in. */
  readonly hosts: readonly string[];
  readonly paths: readonly string[];
}

/** An app's labels as the table uses them: its http ports ready to route, the rest disabled. */
interface ParsedApp {
  readonly http: readonly HttpPort[];
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
    const units: RouteUnit[] = [];
    const disabled: DisabledRoute[] = [];
    for (const view of apps) {
      try {
        const app = this.#appRoutes(view);
        units.push(...app.units);
        disabled.push(...app.disabled);
      } catch (err) {
        // One odd app must not stop the table: its routes go, the others stay.
        disabled.push(...failedApp(view.app, err));
      }
    }
    const merged = mergeRoutes(units);
    disabled.push(...merged.disabled);
    disabled.sort(byAppPort);
    return createRoutingTable(version, merged.routes, disabled);
  }

  #parse(app: AppDef): ParsedApp {
    const cached = this.#parsed.get(app);
    if (cached !== undefined) return cached;
    const { specs, disabled } = routeSpecs(app, this.#opts);
    const http: HttpPort[] = [];
    for (const spec of specs) {
      if (spec.protocol === 'http') http.push({ portIndex: spec.portIndex, hosts: [...spec.hosts].sort(), paths: spec.paths });
      else disabled.push({ appId: app.id, portIndex: spec.portIndex, reason: `protocol ${spec.protocol} is not served yet` });
    }
    const parsed = { http, disabled: disabled.sort((a, b) => a.portIndex - b.portIndex) };
    this.#parsed.set(app, parsed);
    return parsed;
  }

  #appRoutes(view: AppView): { units: RouteUnit[]; disabled: readonly DisabledRoute[] } {
    const app = view.app;
    const parsed = this.#parse(app);
    const units: RouteUnit[] = [];
    const tasks = [...view.tasks].sort((a, b) => compare(a.task.id, b.task.id));
    for (const { portIndex, hosts, paths } of parsed.http) {
      const { backends, status } = backendsOf(app, tasks, portIndex);
      const multiPath = paths.length > 1;
      for (const path of paths) units.push({ appId: app.id, portIndex, hosts, path, multiPath, backends, status });
    }
    return { units, disabled: parsed.disabled };
  }
}

function backendsOf(app: AppDef, tasks: readonly TaskView[], portIndex: number): { backends: Backend[]; status: BackendStatus[] } {
  const backends: Backend[] = [];
  const status: BackendStatus[] = [];
  for (const view of tasks) {
    const taskId = view.task.id;
    const at = backendAddress(app, view.task, portIndex);
    if (at.why !== undefined) {
      const why = view.why === undefined ? at.why : `${view.why}; ${at.why}`;
      status.push({ address: '', host: '', port: 0, taskId, appId: app.id, health: view.health, routable: false, why });
      continue;
    }
    const backend: Backend = { address: at.address, host: at.host, port: at.port, taskId, appId: app.id };
    if (view.routable) {
      backends.push(backend);
      status.push({ ...backend, health: view.health, routable: true });
    } else {
      status.push({ ...backend, health: view.health, routable: false, why: view.why ?? 'not routable' });
    }
  }
  return { backends, status };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function byAppPort(a: DisabledRoute, b: DisabledRoute): number {
  return compare(a.appId, b.appId) || a.portIndex - b.portIndex || compare(a.reason, b.reason);
}

function failedApp(app: AppDef, err: unknown): DisabledRoute[] {
  const reason = `labels could not be read: ${err instanceof Error ? err.message : String(err)}`;
  const ports = Array.isArray(app.ports) ? Math.max(app.ports.length, 1) : 1;
  return Array.from({ length: ports }, (_, portIndex) => ({ appId: String(app.id), portIndex, reason }));
}
