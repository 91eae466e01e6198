import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { DEFAULT_RESILIENCE } from '../state/resilience.js';

/** `HOST:PORT` or `[v6]:PORT`, e.g. `0.0.0.0:80`, `127.0.0.1:9090`, `[::1]:8080`. */
export interface Listen {
  readonly host: string;
  readonly port: number;
}

const LISTEN = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/;

const listen = z.string().transform((value, ctx): Listen => {
  const m = LISTEN.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    ctx.addIssue({ code: 'custom', message: 'expected HOST:PORT, e.g. 0.0.0.0:80 or [::1]:8080' });
    return z.NEVER;
  }
  return { host: (m[1] ?? m[2]) as string, port };
});

const marathonUrl = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}, 'expected an http(s) URL, e.g. http://marathon.mesos:8080');

const CREDENTIALS = /^[^:]+:.*$/;

/** `USER:PASSWORD` split at the first colon (a password may hold colons); undefined when it is not that. */
export function splitCredentials(value: string): { user: string; password: string } | undefined {
  if (!CREDENTIALS.test(value)) return undefined;
  const at = value.indexOf(':');
  return { user: value.slice(0, at), password: value.slice(at + 1) };
}

const credentials = z
  .string()
  .regex(CREDENTIALS, 'expected USER:PASSWORD')
  .transform((value) => splitCredentials(value) as { user: string; password: string });

const hostname = z.string().regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i, 'expected a DNS name, e.g. example.com');
const ms = (fallback: number) => z.number().int().nonnegative().default(fallback);
const positive = (fallback: number) => z.number().int().positive().default(fallback);

