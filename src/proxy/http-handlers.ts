import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import type { TableSource } from '../routing/types.js';
import type { H2cSessions } from '../upstream/h2c-sessions.js';
import type { UpstreamRegistry } from '../upstream/registry.js';
import { ProxyResponse } from './exchange.js';
import { createH2StreamHandler } from './h2.js';
import type { HttpHandlers } from './handlers.js';
import { createHttp1RequestHandler } from './http1.js';
import { metricsOnly, type Observe } from './observe.js';
import type { ProxyContext } from './upstream-exchange.js';
import { createUpgradeHandler } from './websocket.js';

export interface HttpHandlersOptions {
  readonly tables: TableSource;
  /** Backend state and choice; HTTP/1.1 backends through its undici pools. Its `retries` and connect timeout apply here too. */
  readonly upstreams: UpstreamRegistry;
  /** h2c backends (`backendProtocol: 'h2c'`): one HTTP/2 session per address. */
  readonly h2cSessions: H2cSessions;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Client IPs whose X-Forwarded-Proto / X-Forwarded-Host are kept. */
  readonly trustedProxies?: ReadonlySet<string>;
  /**
   * `config.upstream`: response headers and body idle timeouts, and the total timeout (0 = none),
   * for every request; a route's `policy.timeouts` overrides them.
   */
  readonly upstream?: { readonly headersTimeoutMs?: number; readonly bodyTimeoutMs?: number; readonly totalTimeoutMs?: number };
  /** A WebSocket idle this long in both directions is closed (a route's `policy.timeouts.tunnelIdleMs` overrides it). Default 300000 ms. */
  readonly websocketIdleTimeoutMs?: number;
  /** Where requests and WebSocket tunnels are recorded; default: per-route metrics into `metrics`, no access log. */
  readonly observe?: Observe;
}

/**
 * The HTTP data path for the entry points: HTTP/1.1 requests, HTTP/2 streams and WebSocket
 * upgrades, sharing one context (table source, backends, metrics).
 */
export function createHttpHandlers(opts: HttpHandlersOptions): HttpHandlers & { readonly context: ProxyContext } {
  const ctx: ProxyContext = {
    tables: opts.tables,
    upstreams: opts.upstreams,
    h2cSessions: opts.h2cSessions,
    logger: opts.logger,
    metrics: opts.metrics,
    trusted: opts.trustedProxies ?? new Set<string>(),
    headersTimeoutMs: opts.upstream?.headersTimeoutMs ?? 30_000,
    bodyTimeoutMs: opts.upstream?.bodyTimeoutMs ?? 30_000,
    totalTimeoutMs: opts.upstream?.totalTimeoutMs ?? 0,
    websocketIdleTimeoutMs: opts.websocketIdleTimeoutMs ?? 300_000,
    observe: opts.observe ?? metricsOnly(opts.metrics),
  };
  return {
    request: createHttp1RequestHandler(ctx),
    stream: createH2StreamHandler(ctx),
    upgrade: createUpgradeHandler(ctx),
    Response: ProxyResponse,
    context: ctx,
  };
}
