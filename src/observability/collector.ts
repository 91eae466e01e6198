import type { Aggregator, Metric, MetricValueWithName, Registry } from 'prom-client';

/** prom-client's type names (its `MetricType` enum exists in its types only). */
export type CollectorType = 'counter' | 'gauge' | 'histogram';

/** What a metric's `get()` returns: the shape `getMetricsAsJSON()` collects and `AggregatorRegistry.aggregate` merges. */
export interface CollectedMetric<T extends string> {
  readonly name: string;
  readonly help: string;
  readonly type: CollectorType;
  readonly aggregator: Aggregator;
  readonly values: MetricValueWithName<T>[];
}

/**
 * A metric whose values are read from plain accumulators when scraped, instead of being kept by
 * prom-client (whose `inc({labels})` hashes the label object on every call). A Registry takes
 * any object with `name` and `get()`; `get()` returns what a prom-client metric returns, so
 * `getMetricsAsJSON()` and `AggregatorRegistry.aggregate` (node:cluster workers) treat it alike.
 */
export interface Collector<T extends string = string> {
  readonly name: string;
  readonly help: string;
  readonly type: CollectorType;
  readonly aggregator: Aggregator;
  get(): Promise<CollectedMetric<T>>;
  /** `Registry.resetMetrics()` calls it on every metric; the accumulators belong to the data path, so it does nothing. */
  reset(): void;
}

/** A collector over `values()` (called on every scrape), registered on `registry`. */
export function collector<T extends string>(
  registry: Registry,
  spec: { name: string; help: string; type: CollectorType; aggregator?: Aggregator },
  values: () => MetricValueWithName<T>[],
): Collector<T> {
  const { name, help, type } = spec;
  const aggregator = spec.aggregator ?? 'sum';
  const metric: Collector<T> = {
    name,
    help,
    type,
    aggregator,
    get: async () => ({ name, help, type, aggregator, values: values() }),
    reset() {},
  };
  // prom-client's type names its own four classes only; at run time it needs `name` and `get()`.
  registry.registerMetric(metric as unknown as Metric);
  return metric;
}
