import type { Logger } from 'pino';
import type { StateMetrics } from './metrics.js';
import type { RemovalGuardOptions } from './resilience.js';

/** One app's burst: removals since `start`, against the routable tasks it had then. */
interface Burst {
  readonly start: number;
  readonly base: number;
  removed: number;
  held: number;
}

/**
 * Decides, removal by removal, whether a routable task may leave rotation now. Within one burst
 * (`windowMs` from its first removal) at most `maxShare` of an app's routable tasks (and always
 * one) may go for reasons the guard watches (failures, health checks, lost tasks under
 * `lostTasks: remove`); the rest are held. A control-plane hiccup that declares most of a cluster dead then costs some
 * traffic share, not every route. One warning and one count per app per burst.
 */
export class RemovalGuard {
  readonly #bursts = new Map<string, Burst>();

  constructor(
    private readonly opts: RemovalGuardOptions,
    private readonly logger: Logger,
    private readonly metrics: StateMetrics | undefined,
  ) {}

  /**
   * True when the task may leave now, false when it must be held. `routable` counts the app's
   * routable tasks before this removal; it is read only when a burst starts.
   */
  admit(appId: string, reason: string, now: number, routable: () => number): boolean {
    if (this.opts.maxShare >= 1) return true;
    let burst = this.#bursts.get(appId);
    if (burst === undefined || now - burst.start >= this.opts.windowMs) {
      burst = { start: now, base: routable(), removed: 0, held: 0 };
      this.#bursts.set(appId, burst);
    }
    // One task leaving is never a burst: a single-task app keeps Marathon's verdicts.
    if (burst.removed === 0 || burst.removed + 1 <= Math.floor(this.opts.maxShare * burst.base)) {
      burst.removed++;
      return true;
    }
    burst.held++;
    if (burst.held === 1) {
      this.metrics?.guardBursts.inc({ app: appId });
      this.logger.warn(
        { appId, reason, routable: burst.base, removed: burst.removed, maxShare: this.opts.maxShare, windowMs: this.opts.windowMs, holdMs: this.opts.holdMs },
        `removal guard: one burst of events would take more than ${Math.round(this.opts.maxShare * 100)}% of an app's tasks out of rotation; the rest stay routable as suspects until they recover, Marathon confirms them gone, or the hold ends`,
      );
    }
    return false;
  }

  /** The app is gone: its burst with it. */
  forget(appId: string): void {
    this.#bursts.delete(appId);
  }
}
