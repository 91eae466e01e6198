/**
 * A task event swaps in a table derived from the last one, and the data path then follows only
 * the routes it replaced. Whatever the sequence of derived and whole tables, the backend
 * registry, the backend series and the route series must end up as the whole-table path leaves
 * them: a DataPath fed the derived tables is compared with one fed each table rebuilt from
 * scratch (never derived), with the same traffic on both.
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { DataPath } from '../../src/data-path.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import { createRoutingTable, deriveRoutingTable, replacedSince, type RouteReplacements, type TableParts } from '../../src/routing/routing-table.js';
import type { Backend, BackendPolicy, HttpRoute, PortRoute, RoutingTable, TlsRoute } from '../../src/routing/types.js';
import type { BackendState } from '../../src/upstream/backend-state.js';
import { backendPolicies, type UpstreamRegistry } from '../../src/upstream/registry.js';
import { TableBackends } from '../../src/upstream/table-backends.js';
import { seededRandom } from '../../src/sim/seeded-random.js';

const POLICIES: readonly BackendPolicy[] = [
  { balance: 'roundrobin', sticky: false },
  { balance: 'leastconn', sticky: false, breaker: { volumeThreshold: 3 }, timeouts: { connectMs: 700 } },
  { balance: 'p2c', sticky: true, breaker: { errorThresholdPercentage: 10, resetTimeoutMs: 500 } },
];


type Kind = 'routes' | 'portRoutes' | 'tlsRoutes';
const KINDS: readonly Kind[] = ['routes', 'portRoutes', 'tlsRoutes'];

class Generator {
  constructor(
    private readonly rand: () => number,
    private readonly servicePorts: readonly number[],
  ) {}

  int(n: number): number {
    return Math.floor(this.rand() * n);
  }

  /** Mostly addresses of the route's own, sometimes one that other routes list too. */
  address(kind: number, i: number): string {
    return this.rand() < 0.12 ? `10.9.9.${this.int(4)}:80` : `10.${kind}.${i}.${this.int(6)}:80`;
  }

  backends(kind: number, i: number, app: string): Backend[] {
    return Array.from({ length: this.int(5) }, (_, n) => {
      const address = this.address(kind, i);
      // Now and then a task port reused by another app.
      const appId = this.rand() < 0.1 ? '/other' : app;
      return { address, host: address.slice(0, -3), port: 80, taskId: `t${n}`, appId, id: `b${n}`, weight: 1 };
    });
  }

  policy(): BackendPolicy {
    return POLICIES[this.int(POLICIES.length)] as BackendPolicy;
  }

  http(i: number): HttpRoute {
    const app = `/h${i}`;
    return { id: `${app}:0`, appIds: [app], hosts: [`h${i}.test`], path: '/', redirectToHttps: false, hsts: false, backendProtocol: 'http1', backends: this.backends(0, i, app), policy: this.policy(), status: [], cursor: 0 };
  }

  port(i: number): PortRoute {
    const app = `/p${i}`;
    return { id: `${app}:0`, appIds: [app], protocol: 'tcp', port: this.servicePorts[i] as number, backends: this.backends(1, i, app), policy: this.policy(), status: [], cursor: 0 };
  }

  tls(i: number): TlsRoute {
    const app = `/t${i}`;
    return { id: `${app}:0`, appIds: [app], hosts: [`t${i}.test`], backends: this.backends(2, i, app), policy: this.policy(), status: [], cursor: 0 };
  }

  /** A whole table: some routes come and go (their ids with them). */
  whole(version: number): RoutingTable {
    const some = <R,>(n: number, make: (i: number) => R) => Array.from({ length: n }, (_, i) => i).filter(() => this.rand() < 0.85).map(make);
    return createRoutingTable(version, {
      routes: some(8, (i) => this.http(i)),
      portRoutes: some(this.servicePorts.length, (i) => this.port(i)),
      tlsRoutes: some(3, (i) => this.tls(i)),
      disabled: [],
      certificates: [],
    });
  }

  /** A task event: one to three routes replaced in place by the same route with other backends. */
  derived(previous: RoutingTable, version: number): RoutingTable {
    const replaced: Record<Kind, Map<number, HttpRoute | PortRoute | TlsRoute>> = { routes: new Map(), portRoutes: new Map(), tlsRoutes: new Map() };
    for (let n = 1 + this.int(3); n > 0; n--) {
      const kind = KINDS[this.int(3)] as Kind;
      const list = previous[kind];
      const old = list[this.int(list.length)];
      if (old === undefined) continue;
      const i = Number(old.id.slice(2, -2));
      const route = kind === 'routes' ? this.http(i) : kind === 'portRoutes' ? this.port(i) : this.tls(i);
      replaced[kind].set(list.indexOf(old as never), route);
    }
    return deriveRoutingTable(previous, version, replaced as RouteReplacements);
  }
}

/** The same table, built from scratch: the whole-table path. */
function rebuilt(table: RoutingTable): RoutingTable {
  const parts: TableParts = { routes: table.routes, portRoutes: table.portRoutes, tlsRoutes: table.tlsRoutes, disabled: table.disabled, certificates: table.certificates };
  return createRoutingTable(table.version, parts);
}

