import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import { createAdminServer } from './admin/server.js';
import { planReload, runningConfig } from './config/reload-plan.js';
import type { Config } from './config/schema.js';
import type { DataPlane } from './data-plane.js';
import { MarathonClient } from './marathon/client.js';
import { createMesosMetrics } from './mesos/metrics.js';
import { MesosPoller } from './mesos/poller.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import { TableHolder } from './routing/holder.js';
import { RouteWatch } from './routing/route-watch.js';
import { TableBuilder } from './routing/table.js';
import type { TableSource } from './routing/types.js';
import { closeServer, listen } from './server-lifecycle.js';
import { ClusterState } from './state/cluster-state.js';
import { HealthJudge } from './state/health.js';
import { Maintenance } from './state/maintenance.js';
import { createStateMetrics } from './state/metrics.js';
import { StateFile } from './state/state-file.js';
import { DataPath } from './data-path.js';

export interface Baton {
  /** The admin API's address (listening as soon as `startBaton` resolves). */
  readonly admin: AddressInfo;
  /** Resolves with the entry points' addresses once the first Marathon sync is live. */
  readonly http: Promise<AddressInfo>;
  readonly https: Promise<AddressInfo | undefined>;
  readonly tables: TableHolder;
  readonly metrics: Metrics;
  /**
   * Applies a reloaded config (SIGHUP): log level, realm and domain at once, data-path settings by
   * replacing the proxy workers; what needs a restart is kept as it was and named in the result.
   */
  reload(next: Readonly<Config>): Promise<ReloadResult>;
  stop(): Promise<void>;
}

export interface ReloadResult {
  readonly applied: readonly string[];
  readonly restartNeeded: readonly string[];
}

export interface StartOptions {
  /** Builds the data plane around the table source; by default the data path runs in this process. */
  readonly dataPlane?: (tables: TableSource, metrics: Metrics) => DataPlane;
  /** Node's process metrics (CPU, memory, event loop) in `/metrics`. */
  readonly processMetrics?: boolean;
}

/**
 * Builds every part, connects them (sources -> state -> table -> proxy) and starts listening.
 * The HTTP entry point opens only after the first full sync, so baton never answers 404 for
 * routes it simply has not learned yet; the admin API opens at once and says what is going on.
 */
