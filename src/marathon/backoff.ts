/**
 * Capped exponential backoff with full jitter: attempt n waits a random time in
 * [0, min(maxMs, initialMs * 2^n)). Full jitter spreads the reconnects of many baton instances
 * after a Marathon failover instead of having them all hit the new leader at once.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** Delay before the next attempt; each call counts one more attempt. */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt += 1;
    return Math.floor(this.random() * ceiling);
  }

  reset(): void {
    this.attempt = 0;
  }
}
