import type { Backend, Balance } from '../../../src/routing/types.js';
import { seededRandom } from '../../../src/sim/seeded-random.js';
import type { BackendLoad, PickContext, PickRoute } from '../../../src/upstream/balancer.js';

/** A seeded uniform source, so random and p2c tests repeat exactly. */
export const seeded = seededRandom;

/** n backends of one app (`/blue`: blue.1 on blue-1:8080, ...), each of weight `weight`. */
export function backendsOf(appId: string, n: number, weight = 1): Backend[] {
  return Array.from({ length: n }, (_, i) => ({
    address: `${appId.slice(1)}-${i + 1}:8080`,
    host: `${appId.slice(1)}-${i + 1}`,
    port: 8080,
    taskId: `${appId.slice(1)}.${i + 1}`,
    appId,
    id: `${appId.slice(1)}-id-${i + 1}`,
    weight,
  }));
}

export function routeOf(backends: readonly Backend[], balance: Balance, sticky = false): PickRoute {
  return { backends, policy: { balance, sticky }, cursor: 0 };
}


/** A registry stand-in: backends in `down` are unavailable; loads default to idle and unknown latency. */
export class FakeRegistry implements PickContext {
  readonly down = new Set<string>();
  readonly loads = new Map<string, BackendLoad>();
  readonly random: () => number;
  /** How often `available` was asked, per address. */
  readonly asked = new Map<string, number>();

  constructor(seed = 1) {
    this.random = seeded(seed);
  }

  available(backend: Backend): boolean {
    this.asked.set(backend.address, (this.asked.get(backend.address) ?? 0) + 1);
    return !this.down.has(backend.address);
  }

  load(backend: Backend): BackendLoad {
    return this.loads.get(backend.address) ?? { inFlight: 0, latencyMs: 0 };
  }
}

/** How many of `picks` each key (by `keyOf`) got; undefined picks count under "none". */
export function tally(picks: Array<Backend | undefined>, keyOf: (b: Backend) => string = (b) => b.taskId): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const b of picks) {
    const key = b === undefined ? 'none' : keyOf(b);
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

export function times<T>(n: number, f: (i: number) => T): T[] {
  return Array.from({ length: n }, (_, i) => f(i));
}
