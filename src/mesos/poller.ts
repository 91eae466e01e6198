import type { Logger } from 'pino';
import { Agent } from 'undici';
import type { MesosMachines } from '../state/maintenance-types.js';
import { callMesos, parseMesosEndpoint, type MesosAnswer, type MesosEndpoint } from './http.js';
import type { MesosMetrics, PollResult } from './metrics.js';
import { parseMaintenanceStatus, type MesosApi } from './payload.js';

export interface MesosPollerOptions {
  /** Mesos master URLs; any of them, leader or not (a non-leader redirects). */
  readonly urls: readonly string[];
  readonly pollMs: number;
  /** Longest wait for one master's answer (connect, headers, body). Default 5000. */
  readonly timeoutMs?: number;
  readonly logger: Logger;
  readonly metrics: MesosMetrics;
  /** Every successful poll's report (Maintenance ignores one equal to the last). */
  readonly onMachines: (machines: MesosMachines) => void;
}

export interface MesosStatus {
  /** True while the last poll got the leading master's maintenance status. */
  readonly reachable: boolean;
  /** The leading master that answered last, without credentials. */
  readonly leader?: string;
  /** Which endpoint it answered on. */
  readonly api?: MesosApi;
  readonly lastSuccessAt?: string;
  readonly lastAttemptAt?: string;
  /** Why the last poll failed, for every URL tried. */
  readonly lastError?: string;
}

const OPERATOR_CALL = JSON.stringify({ type: 'GET_MAINTENANCE_STATUS' });
/** Answers of a master without the v1 operator API (Mesos before 1.0, or the API disabled). */
const NO_OPERATOR_API: ReadonlySet<number> = new Set([404, 405, 415, 501]);

class PollError extends Error {
  constructor(
    readonly result: Exclude<PollResult, 'ok'>,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Polls the leading Mesos master's maintenance status every `pollMs` (Mesos publishes no
 * maintenance events). Each poll starts at the URL that answered last and moves on to the next
 * one when a master is down, has no leader (503) or answers nonsense. It asks the v1 operator API
 * (`POST /api/v1` GET_MAINTENANCE_STATUS) first and falls back to `GET /maintenance/status`,
 * per URL, for a master that does not have it. A poll that fails reports nothing: the state
 * keeps the last known maintenance, and `status()` says it is not current.
 */
export class MesosPoller {
  private readonly endpoints: readonly MesosEndpoint[];
  private readonly apis: MesosApi[];
  private readonly dispatcher: Agent;
  private readonly timeoutMs: number;
  private readonly abort = new AbortController();
  private state: MesosStatus = { reachable: false };
  private preferred = 0;
  /** The failure last logged, so a streak of the same failure is logged once. */
  private loggedFailure: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private started = false;
  private stopped = false;

  constructor(private readonly opts: MesosPollerOptions) {
    if (opts.urls.length === 0) throw new Error('MesosPoller needs at least one Mesos URL');
    this.endpoints = opts.urls.map(parseMesosEndpoint);
    this.apis = this.endpoints.map(() => 'operator');
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.dispatcher = new Agent({ connect: { timeout: this.timeoutMs } });
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.tick();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort.abort();
    await this.running;
    await this.dispatcher.destroy();
  }

  /** The master URLs, without credentials. */
  get urls(): string[] {
    return this.endpoints.map((e) => e.base);
  }

  status(): MesosStatus {
    return this.state;
  }

  /** One poll now. Never rejects: the outcome shows in `status()`. */
  async poll(): Promise<void> {
    const attemptAt = new Date().toISOString();
    const failures: string[] = [];
    for (let i = 0; i < this.endpoints.length && !this.stopped; i++) {
      const index = (this.preferred + i) % this.endpoints.length;
      const endpoint = this.endpoints[index]!;
      try {
        const { machines, leader, api } = await this.pollOne(index, endpoint);
        this.preferred = index;
        this.opts.metrics.polls.inc({ result: 'ok' });
        this.succeeded(attemptAt, leader, api, machines);
        return;
      } catch (err) {
        const result = err instanceof PollError ? err.result : 'unreachable';
        this.opts.metrics.polls.inc({ result });
        failures.push(`${endpoint.base}: ${(err as Error).message}`);
      }
    }
    if (!this.stopped) this.failed(attemptAt, failures.join('; '));
  }

  private tick = (): void => {
    this.timer = undefined;
    this.running = this.poll().finally(() => {
      this.running = undefined;
      if (!this.stopped) this.timer = setTimeout(this.tick, this.opts.pollMs);
    });
  };

  private async pollOne(index: number, endpoint: MesosEndpoint): Promise<{ machines: MesosMachines; leader: string; api: MesosApi }> {
    let api = this.apis[index]!;
    let answer = await this.call(endpoint, api);
    if (api === 'operator' && NO_OPERATOR_API.has(answer.statusCode)) {
      this.opts.logger.info({ mesos: endpoint.base, status: answer.statusCode }, 'Mesos master has no v1 operator API; using /maintenance/status');
      api = 'legacy';
      this.apis[index] = api;
      answer = await this.call(endpoint, api);
    }
    if (answer.statusCode === 503) throw new PollError('no-leader', 'no leading master (503)');
    if (answer.statusCode !== 200) throw new PollError('http-error', `HTTP ${answer.statusCode} from ${answer.origin}`);
    let json: unknown;
    try {
      json = JSON.parse(answer.text);
    } catch {
      throw new PollError('bad-payload', `not JSON from ${answer.origin}`);
    }
    try {
      return { machines: parseMaintenanceStatus(api, json), leader: answer.origin, api };
    } catch (err) {
      throw new PollError('bad-payload', `${(err as Error).message} from ${answer.origin}`);
    }
  }

  private call(endpoint: MesosEndpoint, api: MesosApi): Promise<MesosAnswer> {
    const common = { signal: this.abort.signal, timeoutMs: this.timeoutMs };
    return api === 'operator'
      ? callMesos(this.dispatcher, endpoint, { method: 'POST', path: '/api/v1', body: OPERATOR_CALL, ...common })
      : callMesos(this.dispatcher, endpoint, { method: 'GET', path: '/maintenance/status', ...common });
  }

  private succeeded(at: string, leader: string, api: MesosApi, machines: MesosMachines): void {
    if (this.loggedFailure !== undefined || !this.state.reachable) {
      this.opts.logger.info({ leader, api, draining: machines.draining.length, down: machines.down.length }, 'Mesos maintenance status received');
    }
    this.loggedFailure = undefined;
    this.state = { reachable: true, leader, api, lastSuccessAt: at, lastAttemptAt: at };
    this.opts.metrics.reachable.set(1);
    this.opts.metrics.machines.set({ mode: 'draining' }, machines.draining.length);
    this.opts.metrics.machines.set({ mode: 'down' }, machines.down.length);
    this.opts.onMachines(machines);
  }

  private failed(at: string, error: string): void {
    if (error !== this.loggedFailure) {
      this.opts.logger.warn({ error, lastSuccessAt: this.state.lastSuccessAt }, 'Mesos maintenance status unavailable; keeping the last known maintenance');
      this.loggedFailure = error;
    }
    const { leader, api, lastSuccessAt } = this.state;
    this.state = {
      reachable: false,
      ...(leader !== undefined && { leader }),
      ...(api !== undefined && { api }),
      ...(lastSuccessAt !== undefined && { lastSuccessAt }),
      lastAttemptAt: at,
      lastError: error,
    };
    this.opts.metrics.reachable.set(0);
  }
}
