import type { Backend } from '../routing/types.js';
import type { PickContext, PickRoute } from './balancer.js';
import { canTake, nextPoint, sameWeights, weightedAmongAvailable, weightedIndex, withinShare } from './balance-weights.js';

/**
 * Round robin. Equal weights (the common case, one app per route): the cursor names the next
 * backend, and one that may not take the request hands its turn to the next that may; the cursor
 * then moves past the chosen one, so no backend gets two turns in a row for a skipped one.
 * Different weights (blue/green): the golden-ratio sequence, a smooth weighted round robin; a
 * backend that may not take the request has its share spread over the others by weight.
 */
export function roundRobin(route: PickRoute, ctx: PickContext, exclude: ReadonlySet<string> | undefined): Backend | undefined {
  const backends = route.backends;
  const n = backends.length;
  if (sameWeights(backends)) {
    if (backends[0]!.weight <= 0) return undefined;
    const start = route.cursor % n;
    for (let k = 0; k < n; k++) {
      const i = start + k < n ? start + k : start + k - n;
      const backend = backends[i]!;
      if (canTake(backend, ctx, exclude)) {
        route.cursor = i + 1;
        return backend;
      }
    }
    return undefined;
  }
  const x = nextPoint(route);
  const i = weightedIndex(backends, x, -1);
  if (i < 0) return undefined;
  const backend = backends[i]!;
  if (canTake(backend, ctx, exclude)) return backend;
  return weightedAmongAvailable(backends, ctx, exclude, withinShare(backends, i, x));
}
