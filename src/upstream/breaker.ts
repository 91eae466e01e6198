import type { EventEmitter } from 'node:events';
import CircuitBreaker from 'opossum';
import type { Logger } from 'pino';
import { BREAKER_STATE } from '../observability/backend-stats.js';
import type { Metrics } from '../observability/metrics.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

/** The settings of one backend's breaker: the config's, with the route's `policy.breaker` over them. */
export interface BreakerSettings {
  /** Open when more than this share (%) of the counted requests in the window failed... */
  readonly errorThresholdPercentage: number;
  /** ...and at least this many were counted; or when this many failed in a row. */
  readonly volumeThreshold: number;
  /** Open this long, then let one probe through (half-open). */
  readonly resetTimeoutMs: number;
  /** A 5xx answer is a failure. */
  readonly failOn5xx: boolean;
  /**
   * traefik's `ResponseCodeRatio(a,b,c,d)`: answers in [a,b) are failures, answers in [c,d) are
   * counted; replaces `failOn5xx`. Connect errors, resets and timeouts always count and fail.
   */
  readonly responseCodeRatio?: readonly [number, number, number, number];
}

/** What every breaker of a registry shares: where transitions are told, and the window's clock. */
export interface BreakerMonitor {
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Emits `rotate` every rolling window / 10: one timer for all breakers instead of one each. */
  readonly rotation: EventEmitter;
  readonly rollingWindowMs: number;
}

/** The action opossum runs for the half-open probe: the promise the probe's outcome settles. */
function settleWith(outcome: Promise<void>): Promise<void> {
  return outcome;
}

function ignore(): void {}

/**
 * One backend's circuit breaker: opossum's state machine (closed -> open -> half-open after
 * `resetTimeoutMs` -> closed or open again) and its rolling window, driven from recorded outcomes.
 *
 * Not through `fire()` on every request: that costs two promises, a semaphore and a closure per
 * call (measured: ~0.4 us per call, and it needs a per-request promise the proxy would have to
 * settle). Instead each outcome is fed to opossum's own accounting through the events `fire()`
 * emits: `fire` counts a request in the window, `failure` a failed one (success is the rest:
 * opossum's threshold only looks at failures / fires, and a `success` event would store one
 * latency per request). The threshold test is opossum's own rule, applied here after each
 * failure. Only the half-open probe goes through `fire()`, so opossum itself lets exactly one
 * request through and closes or re-opens on its outcome.
 */
export class BackendBreaker {
  private readonly breaker: CircuitBreaker<[Promise<void>], void>;
  /** The options object opossum keeps a reference to; it reads `resetTimeout` from it on each opening. */
  private readonly options: CircuitBreaker.Options<[Promise<void>]>;
  private current: BreakerState = 'closed';
  /** Failures since the last success (of the closed breaker). */
  private consecutiveFailures = 0;
  private settleProbe: ((failed: boolean) => void) | null = null;

  constructor(
    readonly address: string,
    private config: BreakerSettings,
    private readonly monitor: BreakerMonitor,
  ) {
    this.options = {
      // Timeouts are the upstream client's; no timer per call.
      timeout: false,
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
      rollingCountTimeout: monitor.rollingWindowMs,
      rollingCountBuckets: 10,
      rotateBucketController: monitor.rotation,
      resetTimeout: config.resetTimeoutMs,
      errorThresholdPercentage: config.errorThresholdPercentage,
      volumeThreshold: config.volumeThreshold,
      name: address,
    };
    this.breaker = new CircuitBreaker(settleWith, this.options);
    this.breaker.on('open', () => this.moved('open'));
    this.breaker.on('halfOpen', () => this.moved('half-open'));
    this.breaker.on('close', () => this.moved('closed'));
  }

  get settings(): BreakerSettings {
    return this.config;
  }

  get state(): BreakerState {
    return this.current;
  }

  /** Closed, or half-open with its probe not yet taken. */
  get available(): boolean {
    return this.current === 'closed' || (this.current === 'half-open' && this.breaker.pendingClose);
  }

  /** Requests counted and failed in the rolling window. */
  counts(): { requests: number; failures: number } {
    const { fires, failures } = this.breaker.stats;
    return { requests: fires, failures };
  }

  /** New settings (a route's labels changed); the state and the window are kept. */
  configure(settings: BreakerSettings): void {
    this.config = settings;
    this.options.resetTimeout = settings.resetTimeoutMs;
  }

