import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import { RateLimitedLog } from '../observability/rate-limited-log.js';
import type { AppSnapshot, MarathonChange } from '../state/model.js';
import type { Backoff } from './backoff.js';
import { parseApp, type ParsedApps, type RejectedApp } from './snapshot.js';
import type { MarathonSink } from './types.js';

/**
 * Orders what reaches the sink. One fetch (full snapshot or targeted re-fetch) runs at a time;
 * changes that arrive meanwhile are held and delivered right after its result, so a result
 * fetched before an event can never overwrite it. `apps-changed` ids are gathered for
 * `coalesceMs` and re-fetched together (many of them by one full snapshot).
 */

export interface SyncerOptions {
  readonly sink: MarathonSink;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** `GET /v2/apps?embed=...`: every app, checked one by one. */
  readonly fetchApps: (signal: AbortSignal) => Promise<ParsedApps>;
  /** `GET /v2/apps/{id}`: the JSON body, `undefined` when Marathon answers 404. */
  readonly fetchApp: (appId: string, signal: AbortSignal) => Promise<unknown>;
  readonly coalesceMs: number;
  readonly maxBuffered: number;
  /** Delays between retries of a failed snapshot. */
  readonly retry: Backoff;
  readonly onSynced: () => void;
  readonly onError: (message: string) => void;
}

/** Malformed apps named in the warning of one fetch (all are counted). */
const LOGGED_REJECTS = 10;

/** Parallel `GET /v2/apps/{id}` requests of one re-fetch. */
const REFETCH_CONCURRENCY = 4;

/**
 * More apps than this to re-fetch at once (a deployment of hundreds of apps) take one full
 * snapshot instead: one request rather than hundreds, and events wait in the buffer for less long.
 */
const MAX_REFETCH_APPS = 32;

export class Syncer {
  private readonly opts: SyncerOptions;
  private readonly abort = new AbortController();
  private busy = false;
  private current: Promise<void> | undefined;
  private snapshotWanted = false;
  /** Callers of resync() waiting for the next snapshot to finish. */
  private waiters: (() => void)[] = [];
  private readonly pendingIds = new Set<string>();
  private coalesceTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private buffer: MarathonChange[] = [];
  private stopped = false;
  private readonly rejects: RateLimitedLog;

  constructor(opts: SyncerOptions) {
    this.opts = opts;
    this.rejects = new RateLimitedLog(opts.logger);
  }

  /** Changes parsed from one event. */
  accept(changes: readonly MarathonChange[]): void {
    let direct: MarathonChange[] | undefined;
    for (const change of changes) {
      if (change.type === 'apps-changed') {
        for (const id of change.appIds) this.pendingIds.add(id);
        this.armCoalesce();
      } else {
        (direct ??= []).push(change);
      }
    }
    if (!direct || this.stopped) return;
    if (!this.busy) {
      this.deliver('changes', () => this.opts.sink.changes(direct));
      return;
    }
    if (this.buffer.length + direct.length > this.opts.maxBuffered) {
      this.opts.logger.warn({ buffered: this.buffer.length }, 'marathon change buffer overflowed during a fetch; dropping it for a full re-sync');
      this.buffer = [];
      void this.resync('overflow');
      return;
    }
    for (const change of direct) this.buffer.push(change);
  }

