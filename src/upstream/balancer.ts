import type { Backend, BackendPolicy } from '../routing/types.js';
import { leastConn } from './balance-leastconn.js';
import { powerOfTwoChoices } from './balance-p2c.js';
import { randomChoice } from './balance-random.js';
import { roundRobin } from './balance-roundrobin.js';
import { sourceHash } from './balance-source.js';
import { canTake } from './balance-weights.js';

export interface BackendLoad {
  /** Requests or connections in flight. */
  readonly inFlight: number;
  /** Latency EWMA in ms; 0 = unknown. */
  readonly latencyMs: number;
}

/** What the picker asks of the backend registry. */
export interface PickContext {
  /**
   * May this backend be chosen now? false for an open breaker; for a half-open one, true while
   * its probe is still free. A query without side effects: `pick` may ask about several backends,
   * and about one more than once, before it chooses; the caller takes the probe when it sends.
   */
  available(backend: Backend): boolean;
  load(backend: Backend): BackendLoad;
  /** Uniform in [0, 1), for random and p2c; Math.random when absent (tests inject a seeded one). */
  readonly random?: () => number;
}

/** A route as the picker sees it; `cursor` is the only state it keeps, on the route itself. */
export interface PickRoute {
  readonly backends: readonly Backend[];
  readonly policy: BackendPolicy;
  cursor: number;
}

/**
 * The backend for one request or connection, by the route's policy; undefined when no backend
 * may take it (the caller answers all-backends-open or no-healthy-backend). Backends that are not
 * available, or whose address is in `exclude` (tried already: retries), are skipped; a backend of
 * weight 0 gets no new clients. On a sticky route, `stickyId` (the cookie's) naming a backend that
 * may take the request wins, whatever its weight.
 */
export function pick(route: PickRoute, ctx: PickContext, clientAddress: string, stickyId?: string, exclude?: ReadonlySet<string>): Backend | undefined {
  const backends = route.backends;
  if (backends.length === 0) return undefined;
  if (stickyId !== undefined && route.policy.sticky) {
    for (let i = 0; i < backends.length; i++) {
      const backend = backends[i]!;
      if (backend.id !== stickyId) continue;
      if (canTake(backend, ctx, exclude)) return backend;
      break;
    }
  }
  switch (route.policy.balance) {
    case 'roundrobin':
      return roundRobin(route, ctx, exclude);
    case 'leastconn':
      return leastConn(route, ctx, exclude);
    case 'p2c':
      return powerOfTwoChoices(backends, ctx, exclude);
    case 'random':
      return randomChoice(backends, ctx, exclude);
    case 'source':
      return sourceHash(backends, ctx, clientAddress, exclude);
  }
}
