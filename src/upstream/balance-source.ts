import type { Backend } from '../routing/types.js';
import type { PickContext } from './balancer.js';
import { canTake, sameWeights } from './balance-weights.js';

/**
 * Source hashing by rendezvous (highest random weight): every backend scores hash(client, backend
 * id) and the highest score wins. Adding or removing a backend moves only the clients whose
 * winner it is (about 1/n of them), and skipping one that may not take the request sends its
 * clients to their second choice, spread over the others. With different weights a score is
 * weight / -ln(hash) (the logarithmic method), so a backend wins its weight's share of clients.
 * The first pass asks the registry nothing; usually its winner may take the request.
 */
export function sourceHash(backends: readonly Backend[], ctx: PickContext, clientAddress: string, exclude: ReadonlySet<string> | undefined): Backend | undefined {
  const client = hashText(FNV_OFFSET, clientAddress);
  const weighted = !sameWeights(backends);
  const first = highest(backends, client, weighted, exclude, undefined);
  if (first === undefined || ctx.available(first)) return first;
  return highest(backends, client, weighted, exclude, ctx);
}

function highest(backends: readonly Backend[], client: number, weighted: boolean, exclude: ReadonlySet<string> | undefined, ctx: PickContext | undefined): Backend | undefined {
  let best: Backend | undefined;
  let bestScore = -1;
  for (let i = 0; i < backends.length; i++) {
    const backend = backends[i]!;
    const weight = backend.weight;
    if (weight <= 0) continue;
    const hash = mix(hashText(client, backend.id));
    // The hash as a point in (0, 1): its -ln is positive and finite.
    const score = weighted ? weight / -Math.log((hash + 0.5) / 4294967296) : hash;
    if (score <= bestScore) continue;
    if (ctx === undefined ? exclude !== undefined && exclude.has(backend.address) : !canTake(backend, ctx, exclude)) continue;
    best = backend;
    bestScore = score;
  }
  return best;
}

const FNV_OFFSET = 0x811c9dc5;

/** FNV-1a over the UTF-16 units of `text`, continuing from `hash`. */
function hashText(hash: number, text: string): number {
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash;
}

/** murmur3's finalizer: FNV alone lets similar inputs keep similar high bits. As an unsigned 32-bit number. */
function mix(hash: number): number {
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
  return (hash ^ (hash >>> 16)) >>> 0;
}
