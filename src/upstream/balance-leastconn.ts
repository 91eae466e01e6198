import type { Backend } from '../routing/types.js';
import type { PickContext, PickRoute } from './balancer.js';
import { nextPoint, sameWeights } from './balance-weights.js';

/**
 * Least connections: the fewest requests in flight relative to weight. Ties (every backend idle,
 * the usual case at low traffic) go round: with equal weights to the first tied backend from the
 * cursor on, with different weights by weight along the route's golden-ratio sequence, so idle
 * backends take turns instead of the first one taking all. Backends that cannot win are not
 * asked whether they are available.
 */
export function leastConn(route: PickRoute, ctx: PickContext, exclude: ReadonlySet<string> | undefined): Backend | undefined {
  const backends = route.backends;
  const n = backends.length;
  const rotate = sameWeights(backends);
  const start = rotate ? route.cursor % n : 0;
  let u = rotate ? 0 : nextPoint(route);
  let best = -1;
  let bestInFlight = 0;
  let bestWeight = 0;
  let tied = 0;
  for (let k = 0; k < n; k++) {
    const i = start + k < n ? start + k : start + k - n;
    const backend = backends[i]!;
    const weight = backend.weight;
    if (weight <= 0 || (exclude !== undefined && exclude.has(backend.address))) continue;
    const inFlight = ctx.load(backend).inFlight;
    // inFlight / weight against bestInFlight / bestWeight, without dividing.
    const order = best < 0 ? -1 : inFlight * bestWeight - bestInFlight * weight;
    if (order > 0 || (order === 0 && rotate) || !ctx.available(backend)) continue;
    if (order === 0) {
      // A weighted tie: keep each tied backend with probability weight / tied weight
      // (reservoir sampling); rescaling u keeps it uniform for the next decision.
      tied += weight;
      const p = weight / tied;
      if (u >= p) {
        u = (u - p) / (1 - p);
        continue;
      }
      u /= p;
    } else {
      tied = weight;
    }
    best = i;
    bestInFlight = inFlight;
    bestWeight = weight;
  }
  if (best < 0) return undefined;
  if (rotate) route.cursor = best + 1;
  return backends[best];
}