export async function startBaton(initial: Readonly<Config>, logger: Logger, opts: StartOptions = {}): Promise<Baton> {
  let config = initial;
  const metrics = createMetrics({ processMetrics: opts.processMetrics ?? false });
  const stateMetrics = createStateMetrics(metrics.registry);
  const builderOptions = () => ({ realm: config.realm, domain: config.domain, suspectWeight: config.resilience.suspectWeight, panicThreshold: config.resilience.panicThreshold });
  let builder = new TableBuilder(builderOptions());
  let client: MarathonClient | undefined;
  const stateFile = new StateFile(config.stateFile, logger);
  const persisted = stateFile.load();
  const polled = config.mesos.length > 0;
  const maintenance = new Maintenance({
    logger,
    store: stateFile,
    // The last Mesos maintenance counts only while Mesos is polled: it is what Mesos said last.
    initial: polled ? persisted : { nextId: persisted.nextId, marks: persisted.marks },
    onChange: () => state.rejudge(),
  });
  const state = new ClusterState({
    judge: new HealthJudge(config.healthCacheSize),
    logger,
    onChange: () => tables.schedule(),
    onRefetch: (appIds) => client?.refetch(appIds),
    maintenance,
    resilience: config.resilience,
    metrics: stateMetrics,
  });
  const routeWatch = new RouteWatch(logger, stateMetrics, config.resilience.panicThreshold);
  const mesos = polled
    ? new MesosPoller({
        urls: config.mesos,
        pollMs: config.mesosPollMs,
        logger,
        metrics: createMesosMetrics(metrics.registry),
        onMachines: (machines) => maintenance.setMesos(machines),
      })
    : undefined;
  const mesosStatus = () => {
    const { draining, down, at } = maintenance.mesosMachines();
    if (!mesos) return { enabled: false };
    return { enabled: true, urls: mesos.urls, ...mesos.status(), draining: draining.length, down: down.length, ...(at !== undefined && { knownAt: at }) };
  };
  const tables = new TableHolder({
    build: (version) => builder.build(state.views(), version),
    coalesceMs: config.coalesceMs,
    logger,
    metrics,
    onSwap: (table) => {
      routeWatch.onSwap(table);
      dataPlane.onSwap(table);
    },
  });
  const dataPlane: DataPlane = opts.dataPlane?.(tables, metrics) ?? new DataPath(config, tables, logger, metrics);

  let synced = false;
  // Healthy once the entry points accept (with workers, that is after the first sync reached them).
  let listening = false;
  let draining = false;
  let onFirstSync: () => void = () => {};
  const firstSync = new Promise<void>((resolve) => (onFirstSync = resolve));
  client = new MarathonClient(
    {
      urls: [...config.marathon],
      credentials: config.marathonToken ? { token: config.marathonToken } : config.marathonCredentials,
      logger,
      metrics,
      idleTimeoutMs: config.streamIdleTimeoutMs,
      resyncIntervalMs: config.resyncIntervalMs,
      refetchCoalesceMs: config.coalesceMs,
    },
    {
      snapshot: (apps) => {
        state.replaceAll(apps);
        if (!synced) {
          synced = true;
          tables.rebuildNow();
          onFirstSync();
        }
      },
      apps: (fetched, gone) => state.upsertApps(fetched, gone),
      changes: (changes) => state.apply(changes),
    },
  );
  const marathon = client;

  const admin = createAdminServer({
    logger,
    token: config.adminToken,
    metrics: async () => {
      // Gauges that are ages and counts of the moment are read when scraped.
      const lastEventAt = marathon.status().lastEventAt;
      if (lastEventAt !== undefined) metrics.marathonLastEventAt.set(lastEventAt / 1000);
      metrics.maintenanceOutOfService.set(state.outOfService().length);
      const workers = (await dataPlane.metrics?.()) ?? [];
      if (workers.length === 0) return { contentType: metrics.registry.contentType, text: await metrics.registry.metrics() };
      const own = await metrics.registry.getMetricsAsJSON();
      const merged = AggregatorRegistry.aggregate([own, ...workers] as Parameters<typeof AggregatorRegistry.aggregate>[0]);
      return { contentType: merged.contentType, text: await merged.metrics() };
    },
    table: () => tables.current,
    runtime: () => dataPlane.runtime(),
    swaps: () => tables.recentSwaps(),
    resync: async () => {
      const before = marathon.status().lastSyncAt;
      await marathon.resync('admin');
      const after = marathon.status();
      if (after.lastSyncAt === before) throw new Error(after.lastError ?? 're-sync did not complete');
    },
    maintenance: {
      view: () => {
        const { draining, down } = maintenance.mesosMachines();
        return {
          mesos: { ...mesosStatus(), draining, down },
          marks: maintenance.listMarks(),
          outOfService: state.outOfService(),
          stateFile: stateFile.status(),
        };
      },
      // The answer waits for the table: once the operator has it, no new request reaches what the mark names.
      add: async (mark) => {
        const result = await maintenance.addMark(mark);
        tables.rebuildNow();
        return result;
      },
      remove: async (id) => {
        const result = await maintenance.deleteMark(id);
        tables.rebuildNow();
        return result;
      },
    },
    health: () => {
      const table = tables.current;
      const status = marathon.status();
      return {
        // With workers, at least one must be accepting (a crash-looping pool is not healthy).
        serving: listening && !draining && (dataPlane.status?.().running ?? 1) > 0,
        body: {
          status: draining ? 'draining' : !listening ? 'starting' : status.connected ? 'ok' : 'stale',
          marathon: status,
          table: {
            version: table.version,
            ageMs: Date.now() - table.builtAt,
            routes: table.routes.length,
            backends: table.routes.reduce((n, r) => n + r.backends.length, 0),
            disabled: table.disabled.length,
          },
          cluster: state.counts(),
          ...(dataPlane.status && { workers: dataPlane.status() }),
          mesos: mesosStatus(),
          maintenance: { marks: maintenance.listMarks().length, outOfService: state.outOfService().length, stateFile: stateFile.status() },
        },
      };
    },
  });
  const adminAddress = await listen(admin, config.admin.host, config.admin.port);
  logger.info({ admin: adminAddress }, 'admin API listening');
  marathon.start();
  mesos?.start();

  const entries = firstSync.then(async () => {
    const addresses = await dataPlane.listen();
    listening = true;
    logger.info({ ...addresses, routes: tables.current.routes.length }, 'first sync done, proxy listening');
    return addresses;
  });
  // A failure to listen surfaces through `http`; this keeps it from being an unhandled rejection meanwhile.
  entries.catch(() => {});

  return {
    admin: adminAddress,
    http: entries.then((a) => a.http),
    https: entries.then((a) => a.https),
    tables,
    metrics,
    async reload(next) {
      const plan = planReload(config, next);
      const applied: string[] = [...plan.live];
      const restartNeeded: string[] = [...plan.restart];
      // Workers log too: a new log level reaches them with a new generation.
      const workersToo = plan.live.includes('logLevel') && dataPlane.reload !== undefined;
      if (plan.dataPath.length > 0 || workersToo) {
        if (dataPlane.reload) {
          await dataPlane.reload(next);
          applied.push(...plan.dataPath);
        } else restartNeeded.push(...plan.dataPath);
      }
      const before = config;
      config = runningConfig(before, next, restartNeeded as (keyof Config)[]);
      if (before.logLevel !== config.logLevel) logger.level = config.logLevel;
      if (before.realm !== config.realm || before.domain !== config.domain) {
        builder = new TableBuilder(builderOptions());
        tables.rebuildNow();
      }
      logger.info({ applied, restartNeeded }, restartNeeded.length > 0 ? 'config reloaded; some changes need a restart' : 'config reloaded');
      return { applied, restartNeeded };
    },
    async stop() {
      // /health answers 503 while requests drain, so the machine's own balancer stops sending.
      draining = true;
      tables.close();
      state.close();
      maintenance.close();
      await Promise.all([marathon.stop(), mesos?.stop(), stateFile.idle()]);
      await dataPlane.close();
      await closeServer(admin);
    },
  };
}
