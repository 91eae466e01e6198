import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import type { TableSource } from '../routing/types.js';
import type { H2cSessions } from '../upstream/h2c-sessions.js';
import type { UpstreamRegistry } from '../upstream/registry.js';
import { ProxyResponse, type ProxyContext } from './exchange.js';
import { createH2StreamHandler } from './h2.js';
import type { HttpHandlers } from './handlers.js';
import { createHttp1RequestHandler } from './http1.js';
import { createUpgradeHandler } from './websocket.js';

export interface HttpHandlersOptions {
  readonly tables: TableSource;
  /** HTTP/1.1 backends: one undici pool per address. */
  readonly upstreams: UpstreamRegistry;
  /** h2c backends (`backendProtocol: 'h2c'`): one HTTP/2 session per address. */
  readonly h2cSessions: H2cSessions;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Client IPs whose X-Forwarded-Proto / X-Forwarded-Host are kept. */
  readonly trustedProxies?: ReadonlySet<string>;
  /**
   * `config.upstream`: the connect timeout applies to WebSocket backends, the headers and body
   * timeouts to h2c backends (undici pools and h2c sessions take theirs when built).
   */
  readonly upstream?: { readonly connectTimeoutMs?: number; readonly headersTimeoutMs?: number; readonly bodyTimeoutMs?: number };
  /** A WebSocket idle this long in both directions is closed. Default 300000 ms. */
  readonly websocketIdleTimeoutMs?: number;
}

/**
 * The HTTP data path for the entry points: HTTP/1.1 requests, HTTP/2 streams and WebSocket
 * upgrades, sharing one context (table source, backends, metrics).
 */
export function createHttpHandlers(opts: HttpHandlersOptions): HttpHandlers {
  const ctx: ProxyContext = {
    tables: opts.tables,
    upstreams: opts.upstreams,
    h2cSessions: opts.h2cSessions,
    logger: opts.logger,
    metrics: opts.metrics,
    trusted: opts.trustedProxies ?? new Set<string>(),
    connectTimeoutMs: opts.upstream?.connectTimeoutMs ?? 5000,
    headersTimeoutMs: opts.upstream?.headersTimeoutMs ?? 60_000,
    bodyTimeoutMs: opts.upstream?.bodyTimeoutMs ?? 60_000,
    websocketIdleTimeoutMs: opts.websocketIdleTimeoutMs ?? 300_000,
  };
  return {
    request: createHttp1RequestHandler(ctx),
    stream: createH2StreamHandler(ctx),
    upgrade: createUpgradeHandler(ctx),
    Response: ProxyResponse,
  };
}
