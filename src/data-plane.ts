import type { RuntimeStatus } from './admin/routes-view.js';
import type { EntryAddresses } from './cluster/messages.js';
import type { WorkersStatus } from './cluster/pool.js';
import type { Config } from './config/schema.js';
import type { RoutingTable } from './routing/types.js';

/**
 * Where the control plane sends its tables: the data path in this process (`--workers 0`), or a
 * pool of proxy worker processes.
 */
export interface DataPlane {
  onSwap(table: RoutingTable): void;
  /** Opens the entry points; called once the first full sync is live. */
  listen(): Promise<EntryAddresses>;
  runtime(): RuntimeStatus | Promise<RuntimeStatus>;
  /** Metrics kept in other processes (prom-client JSON, one array per process), aggregated at scrape time. */
  metrics?(): Promise<object[][]>;
  /** The worker processes, for `/health`. */
  status?(): WorkersStatus;
  /** Applies a reloaded config to the data path; absent = a data-path change needs a restart. */
  reload?(config: Readonly<Config>): Promise<void>;
  close(): Promise<void>;
}
