import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import type { AppSnapshot, MarathonChange } from '../state/model.js';
import type { MarathonCredentials } from './http.js';

export interface MarathonClientOptions {
  /** One or more Marathon base URLs; each may carry `user:pass@`. */
  readonly urls: readonly string[];
  /** Used for URLs without userinfo: HTTP Basic, or DC/OS `Authorization: token=<jwt>`. */
  readonly credentials?: MarathonCredentials;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** No byte on the event stream for this long = dead stream. Default 30000. */
  readonly idleTimeoutMs?: number;
  /** Reconnect and snapshot-retry delays: exponential with full jitter. Default 500 / 30000. */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  /** Safety-net full re-sync. Default 300000. */
  readonly resyncIntervalMs?: number;
  /** Window that gathers apps-changed into one re-fetch. Default 50. */
  readonly refetchCoalesceMs?: number;
  /** Changes held while a fetch is in flight; past this the buffer is dropped for a full re-sync. Default 10000. */
  readonly maxBufferedChanges?: number;
}

export interface MarathonSink {
  /** Result of a full re-sync: every app Marathon knows. */
  snapshot(apps: AppSnapshot[]): void;
  /** Result of a targeted re-fetch; `gone` are ids Marathon answered 404 for. */
  apps(fetched: AppSnapshot[], gone: string[]): void;
  /** Incremental changes, in arrival order; never `apps-changed` (the client re-fetches those). */
  changes(changes: MarathonChange[]): void;
}

export interface MarathonStatus {
  connected: boolean;
  /** Base URL of the current (or last) stream, without credentials. */
  url?: string;
  leader?: string;
  lastEventAt?: number;
  lastSyncAt?: number;
  lastError?: string;
  reconnects: number;
}
