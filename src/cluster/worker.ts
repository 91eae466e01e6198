import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { DataPath } from '../data-path.js';
import { createLogger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';
import { createRoutingTable, emptyTable } from '../routing/routing-table.js';
import type { RoutingTable, TableSource } from '../routing/types.js';
import type { FromWorker, ToWorker } from './messages.js';
import { PatchedTable, type TableDelta } from './table-delta.js';

/** The table a worker proxies with: a whole table from the primary, patched by each delta after it. */
class ReceivedTables implements TableSource {
  #patched = new PatchedTable(emptyTable());

  get current(): RoutingTable {
    return this.#patched.current;
  }

  replace(table: RoutingTable): void {
    this.#patched = new PatchedTable(table);
  }

  apply(delta: TableDelta): RoutingTable | undefined {
    return this.#patched.apply(delta);
  }
}

/**
 * A proxy worker (node:cluster): builds the data path from the primary's config, swaps in each
 * table it is sent, answers the primary's questions (runtime state, metrics) and stops when told,
 * or when the primary goes away. It never talks to Marathon or Mesos.
 */
export function runWorker(): void {
  const send = (message: FromWorker) => process.send?.(message);
  const tables = new ReceivedTables();
  let dataPath: DataPath | undefined;
  let logger: Logger | undefined;
  let metrics: ReturnType<typeof createMetrics> | undefined;
  let stopping: Promise<void> | undefined;

  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      try {
        await dataPath?.close();
      } finally {
        logger?.flush();
        process.exit(0);
      }
    })());

  const start = (config: Config, index: number): void => {
    logger = createLogger(config.logLevel, config.logFormat).child({ worker: index });
    metrics = createMetrics({ processMetrics: true });
    dataPath = new DataPath(config, tables, logger, metrics);
  };

  const swappedIn = (table: RoutingTable): void => {
    dataPath?.onSwap(table);
    send({ type: 'table-applied', version: table.version, at: Date.now() });
  };

  const listen = (): void => {
    dataPath?.listen().then(
      (addresses) => send({ type: 'listening', addresses }),
      (err: unknown) => send({ type: 'listen-failed', error: (err as Error).message }),
    );
  };

  process.on('message', (message: ToWorker) => {
    switch (message.type) {
      case 'start':
        start(message.config, message.index);
        break;
      case 'table': {
        const table = createRoutingTable(message.version, message.parts);
        tables.replace(table);
        swappedIn(table);
        break;
      }
      case 'table-delta': {
        // A delta sent before the whole table the worker asked for: that table is newer.
        if (message.delta.version <= tables.current.version) break;
        const table = tables.apply(message.delta);
        if (table === undefined) {
          send({ type: 'table-resync', version: tables.current.version });
          break;
        }
        swappedIn(table);
        break;
      }
      case 'listen':
        listen();
        break;
      case 'request':
        if (message.what === 'runtime' && dataPath) send({ type: 'reply', id: message.id, body: dataPath.runtime() });
        else if (message.what === 'metrics' && metrics) {
          metrics.registry.getMetricsAsJSON().then((body) => send({ type: 'reply', id: message.id, body }));
        }
        break;
      case 'stop':
        void stop();
        break;
    }
  });
  // The primary gone (crashed or killed): nothing will send tables any more.
  process.on('disconnect', () => void stop());
  // A signal to the whole process group (Ctrl-C, a container stop) reaches every worker too: drain
  // as the primary would ask. SIGHUP is the primary's (config reload), never a reason to die.
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  process.on('SIGHUP', () => {});
  // Messages sent before this listener existed would be lost: the primary waits for this one.
  send({ type: 'ready' });
}