export const configSchema = z
  .object({
    marathon: z.array(marathonUrl).min(1, 'expected at least one Marathon URL'),
    marathonCredentials: credentials.optional(),
    marathonToken: z.string().min(1).optional(),
    realm: z.string().min(1).optional(),
    domain: hostname.transform((d) => d.toLowerCase()).optional(),
    http: listen.prefault('0.0.0.0:80'),
    admin: listen.prefault('127.0.0.1:9090'),
    /** The HTTPS entry point (TLS termination, HTTP/2 by ALPN, TLS passthrough by SNI); off when unset. */
    https: listen.optional(),
    /** Directory of PEM certificates for the HTTPS entry point, picked by SNI. */
    certs: z.string().min(1).optional(),
    /** Address the service-port listeners (TCP, UDP, TLS on its own port) bind to. */
    serviceBind: z.string().refine((ip) => isIP(ip) !== 0, 'expected an IP address, e.g. 0.0.0.0 or ::').default('0.0.0.0'),
    /** Open TCP connections to a backend that left the table are closed after this long. */
    drainMs: ms(30_000),
    /** On SIGTERM, requests in flight get this long to finish; tunnels still open then are closed. */
    shutdownGraceMs: ms(10_000),
    /** A TCP or TLS passthrough tunnel idle this long in both directions is closed (marathon-lb's tunnel timeout: 1 h); 0 = never. */
    tcpIdleTimeoutMs: ms(3_600_000),
    /** A UDP client flow with no datagram for this long is forgotten. */
    udpIdleTimeoutMs: positive(30_000),
    /** At most this many UDP flows per port; the least recently used goes first. */
    udpMaxFlows: positive(10_000),
    /** A WebSocket idle this long in both directions is closed (marathon-lb's tunnel timeout: 1 h). */
    websocketIdleTimeoutMs: positive(3_600_000),
    adminToken: z.string().min(16, 'expected a token of at least 16 characters').optional(),
    /** Mesos masters to poll for maintenance (DRAINING/DOWN machines); off when empty. */
    mesos: z.array(marathonUrl).default([]),
    mesosPollMs: positive(5_000),
    /** Where operator maintenance marks are kept across restarts (written atomically). */
    stateFile: z.string().min(1).default('baton-state.json'),
    /** File holding the admin bearer token (read at start); an alternative to BATON_ADMIN_TOKEN. */
    adminTokenFile: z.string().min(1).optional(),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** `json` (one object per line, for log shippers) or `pretty` (coloured, for a terminal). */
    logFormat: z.enum(['json', 'pretty']).default('json'),
    /** Access log, one JSON line per request or tunnel: `off`, `stdout`, `stderr` or a file path (appended to). */
    accessLog: z.string().min(1).default('off'),
    /** Share of requests written to the access log (errors are always written): 1 = every one. */
    accessLogSample: z.coerce.number().gt(0, 'expected a share in (0, 1], e.g. 0.1').max(1, 'expected a share in (0, 1], e.g. 0.1').default(1),
    /**
     * Proxy worker processes (node:cluster); the primary alone talks to Marathon and Mesos and
     * sends them each table. 0 runs everything in one process. Default: one per core.
     */
    workers: z.coerce.number().int().min(0).max(256).default(() => availableParallelism()),
    /** Peers whose X-Forwarded-Proto/-Host are kept (X-Forwarded-For is always appended to). */
    trustedProxies: z.array(z.string().refine((ip) => isIP(ip) !== 0, 'expected an IP address')).default([]),
    /** Window that gathers a burst of changes into one table swap. */
    coalesceMs: ms(20),
    resyncIntervalMs: positive(300_000),
    streamIdleTimeoutMs: positive(30_000),
    /** How many last-known health verdicts to keep (one per task). */
    healthCacheSize: positive(100_000),
    /** Circuit breaker per backend; per app overrides from BATON_{n}_BREAKER_* labels. */
    breaker: z
      .object({
        /** Open when this share of requests failed in the window (with at least `volumeThreshold` requests). */
        errorThresholdPercentage: z.number().min(1).max(100).default(50),
        volumeThreshold: positive(20),
        /** Open this long, then let one probe through (half-open). */
        resetTimeoutMs: positive(10_000),
        rollingWindowMs: positive(10_000),
        /** Count backend 5xx answers as failures. */
        failOn5xx: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    /**
     * The cluster's worst day: a paused Mesos master, a partition, a Marathon failover, a storm of
     * events. baton keeps routing what probably still runs and lets its breakers find what does not.
     */
    resilience: z
      .object({
        /**
         * Tasks Mesos lost contact with (TASK_UNREACHABLE, TASK_LOST, TASK_UNKNOWN; instance
         * conditions Unreachable, UnreachableInactive): `suspect` keeps them routable with
         * `suspectWeight` of a share until Marathon reports them ended, replaced or gone (as
         * marathon-lb keeps them); `remove` takes them out at once, subject to the removal guard.
         */
        lostTasks: z.enum(['suspect', 'remove']).default(DEFAULT_RESILIENCE.lostTasks),
        /** A suspect backend's weight relative to a normal one. */
        suspectWeight: z.number().gt(0).max(1).default(DEFAULT_RESILIENCE.suspectWeight),
        /** A route with fewer than this share of healthy tasks routes to every task not in maintenance (Envoy's panic threshold); 0 = never. */
        panicThreshold: z.number().min(0).max(1).default(DEFAULT_RESILIENCE.panicThreshold),
        /**
         * Per app: when one burst of events would take more than `maxShare` of its routable tasks
         * out of rotation for failures (TASK_FAILED, TASK_ERROR, failing health checks, lost tasks
         * under `remove`; not maintenance, not the scheduler's own kills), the rest stay routable
         * as suspects until they recover, Marathon confirms them gone, or `holdMs` passes.
         */
        removalGuard: z
          .object({
            /** 1 turns the guard off. */
            maxShare: z.number().min(0).max(1).default(DEFAULT_RESILIENCE.removalGuard.maxShare),
            /** A burst: removals within this long of its first one. */
            windowMs: positive(DEFAULT_RESILIENCE.removalGuard.windowMs),
            holdMs: positive(DEFAULT_RESILIENCE.removalGuard.holdMs),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    /** Extra attempts on another backend when a connection could not be made (idempotent requests also after a reset). */
    retries: z.number().int().min(0).max(10).default(2),
    upstream: z
      .object({
        // marathon-lb's defaults: connect 3 s, server 30 s.
        connectTimeoutMs: positive(3_000),
        headersTimeoutMs: positive(30_000),
        bodyTimeoutMs: positive(30_000),
        /** Whole request, first byte to last; 0 = no limit. */
        totalTimeoutMs: ms(0),
        keepAliveTimeoutMs: positive(4_000),
        connections: positive(128),
      })
      .strict()
      .prefault({}),
    server: z
      .object({
        headersTimeoutMs: positive(10_000),
        requestTimeoutMs: positive(60_000),
        maxHeaderSize: positive(16_384),
        keepAliveTimeoutMs: positive(5_000),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type Config = z.output<typeof configSchema>;
