import type { MetricValueWithName, Registry } from 'prom-client';
import { collector, type Collector } from './collector.js';

/** `baton_backend_breaker_state` values. */
export const BREAKER_STATE = { closed: 0, 'half-open': 1, open: 2 } as const;

interface BackendEntry {
  readonly app: string;
  /** Failed attempts by error code; made at the first failure (an empty Map per backend is ~400 bytes, 19 MB at 50,000). */
  errors: Map<string, number> | undefined;
  breaker: number;
}

/**
 * Per backend address of the live table: failed attempts by `x-baton-error` code and the breaker
 * state, exported as `baton_backend_errors_total` and `baton_backend_breaker_state`. The entries
 * are those of the table (`retain` on every swap), so label sets follow it: what a backend that
 * left the table does afterwards (requests still in flight failing) is not recorded. Failures are
 * rare next to requests, so the cost of a Map lookup there does not matter.
 */
export class BackendStatsTable {
  private readonly entries = new Map<string, BackendEntry>();
  readonly errors: Collector<'app' | 'backend' | 'code'>;
  readonly breakerState: Collector<'app' | 'backend'>;

  constructor(registry: Registry) {
    this.errors = collector(registry, { name: 'baton_backend_errors_total', help: 'Failed attempts on a backend by x-baton-error code', type: 'counter' }, () => {
      const out: MetricValueWithName<'app' | 'backend' | 'code'>[] = [];
      for (const [backend, { app, errors }] of this.entries) {
        if (errors !== undefined) for (const [code, value] of errors) out.push({ labels: { app, backend, code }, value });
      }
      return out;
    });
    // Each worker has its own breakers: the aggregated value is the worst one.
    this.breakerState = collector(
      registry,
      { name: 'baton_backend_breaker_state', help: 'Backend circuit breaker: 0 closed, 1 half-open, 2 open', type: 'gauge', aggregator: 'max' },
      () => [...this.entries].map(([backend, { app, breaker }]) => ({ labels: { app, backend }, value: breaker })),
    );
  }

  /** An attempt on `address` failed with `code`. */
  failed(address: string, code: string): void {
    const entry = this.entries.get(address);
    if (entry === undefined) return;
    const errors = (entry.errors ??= new Map());
    errors.set(code, (errors.get(code) ?? 0) + 1);
  }

  /** The breaker of `address` moved to `state` (see BREAKER_STATE). */
  breaker(address: string, state: number): void {
    const entry = this.entries.get(address);
    if (entry !== undefined) entry.breaker = state;
  }

  /**
   * The backends of the new table, address -> app id: entries of the others are dropped, new ones
   * start with no errors and a closed breaker, as does an address that now belongs to another app (the registry then tells the breakers it knows).
   */
  retain(apps: ReadonlyMap<string, string>): void {
    for (const address of this.entries.keys()) if (!apps.has(address)) this.entries.delete(address);
    for (const [address, app] of apps) this.follow(address, app);
  }

  /** As `retain`, when only the backends at `changed` may have come, left or changed app since the last call. */
  retainChanged(apps: ReadonlyMap<string, string>, changed: Iterable<string>): void {
    for (const address of changed) {
      const app = apps.get(address);
      if (app === undefined) this.entries.delete(address);
      else this.follow(address, app);
    }
  }

  private follow(address: string, app: string): void {
    // An address now serving another app (a task port reused) starts over.
    if (this.entries.get(address)?.app !== app) this.entries.set(address, { app, errors: undefined, breaker: BREAKER_STATE.closed });
  }
}
