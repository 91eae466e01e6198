import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import { emptyTable } from './routing-table.js';
import { countBackendsSince, SwapHistory, type SwapRecord } from './swap-history.js';
import { sameTable } from './table-equal.js';
import type { DisabledRoute, RoutingTable, TableSource } from './types.js';

const disabledKey = (d: DisabledRoute) => `${d.appId}\u0000${d.portIndex}\u0000${d.reason}`;

/**
 * Under a storm of changes the window stretches to this many times what the last rebuild (build,
 * compare, swap) took, so rebuilding takes at most about a tenth of the control plane's time and
 * the proxy sharing its event loop keeps its latency; never past MAX_WINDOW_MS, so one slow build
 * (a cold start) does not hold changes back for long.
 */
const BUSY_FACTOR = 9;
const MAX_WINDOW_MS = 250;

export interface TableHolderOptions {
  /** Builds a table carrying the given version from the current state. */
  readonly build: (version: number) => RoutingTable;
  /** At most one rebuild per window: a burst of `schedule()` calls waits for its end. Default 20 ms; stretched while rebuilds are costly (see BUSY_FACTOR). */
  readonly coalesceMs?: number;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly onSwap?: (table: RoutingTable) => void;
}

/**
 * Holds the live table. A change after a quiet spell is built at once (a killed task must stop
 * receiving requests now, not a window later); changes that follow within the window are
 * gathered into one rebuild at its end, so a storm of events costs one build per window. A rebuild that changes nothing is dropped, so the
 * version counts real changes; a swap is one reference assignment, and a request keeps the
 * table it looked up.
 */
export class TableHolder implements TableSource {
  #table: RoutingTable = emptyTable();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #lastBuildAt = -Infinity;
  /** How long the last rebuild took, swap included (ms). */
  #lastCostMs = 0;
  /** Backends in the current table. */
  #backends = 0;
  readonly #history = new SwapHistory();
  readonly #build: (version: number) => RoutingTable;
  readonly #coalesceMs: number;
  readonly #logger: Logger;
  readonly #metrics: Metrics;
  readonly #onSwap: ((table: RoutingTable) => void) | undefined;
  readonly #rebuild = (): void => {
    this.#timer = undefined;
    this.rebuildNow();
  };

  constructor(opts: TableHolderOptions) {
    this.#build = opts.build;
    this.#coalesceMs = opts.coalesceMs ?? 20;
    this.#logger = opts.logger;
    this.#metrics = opts.metrics;
    this.#onSwap = opts.onSwap;
  }

  get current(): RoutingTable {
    return this.#table;
  }

  /** Rebuild now if the last build is a window old, else at the window's end (calls meanwhile join it). */
  schedule(): void {
    if (this.#closed || this.#timer !== undefined) return;
    const window = Math.max(this.#coalesceMs, Math.min(this.#lastCostMs * BUSY_FACTOR, MAX_WINDOW_MS));
    const wait = this.#lastBuildAt + window - Date.now();
    if (wait <= 0) this.rebuildNow();
    else this.#timer = setTimeout(this.#rebuild, wait);
  }

  /** Rebuild at once (a pending scheduled rebuild is then redundant). Returns whether it swapped. */
  rebuildNow(): boolean {
    this.#cancel();
    this.#lastBuildAt = Date.now();
    const started = performance.now();
    try {
      return this.#swapIn(started);
    } finally {
      this.#lastCostMs = performance.now() - started;
    }
  }

  #swapIn(started: number): boolean {
    const current = this.#table;
    let next: RoutingTable;
    try {
      next = this.#build(current.version + 1);
    } catch (err) {
      this.#logger.error({ err, version: current.version }, 'routing table build failed; keeping the current table');
      return false;
    }
    const buildMs = Math.round((performance.now() - started) * 100) / 100;
    this.#metrics.tableBuildSeconds.observe(buildMs / 1000);
    if (sameTable(current, next)) return false;
    this.#table = next;
    this.#backends = countBackendsSince(current, this.#backends, next);
    this.#history.record(current, next, buildMs, this.#backends);
    this.#setGauges(next);
    this.#reportNewlyDisabled(current, next);
    this.#logger.debug(
      { version: next.version, routes: next.routes.length, portRoutes: next.portRoutes.length, tlsRoutes: next.tlsRoutes.length, disabled: next.disabled.length, buildMs },
      'routing table swapped',
    );
    if (this.#onSwap !== undefined) {
      try {
        this.#onSwap(next);
      } catch (err) {
        this.#logger.error({ err, version: next.version }, 'routing table swap listener failed');
      }
    }
    return true;
  }

  /** The last swaps, newest first. */
  recentSwaps(): readonly SwapRecord[] {
    return this.#history.recent();
  }

  /** Cancel a pending rebuild; later `schedule()` calls do nothing. */
  close(): void {
    this.#closed = true;
    this.#cancel();
  }

  #setGauges(table: RoutingTable): void {
    const m = this.#metrics;
    m.tableSwaps.inc();
    m.tableVersion.set(table.version);
    m.tableDisabledRoutes.set(table.disabled.length);
    m.tableRoutes.set({ kind: 'http' }, table.routes.length);
    m.tableRoutes.set({ kind: 'tcp' }, table.portRoutes.filter((r) => r.protocol === 'tcp').length);
    m.tableRoutes.set({ kind: 'udp' }, table.portRoutes.filter((r) => r.protocol === 'udp').length);
    m.tableRoutes.set({ kind: 'tls' }, table.tlsRoutes.length);
    m.tableBackends.set(this.#backends);
  }

  /** Each disabled route is logged once, when it first appears (not on every rebuild). */
  #reportNewlyDisabled(before: RoutingTable, after: RoutingTable): void {
    const known = new Set(before.disabled.map(disabledKey));
    for (const route of after.disabled) {
      if (!known.has(disabledKey(route))) this.#logger.warn({ appId: route.appId, portIndex: route.portIndex, reason: route.reason }, 'route disabled');
    }
  }

  #cancel(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }
}
