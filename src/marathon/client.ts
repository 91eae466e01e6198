import type { Logger } from 'pino';
import { Agent } from 'undici';
import type { Metrics } from '../observability/metrics.js';
import { Backoff } from './backoff.js';
import { eventTypeLabel, parseEvent } from './events.js';
import { AppsBodyReader } from './apps-body.js';
import { getJson, parseEndpoint, streamBody, type MarathonEndpoint } from './http.js';
import type { ParsedApps } from './snapshot.js';
import { EventStream } from './stream.js';
import { Syncer } from './sync.js';
import type { MarathonClientOptions, MarathonSink, MarathonStatus } from './types.js';

export type { MarathonClientOptions, MarathonSink, MarathonStatus } from './types.js';
export type { MarathonCredentials } from './http.js';

const APPS_PATH = '/v2/apps?embed=apps.tasks&embed=apps.readiness';

/**
 * Keeps baton in step with Marathon: one event stream (reconnected here with backoff, rotating
 * through the URLs, because Marathon streams cannot resume), a full snapshot after every
 * (re)connect and on a timer, and targeted re-fetches for events that only say "this app changed".
 * Nothing Marathon sends can throw out of it.
 */
export class MarathonClient {
  private readonly logger: Logger;
  private readonly metrics: Metrics;
  private readonly endpoints: readonly MarathonEndpoint[];
  private readonly dispatcher = new Agent();
  private readonly syncer: Syncer;
  private readonly reconnectBackoff: Backoff;
  private readonly maxBackoffMs: number;
  private readonly idleTimeoutMs: number;
  private readonly resyncIntervalMs: number;
  private readonly state: MarathonStatus = { connected: false, reconnects: 0 };
  private stream: EventStream | undefined;
  /** Endpoint of the current stream, or the next one to try. */
  private urlIndex = 0;
  private openedAt: number | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private intervalTimer: NodeJS.Timeout | undefined;
  private started = false;
  private stopped = false;