  /** Full re-sync; resolves when a snapshot started after this call has finished (or failed). */
  resync(reason: string): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.opts.metrics.marathonResyncs.inc({ reason });
    this.snapshotWanted = true;
    const done = new Promise<void>((resolve) => this.waiters.push(resolve));
    this.pump();
    return done;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    clearTimeout(this.coalesceTimer);
    clearTimeout(this.retryTimer);
    this.buffer = [];
    for (const resolve of this.waiters.splice(0)) resolve();
    await this.current;
  }

  private armCoalesce(): void {
    if (this.coalesceTimer || this.stopped) return;
    this.coalesceTimer = setTimeout(() => {
      this.coalesceTimer = undefined;
      this.pump();
    }, this.opts.coalesceMs);
  }

  /** Starts the next fetch if none runs: a wanted snapshot first, then gathered re-fetches. */
  private pump(): void {
    if (this.busy || this.stopped) return;
    if (this.snapshotWanted) {
      this.snapshotWanted = false;
      const waiters = this.waiters.splice(0);
      this.run(() => this.snapshot(waiters));
    } else if (this.pendingIds.size > 0 && !this.coalesceTimer) {
      const ids = [...this.pendingIds];
      this.pendingIds.clear();
      if (ids.length <= MAX_REFETCH_APPS) {
        this.run(() => this.refetch(ids));
        return;
      }
      this.opts.metrics.marathonResyncs.inc({ reason: 'many-apps' });
      this.run(() => this.snapshot([]));
    }
  }

  private run(job: () => Promise<void>): void {
    this.busy = true;
    this.current = job()
      .catch((err: unknown) => this.opts.logger.error({ err }, 'marathon sync job failed'))
      .then(() => {
        this.busy = false;
        this.current = undefined;
        this.flush();
        this.pump();
      });
  }

  private async snapshot(waiters: (() => void)[]): Promise<void> {
    // The snapshot covers every app change gathered so far.
    this.pendingIds.clear();
    clearTimeout(this.coalesceTimer);
    this.coalesceTimer = undefined;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    try {
      const { apps, rejected } = await this.opts.fetchApps(this.abort.signal);
      if (this.stopped) return;
      this.reportRejected(rejected);
      this.deliver('snapshot', () => this.opts.sink.snapshot(apps));
      this.opts.retry.reset();
      this.opts.onSynced();
    } catch (err) {
      if (this.stopped) return;
      const message = errorMessage(err);
      const retryInMs = this.opts.retry.next();
      this.opts.metrics.marathonRejects.inc({ kind: 'snapshot' });
      this.opts.logger.warn({ error: message, retryInMs }, 'marathon snapshot failed; keeping the current state');
      this.opts.onError(`snapshot: ${message}`);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        void this.resync('retry');
      }, retryInMs);
    } finally {
      for (const resolve of waiters) resolve();
    }
  }

  private async refetch(ids: string[]): Promise<void> {
    const fetched: AppSnapshot[] = [];
    const gone: string[] = [];
    const rejected: RejectedApp[] = [];
    let next = 0;
    let failed = false;
    const worker = async (): Promise<void> => {
      while (next < ids.length && !failed) {
        const id = ids[next++] as string;
        const body = await this.opts.fetchApp(id, this.abort.signal);
        if (body === undefined) {
          gone.push(id);
          continue;
        }
        const parsed = parseApp(body);
        if (parsed.ok) fetched.push(parsed.app);
        else rejected.push(parsed.rejected);
      }
    };
    const workers = Array.from({ length: Math.min(REFETCH_CONCURRENCY, ids.length) }, () =>
      worker().catch((err: unknown) => {
        failed = true;
        throw err;
      }),
    );
    const failure = (await Promise.allSettled(workers)).find((r) => r.status === 'rejected');
    if (this.stopped) return;
    if (failure) {
      const message = errorMessage(failure.reason);
      this.opts.logger.warn({ error: message, appIds: ids.slice(0, 20) }, 'marathon app re-fetch failed; doing a full re-sync');
      this.opts.onError(`re-fetch: ${message}`);
      void this.resync('refetch-failed');
      return;
    }
    this.reportRejected(rejected);
    this.deliver('apps', () => this.opts.sink.apps(fetched, gone));
  }

  private flush(): void {
    if (this.buffer.length === 0 || this.stopped) return;
    const changes = this.buffer;
    this.buffer = [];
    this.deliver('changes', () => this.opts.sink.changes(changes));
  }

  /**
   * One count per app id of a snapshot or re-fetch, and one rate-limited warning naming the first
   * few: a Marathon full of broken apps, re-synced every few minutes, must not flood the log.
   */
  private reportRejected(rejected: readonly RejectedApp[]): void {
    if (rejected.length === 0) return;
    const byId = new Map<string | undefined, RejectedApp>();
    for (const app of rejected) if (!byId.has(app.appId)) byId.set(app.appId, app);
    this.opts.metrics.marathonRejects.inc({ kind: 'app' }, byId.size);
    const apps = [...byId.values()].slice(0, LOGGED_REJECTS);
    this.rejects.warn('marathon-app', { count: byId.size, apps }, 'malformed marathon apps skipped');
  }

  /** The sink belongs to someone else: its exceptions must not stop the client. */
  private deliver(what: string, call: () => void): void {
    try {
      call();
    } catch (err) {
      this.opts.logger.error({ err, what }, 'marathon sink threw');
    }
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
