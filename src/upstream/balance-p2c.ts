import type { Backend } from '../routing/types.js';
import type { PickContext } from './balancer.js';
import { canTake, sameWeights, weightedAmongAvailable, weightedIndex } from './balance-weights.js';

/**
 * Power of two choices: two different backends drawn by weight, the less loaded one wins. Load is
 * (in flight + 1) * (latency EWMA + 1), so an idle fast backend beats an idle slow one; a tie goes
 * to the first draw, which keeps the weight split while backends are idle. When a draw may not
 * take the request, a replacement is drawn among the others that may.
 */
export function powerOfTwoChoices(backends: readonly Backend[], ctx: PickContext, exclude: ReadonlySet<string> | undefined): Backend | undefined {
  const random = ctx.random ?? Math.random;
  const n = backends.length;
  let i: number;
  let j: number;
  if (sameWeights(backends)) {
    if (backends[0]!.weight <= 0) return undefined;
    i = Math.min(Math.floor(random() * n), n - 1);
    // A uniform draw among the n - 1 others.
    j = n === 1 ? -1 : Math.min(Math.floor(random() * (n - 1)), n - 2);
    if (j >= i) j++;
  } else {
    i = weightedIndex(backends, random(), -1);
    if (i < 0) return undefined;
    j = weightedIndex(backends, random(), i);
  }
  let a: Backend | undefined = backends[i]!;
  let b: Backend | undefined = j < 0 ? undefined : backends[j]!;
  if (!canTake(a, ctx, exclude)) a = undefined;
  if (b !== undefined && !canTake(b, ctx, exclude)) b = undefined;
  if (a === undefined) {
    a = b ?? weightedAmongAvailable(backends, ctx, exclude, random());
    if (a === undefined) return undefined;
    b = undefined;
  }
  if (b === undefined && n > 1) b = weightedAmongAvailable(backends, ctx, exclude, random(), a);
  if (b === undefined) return a;
  return cost(b, ctx) < cost(a, ctx) ? b : a;
}

function cost(backend: Backend, ctx: PickContext): number {
  const load = ctx.load(backend);
  return (load.inFlight + 1) * (load.latencyMs + 1);
}
