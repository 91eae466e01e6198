import type { AddressInfo } from 'node:net';
import type { RuntimeStatus } from '../admin/routes-view.js';
import type { Config } from '../config/schema.js';
import type { TableParts } from '../routing/routing-table.js';
import type { RoutingTable } from '../routing/types.js';
import { tableDelta, type TableDelta } from './table-delta.js';

/**
 * What the primary and its proxy workers say to each other over the cluster IPC channel
 * (JSON-serialised). The primary owns Marathon, Mesos, the maintenance marks and the table;
 * a worker owns only its share of the connections.
 */
export type ToWorker =
  /** First message: the config to build the data path from (credentials removed) and the worker's slot. */
  | { readonly type: 'start'; readonly config: Config; readonly index: number }
  /** The whole live table: once after `start`, and again when the worker asks (`table-resync`). */
  | { readonly type: 'table'; readonly version: number; readonly parts: TableParts }
  /** Every swap: what changed since the table of version `delta.base`. */
  | { readonly type: 'table-delta'; readonly delta: TableDelta }
  /** Open the entry points (the first full sync is done). */
  | { readonly type: 'listen' }
  | { readonly type: 'request'; readonly id: number; readonly what: 'runtime' | 'metrics' }
  /** Stop accepting, let requests in flight finish (bounded by shutdownGraceMs), exit 0. */
  | { readonly type: 'stop' };

export interface EntryAddresses {
  readonly http: AddressInfo;
  readonly https?: AddressInfo;
}

export type FromWorker =
  /** The worker listens for messages: the primary sends `start` and the table. */
  | { readonly type: 'ready' }
  | { readonly type: 'listening'; readonly addresses: EntryAddresses }
  | { readonly type: 'listen-failed'; readonly error: string }
  /** `at`: the worker's clock (Unix ms) when the table took effect there. */
  | { readonly type: 'table-applied'; readonly version: number; readonly at: number }
  /** A delta did not follow the worker's table: it needs the whole table. */
  | { readonly type: 'table-resync'; readonly version: number }
  | { readonly type: 'reply'; readonly id: number; readonly body: RuntimeStatus | object[] };

/** A table as a message: its parts only (the lookup indexes are rebuilt by the worker). */
export function tableMessage(table: RoutingTable): ToWorker {
  const { routes, portRoutes, tlsRoutes, disabled, certificates } = table;
  return { type: 'table', version: table.version, parts: { routes, portRoutes, tlsRoutes, disabled, certificates } };
}

/**
 * The primary's side of table messages: each swap becomes a delta from the table it last saw (the
 * holder's previous one), so a task event sends one route, not the whole table.
 */
export class TableSender {
  #last: RoutingTable | undefined;

  /** The message for a newly swapped-in table: a delta when a previous table was seen, else the whole table. */
  next(table: RoutingTable): ToWorker {
    const last = this.#last;
    this.#last = table;
    return last === undefined ? tableMessage(table) : { type: 'table-delta', delta: tableDelta(last, table) };
  }
}

/** The config a worker gets: what the data path needs, without the control plane's credentials. */
export function workerConfig(config: Readonly<Config>): Config {
  const { marathonCredentials: _c, marathonToken: _t, adminToken: _a, ...rest } = config;
  return rest as Config;
}

export function isFromWorker(message: unknown): message is FromWorker {
  return typeof message === 'object' && message !== null && typeof (message as { type?: unknown }).type === 'string';
}
