import type { Backend } from '../routing/types.js';
import type { PickContext } from './balancer.js';
import { canTake, sameWeights, weightedAmongAvailable, weightedIndex } from './balance-weights.js';

/** Random by weight; a draw that lands on a backend that may not take the request draws again among those that may. */
export function randomChoice(backends: readonly Backend[], ctx: PickContext, exclude: ReadonlySet<string> | undefined): Backend | undefined {
  const random = ctx.random ?? Math.random;
  const n = backends.length;
  const i = sameWeights(backends) ? (backends[0]!.weight > 0 ? Math.min(Math.floor(random() * n), n - 1) : -1) : weightedIndex(backends, random(), -1);
  if (i < 0) return undefined;
  const backend = backends[i]!;
  if (canTake(backend, ctx, exclude)) return backend;
  return weightedAmongAvailable(backends, ctx, exclude, random());
}
