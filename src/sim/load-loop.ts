import { Agent, request } from 'undici';

export interface LoadLoopOptions {
  /** Base URL of the proxy, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  /** Host headers, taken in turn. */
  readonly hosts: readonly string[];
  /** Requests in flight at any time. Default 8. */
  readonly concurrency?: number;
  /** Every n-th request asks for `/slow`, so some are in flight when a backend leaves. Default 10. */
  readonly slowEvery?: number;
  /** The loop stops by itself after this long. Default 60000. */
  readonly maxDurationMs?: number;
}

export interface PhaseCount {
  readonly phase: string;
  readonly requests: number;
  readonly failures: number;
}

/**
 * Steady load for scenarios: `concurrency` clients each sending one request after the other,
 * every request numbered in an `x-seq` header in the order it is sent. Results are counted under
 * the phase that was current when the request was sent; a failure is any answer but 200, or no answer.
 */
export class LoadLoop {
  private readonly dispatcher = new Agent({ connections: 64 });
  private readonly counts: { phase: string; requests: number; failures: number }[] = [];
  private readonly failureLog: string[] = [];
  private current: { phase: string; requests: number; failures: number };
  private next = 0;
  private running: Promise<void>[] = [];
  private stopped: Promise<void> | undefined;
  private deadline: NodeJS.Timeout | undefined;

  constructor(
    private readonly opts: LoadLoopOptions,
    firstPhase = 'start',
  ) {
    this.current = { phase: firstPhase, requests: 0, failures: 0 };
    this.counts.push(this.current);
  }

  /** The number of the last request sent: every request sent later has a higher one. */
  get seq(): number {
    return this.next;
  }

  /** The first failures, described (at most 20). */
  get failures(): readonly string[] {
    return this.failureLog;
  }

  start(): void {
    if (this.running.length > 0 || this.stopped !== undefined) return;
    this.deadline = setTimeout(() => void this.stop(), this.opts.maxDurationMs ?? 60_000);
    this.running = Array.from({ length: this.opts.concurrency ?? 8 }, () => this.client());
  }

  /** Counts what is sent from now on under `name`. */
  phase(name: string): void {
    this.current = { phase: name, requests: 0, failures: 0 };
    this.counts.push(this.current);
  }

  /** Stops sending; resolves when every request in flight has its answer. */
  stop(): Promise<void> {
    clearTimeout(this.deadline);
    this.stopped ??= Promise.all(this.running).then(() => this.dispatcher.close());
    return this.stopped;
  }

  summary(): PhaseCount[] {
    return this.counts.map(({ phase, requests, failures }) => ({ phase, requests, failures }));
  }

  private async client(): Promise<void> {
    const slowEvery = this.opts.slowEvery ?? 10;
    while (this.stopped === undefined) {
      const seq = ++this.next;
      const host = this.opts.hosts[seq % this.opts.hosts.length]!;
      const path = seq % slowEvery === 0 ? '/slow' : '/';
      const counted = this.current;
      counted.requests++;
      try {
        const res = await request(`${this.opts.url}${path}`, { dispatcher: this.dispatcher, headers: { host, 'x-seq': String(seq) } });
        await res.body.text();
        if (res.statusCode !== 200) this.fail(counted, `#${seq} ${host}${path}: HTTP ${res.statusCode} ${String(res.headers['x-baton-error'] ?? '')}`);
      } catch (err) {
        this.fail(counted, `#${seq} ${host}${path}: ${(err as Error).message}`);
      }
    }
  }

  private fail(counted: { failures: number }, what: string): void {
    counted.failures++;
    if (this.failureLog.length < 20) this.failureLog.push(what);
  }
}
