import type { Backend } from '../routing/types.js';
import type { PickContext, PickRoute } from './balancer.js';

/** Not tried already and available now (weight aside). */
export function canTake(backend: Backend, ctx: PickContext, exclude: ReadonlySet<string> | undefined): boolean {
  return (exclude === undefined || !exclude.has(backend.address)) && ctx.available(backend);
}

/** All backends weigh the same (a route of one app always does): the cheap paths apply. */
export function sameWeights(backends: readonly Backend[]): boolean {
  const first = backends[0]!.weight;
  for (let i = 1; i < backends.length; i++) if (backends[i]!.weight !== first) return false;
  return true;
}

/** The fractional part of phi. */
const PHI = 0.6180339887498949;
/** Past 2^24 the product loses fraction bits; the sequence starts over, which is as good. */
const CURSOR_WRAP = 0x1000000;

/**
 * The route's next point of the golden-ratio sequence (k * phi mod 1), advancing its cursor.
 * Consecutive points spread evenly over [0, 1) (no gap is ever more than phi^2 times another),
 * so choosing by weight with them is a smooth weighted round robin that needs no per-backend state.
 */
export function nextPoint(route: PickRoute): number {
  const k = route.cursor;
  route.cursor = k + 1 >= CURSOR_WRAP ? 0 : k + 1;
  return (k * PHI) % 1;
}

/**
 * The index of the backend whose share of [0, 1) holds `x`, shares sized by weight, ignoring
 * backend `skip` (-1: none); -1 when no backend has weight. Asks nothing of the registry.
 */
export function weightedIndex(backends: readonly Backend[], x: number, skip: number): number {
  let total = 0;
  for (let i = 0; i < backends.length; i++) if (i !== skip) total += backends[i]!.weight;
  if (total <= 0) return -1;
  let left = x * total;
  let last = -1;
  for (let i = 0; i < backends.length; i++) {
    const weight = backends[i]!.weight;
    if (i === skip || weight <= 0) continue;
    last = i;
    left -= weight;
    if (left < 0) return i;
  }
  return last;
}

/** Where `x` falls inside backend i's share, rescaled to [0, 1): a fresh uniform point once we know the share was hit. */
export function withinShare(backends: readonly Backend[], i: number, x: number): number {
  let total = 0;
  let before = 0;
  for (let k = 0; k < backends.length; k++) {
    total += backends[k]!.weight;
    if (k < i) before += backends[k]!.weight;
  }
  const inside = (x * total - before) / backends[i]!.weight;
  return inside < 0 ? 0 : inside >= 1 ? 0.999999999 : inside;
}

/**
 * A backend that may take the request (other than `skip`), chosen by weight among those that
 * may, in one pass that asks the registry once per backend: weighted reservoir sampling driven by
 * the single uniform `u` (each decision rescales it, so it stays uniform for the next one).
 */
export function weightedAmongAvailable(
  backends: readonly Backend[],
  ctx: PickContext,
  exclude: ReadonlySet<string> | undefined,
  u: number,
  skip?: Backend,
): Backend | undefined {
  let chosen: Backend | undefined;
  let total = 0;
  for (let i = 0; i < backends.length; i++) {
    const backend = backends[i]!;
    const weight = backend.weight;
    if (weight <= 0 || backend === skip || !canTake(backend, ctx, exclude)) continue;
    total += weight;
    const p = weight / total;
    if (u < p) {
      chosen = backend;
      u /= p;
    } else {
      u = (u - p) / (1 - p);
    }
  }
  return chosen;
}
