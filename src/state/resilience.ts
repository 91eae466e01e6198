/**
 * How baton behaves on the cluster's worst day (see the config's `resilience` settings, whose
 * defaults these are): lost tasks stay as suspects, a burst of removals is held back, and a route
 * with too few healthy backends routes to all of them (panic routing, in the routing table).
 */
export interface RemovalGuardOptions {
  /** Largest share of an app's routable tasks one burst may take out of rotation; 1 turns the guard off. */
  readonly maxShare: number;
  /** A burst: removals within this long of the first one. */
  readonly windowMs: number;
  /** A held task is released (its removal applied) after this long at the latest. */
  readonly holdMs: number;
}

export interface ResilienceOptions {
  /** `suspect`: TASK_UNREACHABLE/LOST/UNKNOWN tasks stay routable with less traffic; `remove`: they leave rotation (guarded). */
  readonly lostTasks: 'suspect' | 'remove';
  /** A suspect backend's weight relative to a normal one. */
  readonly suspectWeight: number;
  /** A route routes to every task not in maintenance while fewer than this share are healthy; 0 = never. */
  readonly panicThreshold: number;
  readonly removalGuard: RemovalGuardOptions;
}

export const DEFAULT_RESILIENCE: ResilienceOptions = Object.freeze({
  lostTasks: 'suspect',
  suspectWeight: 0.25,
  // Envoy's default panic threshold.
  panicThreshold: 0.5,
  removalGuard: Object.freeze({ maxShare: 0.5, windowMs: 10_000, holdMs: 300_000 }),
});
