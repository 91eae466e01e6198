import type { Logger } from 'pino';

/**
 * For input a hostile or broken peer can repeat at will (bad TLS hellos, garbage prefaces, UDP
 * floods): the first occurrence of each kind is logged at warn, further ones within `intervalMs`
 * are only counted, and the next line says how many were suppressed. Metrics count every one.
 */
export class RateLimitedLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 60_000,
  ) {}

  warn(kind: string, details: Record<string, unknown>, message: string): void {
    const now = Date.now();
    const seen = this.last.get(kind);
    if (seen && now - seen.at < this.intervalMs) {
      seen.suppressed += 1;
      return;
    }
    this.last.set(kind, { at: now, suppressed: 0 });
    this.logger.warn({ kind, ...details, ...(seen && seen.suppressed > 0 && { suppressedSinceLast: seen.suppressed }) }, message);
  }
}