  /**
   * Called when a request or connection is about to go to this backend: when the breaker is
   * half-open and its probe not taken, this one becomes the probe (returns true) and nothing else
   * gets through until its outcome is known.
   */
  takeProbe(): boolean {
    if (this.current !== 'half-open' || !this.breaker.pendingClose) return false;
    const outcome = new Promise<void>((resolve, reject) => {
      this.settleProbe = (failed) => (failed ? reject(new Error('probe failed')) : resolve());
    });
    // The rejection is opossum's to count; the returned promise only repeats it.
    this.breaker.fire(outcome).catch(ignore);
    return true;
  }

  /** The backend answered with `status` (a connection: accepted, status 0). */
  answered(status: number, probe: boolean): void {
    const ratio = this.config.responseCodeRatio;
    let failed: boolean;
    let counted = true;
    if (ratio !== undefined) {
      failed = status >= ratio[0] && status < ratio[1];
      counted = failed || (status >= ratio[2] && status < ratio[3]);
    } else {
      failed = this.config.failOn5xx && status >= 500;
    }
    if (probe) this.probeOutcome(failed);
    else if (counted) this.record(failed);
  }

  /** A connection was accepted. */
  succeeded(probe: boolean): void {
    if (probe) this.probeOutcome(false);
    else this.record(false);
  }

  /** A connect error, reset or timeout. */
  failed(probe: boolean): void {
    if (probe) this.probeOutcome(true);
    else this.record(true);
  }

  /**
   * The probe ended without a verdict (the client left before the backend answered): the breaker
   * opens again and the next probe goes after `resetTimeoutMs`.
   */
  abandoned(probe: boolean): void {
    if (probe) this.probeOutcome(true);
  }

  /** Stops the breaker (its backend left the table for good). */
  shutdown(): void {
    this.settleProbe = null;
    if (this.current !== 'closed') this.monitor.metrics.backendBreakersOpen.dec();
    this.current = 'closed';
    // Also stops listening to the rotation and clears the reset timer.
    this.breaker.shutdown();
  }

  private probeOutcome(failed: boolean): void {
    const settle = this.settleProbe;
    this.settleProbe = null;
    settle?.(failed);
  }

  /**
   * One outcome of the closed breaker into opossum's window. Outcomes of requests that were in
   * flight when it opened are not counted: the probe alone decides.
   *
   * It opens by opossum's rule (`fail()` in its circuit.js: at least `volumeThreshold` requests
   * in the window and a failure rate above the threshold), or at once after `volumeThreshold`
   * failures in a row. The second rule is baton's: a window of 10 s that holds thousands of
   * successes from before a backend died needs as many failures to tip its rate, seconds of them
   * at a high request rate, while a run of failures with no success between them says the backend
   * is failing now.
   */
  private record(failed: boolean): void {
    if (this.current !== 'closed') return;
    this.breaker.emit('fire');
    if (!failed) {
      this.consecutiveFailures = 0;
      return;
    }
    this.breaker.emit('failure');
    this.consecutiveFailures += 1;
    const { volumeThreshold, errorThresholdPercentage } = this.config;
    if (this.consecutiveFailures >= volumeThreshold) {
      this.breaker.open();
      return;
    }
    const { fires, failures } = this.breaker.stats;
    if (fires >= volumeThreshold && (failures / fires) * 100 > errorThresholdPercentage) this.breaker.open();
  }

  private moved(to: BreakerState): void {
    const from = this.current;
    if (from === to) return;
    this.current = to;
    this.consecutiveFailures = 0;
    const { metrics, logger } = this.monitor;
    if (from === 'closed') metrics.backendBreakersOpen.inc();
    else if (to === 'closed') metrics.backendBreakersOpen.dec();
    metrics.backendBreakerTransitions.inc({ to });
    metrics.backendStats.breaker(this.address, BREAKER_STATE[to]);
    if (to === 'open') {
      const { requests, failures } = this.counts();
      logger.info({ backend: this.address, from, requests, failures, resetTimeoutMs: this.config.resetTimeoutMs }, 'circuit breaker opened');
    } else if (to === 'half-open') {
      logger.info({ backend: this.address }, 'circuit breaker half-open: one probe allowed');
    } else {
      logger.info({ backend: this.address }, 'circuit breaker closed: probe succeeded');
    }
  }
}