  constructor(opts: MarathonClientOptions, sink: MarathonSink) {
    if (opts.urls.length === 0) throw new Error('MarathonClient needs at least one Marathon URL');
    this.logger = opts.logger;
    this.metrics = opts.metrics;
    this.endpoints = opts.urls.map((url) => parseEndpoint(url, opts.credentials));
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 30_000;
    this.resyncIntervalMs = opts.resyncIntervalMs ?? 300_000;
    const { initialMs, maxMs } = opts.backoff ?? { initialMs: 500, maxMs: 30_000 };
    this.maxBackoffMs = maxMs;
    this.reconnectBackoff = new Backoff(initialMs, maxMs);
    this.syncer = new Syncer({
      sink,
      logger: opts.logger,
      metrics: opts.metrics,
      fetchApps: (signal) => this.fetchApps(signal),
      fetchApp: (appId, signal) => this.getJson(appPath(appId), signal),
      coalesceMs: opts.refetchCoalesceMs ?? 50,
      maxBuffered: opts.maxBufferedChanges ?? 10_000,
      retry: new Backoff(initialMs, maxMs),
      onSynced: () => {
        this.state.lastSyncAt = Date.now();
      },
      onError: (message) => {
        this.state.lastError = message;
      },
    });
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.connect();
    this.intervalTimer = setInterval(() => void this.syncer.resync('interval'), this.resyncIntervalMs);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.intervalTimer);
    this.stream?.close();
    this.stream = undefined;
    this.setConnected(false);
    await this.syncer.stop();
    await this.dispatcher.destroy();
  }

  /** Full re-sync now. Always resolves; a failure shows in status().lastError and is retried. */
  resync(reason: string): Promise<void> {
    return this.syncer.resync(reason);
  }

  /** Re-fetch these apps soon (gathered with the ones events name). */
  refetch(appIds: readonly string[]): void {
    this.syncer.accept([{ type: 'apps-changed', appIds, reason: 'state' }]);
  }

  status(): MarathonStatus {
    return { ...this.state };
  }

  private connect(): void {
    this.reconnectTimer = undefined;
    if (this.stopped) return;
    const endpoint = this.endpoints[this.urlIndex] as MarathonEndpoint;
    this.stream = new EventStream(
      { endpoint, dispatcher: this.dispatcher, idleTimeoutMs: this.idleTimeoutMs },
      {
        onOpen: (leader) => this.onOpen(endpoint, leader),
        onEvent: (eventType, data) => this.onEvent(eventType, data),
        onClose: (reason) => this.onClose(endpoint, reason),
      },
    );
  }

  private onOpen(endpoint: MarathonEndpoint, leader: string | undefined): void {
    this.openedAt = Date.now();
    this.state.url = endpoint.base;
    if (leader === undefined) delete this.state.leader;
    else this.state.leader = leader;
    this.setConnected(true);
    this.logger.info({ url: endpoint.base, leader }, 'marathon event stream open');
    // Marathon streams cannot resume: whatever happened while disconnected is only in a snapshot.
    void this.syncer.resync('connect');
  }

  private onEvent(eventType: string, data: string): void {
    this.state.lastEventAt = Date.now();
    this.metrics.marathonEvents.inc({ type: eventTypeLabel(eventType) });
    const parsed = parseEvent(eventType, data);
    if (!parsed.ok) {
      this.metrics.marathonRejects.inc({ kind: 'event' });
      this.logger.warn({ eventType, reason: parsed.reason, data: data.slice(0, 200) }, 'malformed marathon event skipped');
      return;
    }
    if (parsed.changes.length > 0) this.syncer.accept(parsed.changes);
  }

  private onClose(endpoint: MarathonEndpoint, reason: string): void {
    const openFor = this.openedAt === undefined ? undefined : Date.now() - this.openedAt;
    this.stream = undefined;
    this.openedAt = undefined;
    this.setConnected(false);
    this.state.lastError = `event stream: ${reason}`;
    if (openFor === undefined) {
      // It never opened: try the next URL. A stream that worked is retried first.
      this.urlIndex = (this.urlIndex + 1) % this.endpoints.length;
    } else if (openFor >= this.maxBackoffMs) {
      // Only a stream that stayed up a while resets the backoff: a Marathon that accepts and
      // drops at once must not get a reconnect (and a full snapshot) in a tight loop.
      this.reconnectBackoff.reset();
    }
    const retryInMs = this.reconnectBackoff.next();
    this.state.reconnects += 1;
    this.metrics.marathonReconnects.inc();
    this.logger.warn({ url: endpoint.base, reason, retryInMs }, 'marathon event stream closed');
    this.reconnectTimer = setTimeout(() => this.connect(), retryInMs);
  }

  private setConnected(connected: boolean): void {
    this.state.connected = connected;
    this.metrics.marathonConnected.set(connected ? 1 : 0);
  }

  private getJson(path: string, signal: AbortSignal): Promise<unknown> {
    return this.eachEndpoint(signal, (endpoint) => getJson(this.dispatcher, endpoint, path, signal, this.idleTimeoutMs));
  }

  /** The full app list, read and checked app by app as the body arrives. */
  private fetchApps(signal: AbortSignal): Promise<ParsedApps> {
    return this.eachEndpoint(signal, async (endpoint) => {
      const reader = new AppsBodyReader();
      await streamBody(this.dispatcher, endpoint, APPS_PATH, signal, this.idleTimeoutMs, (chunk) => reader.feed(chunk));
      return reader.end();
    });
  }

  /** Tries every URL once, starting with the current one (a standby proxies or redirects to the leader). */
  private async eachEndpoint<T>(signal: AbortSignal, attempt: (endpoint: MarathonEndpoint) => Promise<T>): Promise<T> {
    let lastError: unknown;
    for (let i = 0; i < this.endpoints.length; i++) {
      const endpoint = this.endpoints[(this.urlIndex + i) % this.endpoints.length] as MarathonEndpoint;
      try {
        return await attempt(endpoint);
      } catch (err) {
        if (signal.aborted) throw err;
        lastError = err;
      }
    }
    throw lastError;
  }
}

/** `/shop/web` -> `/v2/apps/shop/web?...`; tasks are always embedded for one app, readiness is not. */
function appPath(appId: string): string {
  const path = appId.split('/').map(encodeURIComponent).join('/');
  return `/v2/apps${path.startsWith('/') ? path : `/${path}`}?embed=app.tasks&embed=app.readiness`;
}