/** The backend and route series, in an order that does not depend on how the entries were made. */
async function series(metrics: Metrics): Promise<unknown> {
  const all = await metrics.registry.getMetricsAsJSON();
  return all
    .filter((metric) => metric.name.startsWith('baton_backend_') || metric.name.startsWith('baton_route_'))
    .map((metric) => ({ name: metric.name, values: metric.values.map((v) => JSON.stringify(v)).sort() }));
}

function registryOf(dataPath: DataPath): UpstreamRegistry {
  // The registry is the data path's own; the test reads it as `/routes` and the pickers would.
  return dataPath['upstreams'];
}

/** What the registry holds for each backend with live state: its breaker settings and connect timeout. */
function registryView(registry: UpstreamRegistry): Record<string, unknown> {
  const view: Record<string, unknown> = {};
  for (const address of Object.keys(registry.snapshot())) {
    view[address] = { breaker: registry.backend(address).breaker.settings, connectMs: registry.connectTimeoutFor(address) };
  }
  return view;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const paths: DataPath[] = [];
afterEach(async () => {
  await Promise.all(paths.splice(0).map((path) => path.close()));
});

function dataPath(metrics: Metrics): DataPath {
  const config = loadConfig(['--marathon', 'http://127.0.0.1:1', '--http', '127.0.0.1:0'], {}, (path) =>
    path === 'config/baton.json' ? JSON.stringify({ shutdownGraceMs: 100, serviceBind: '127.0.0.1' }) : undefined,
  );
  const path = new DataPath(config, { current: createRoutingTable(0, { routes: [], portRoutes: [], tlsRoutes: [], disabled: [], certificates: [] }) }, pino({ level: 'silent' }), metrics);
  paths.push(path);
  return path;
}

function addressesOf(table: RoutingTable): string[] {
  return [...new Set(KINDS.flatMap((kind) => table[kind].flatMap((route) => route.backends.map((b) => b.address))))];
}

/** The app of each address: that of the first route listing it, as `backendPolicies` reads the table. */
function appsOf(table: RoutingTable): Map<string, string> {
  const apps = new Map<string, string>();
  for (const kind of KINDS) for (const route of table[kind]) for (const b of route.backends) if (!apps.has(b.address)) apps.set(b.address, b.appId);
  return apps;
}

describe('DataPath.onSwap on derived tables', () => {
  for (const seed of [1, 2, 3]) {
    it(`leaves the registry and the series as the whole-table path does (seed ${seed})`, async () => {
      const rand = seededRandom(seed);
      const gen = new Generator(rand, [await freePort(), await freePort()]);
      const derivedMetrics = createMetrics();
      const wholeMetrics = createMetrics();
      const derivedPath = dataPath(derivedMetrics);
      const wholePath = dataPath(wholeMetrics);
      const backends = new TableBackends();
      let followed = 0;
      let fellBack = 0;
      let inFlight: [BackendState, BackendState][] = [];
      let table = gen.whole(1);
      derivedPath.onSwap(table);
      wholePath.onSwap(rebuilt(table));
      backends.rebuild(table);

      for (let version = 2; version < 300; version++) {
        // Traffic on both: requests that start before the swap (some to addresses that left
        // earlier, as a request on an older table does) and end after it, failures, route entries.
        const pool = [...addressesOf(table), `10.0.0.${gen.int(6)}:80`, `10.9.9.${gen.int(4)}:80`];
        for (let n = 0; n < 3; n++) {
          const address = pool[gen.int(pool.length)] as string;
          const pair: [BackendState, BackendState] = [registryOf(derivedPath).backend(address), registryOf(wholePath).backend(address)];
          for (const state of pair) state.begin();
          inFlight.push(pair);
          derivedMetrics.backendStats.failed(address, 'upstream-connect');
          wholeMetrics.backendStats.failed(address, 'upstream-connect');
        }
        const routes = [...table.routes, ...table.portRoutes, ...table.tlsRoutes];
        const id = routes[gen.int(routes.length)]?.id;
        if (id !== undefined) {
          derivedMetrics.routeStats.of(id).done(1, 0.01, 1, 1);
          wholeMetrics.routeStats.of(id).done(1, 0.01, 1, 1);
        }

        const before = table;
        table = rand() < 0.15 ? gen.whole(version) : gen.derived(before, version);
        derivedPath.onSwap(table);
        wholePath.onSwap(rebuilt(table));
        const replaced = replacedSince(before, table);
        if (replaced !== undefined && backends.follow(before, replaced) !== undefined) followed++;
        else {
          if (replaced !== undefined) fellBack++;
          backends.rebuild(table);
        }

        for (const pair of inFlight.filter(() => rand() < 0.5)) for (const state of pair) state.end();
        inFlight = inFlight.filter(([state]) => state.inFlight > 0);

        expect(backends.policies).toEqual(backendPolicies(table));
        expect(backends.apps).toEqual(appsOf(table));
        expect(registryView(registryOf(derivedPath))).toEqual(registryView(registryOf(wholePath)));
        expect(await series(derivedMetrics)).toEqual(await series(wholeMetrics));
      }
      // Both ways were taken: following the replaced routes, and the whole table for a shared address.
      expect(followed).toBeGreaterThan(100);
      expect(fellBack).toBeGreaterThan(5);
      for (const pair of inFlight) for (const state of pair) state.end();
    });
  }
});
