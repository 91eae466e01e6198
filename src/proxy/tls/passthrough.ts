import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Metrics } from '../../observability/metrics.js';
import { RateLimitedLog } from '../../observability/rate-limited-log.js';
import type { TableSource, TlsRoute } from '../../routing/types.js';
import type { UpstreamRegistry } from '../../upstream/registry.js';
import { dial, type DialHooks } from '../dial.js';
import { normaliseAddress } from '../forwarded.js';
import { metricsOnly, recordUnforwarded, type Observe } from '../observe.js';
import { tunnel } from '../tunnel.js';
import { TunnelBuffers } from '../tunnel-buffers.js';
import { readClientHello, type ClientHello, type HelloOutcome } from './hello-reader.js';
import { TlsRejects } from './rejects.js';

/** One connection being dialled: its route, the bytes read so far (the ClientHello and whatever followed) and its SNI name. */
interface Forward {
  readonly route: TlsRoute;
  readonly bytes: Buffer;
  readonly serverName: string;
}

export interface TlsPassthroughOptions {
  readonly tables: TableSource;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Time to connect to one backend before trying another (a route's `policy.timeouts.connectMs` overrides it). */
  readonly connectTimeoutMs: number;
  /** Time for a client to send its whole ClientHello (own-port connections). */
  readonly helloTimeoutMs: number;
  /** A tunnel idle this long in both directions is closed; 0 = never (a route's `policy.timeouts.tunnelIdleMs` overrides it). */
  readonly idleTimeoutMs?: number;
  /** Backend choice (breakers, balance), retries, and the connections drained when a backend leaves. */
  readonly registry: UpstreamRegistry;
  /** Shared with the HTTPS entry point so both count and log alike; built from `logger` if absent. */
  readonly rejects?: TlsRejects;
  /** Where connections are recorded; default: per-route metrics into `metrics`, no access log. */
  readonly observe?: Observe;
}

/**
 * TLS passthrough: a connection routed by the SNI name of its ClientHello to a backend that
 * terminates TLS itself; baton never decrypts. The bytes already read (the ClientHello) are
 * written to the backend first, then the two sockets are joined by `tunnel`.
 */
export class TlsPassthrough {
  private readonly tables: TableSource;
  private readonly helloTimeoutMs: number;
  private readonly rejects: TlsRejects;
  private readonly ownPortFail: HelloOutcome['fail'];
  private readonly dialHooks: DialHooks<Forward>;
  private readonly observe: Observe;

  constructor(opts: TlsPassthroughOptions) {
    this.tables = opts.tables;
    this.helloTimeoutMs = opts.helloTimeoutMs;
    const rejects = opts.rejects ?? new TlsRejects(opts.metrics, new RateLimitedLog(opts.logger));
    this.rejects = rejects;
    this.ownPortFail = (socket, reason, detail) => rejects.reject(socket, reason, detail === undefined ? {} : { detail });
    const connected = opts.metrics.connections.labels({ protocol: 'tls-passthrough' });
    const idleTimeoutMs = opts.idleTimeoutMs ?? 0;
    this.observe = opts.observe ?? metricsOnly(opts.metrics);
    const buffers = new TunnelBuffers();
    this.dialHooks = {
      upstreams: opts.registry,
      connectTimeoutMs: opts.connectTimeoutMs,
      observe: this.observe,
      protocol: 'tls-passthrough',
      describe: ({ serverName }) => ({ host: serverName }),
      connected(client, upstream, _backend, { route, bytes }) {
        connected.inc();
        upstream.write(bytes);
        tunnel(client, upstream, route.policy.timeouts?.tunnelIdleMs ?? idleTimeoutMs, undefined, buffers);
      },
      exhausted(client, { route }, tried, last) {
        if (tried === 0) rejects.reject(client, 'all-backends-open', { route: route.id });
        else rejects.reject(client, 'upstream-connect', { route: route.id, err: last });
      },
    };
  }

  /**
   * A connection accepted on a TLS route's own port (the listener manager calls this; the server
   * must allow half-open sockets): routed by SNI only, among the routes of that port.
   */
  onOwnPortConnection(socket: Socket, port: number): void {
    readClientHello(socket, this.helloTimeoutMs, {
      hello: (client, hello, bytes) => this.routeOwnPort(client, port, hello, bytes),
      fail: this.ownPortFail,
    });
  }

  /**
   * Sends a connection whose ClientHello has been read (`bytes`, socket paused) to the backend the
   * route's picker chooses; a backend that refuses or does not answer in time is replaced by
   * another (see `dial`). Every breaker open: closed as `all-backends-open`.
   */
  forward(client: Socket, bytes: Buffer, route: TlsRoute, serverName: string): void {
    if (route.backends.length === 0) {
      recordUnforwarded(this.observe, client, { route, protocol: 'tls-passthrough', code: 'no-healthy-backend', host: serverName });
      this.rejects.reject(client, 'no-healthy-backend', { route: route.id });
      return;
    }
    dial(this.dialHooks, client, route, normaliseAddress(client.remoteAddress), { route, bytes, serverName });
  }

  private routeOwnPort(socket: Socket, port: number, hello: ClientHello, bytes: Buffer): void {
    if (hello.serverName === undefined) {
      this.rejects.reject(socket, 'no-sni', { port });
      return;
    }
    const route = this.tables.current.lookupTls(hello.serverName, port);
    if (route === undefined) {
      recordUnforwarded(this.observe, socket, { route, protocol: 'tls-passthrough', code: 'no-route', host: hello.serverName });
      this.rejects.reject(socket, 'no-route', { port, serverName: hello.serverName });
      return;
    }
    this.forward(socket, bytes, route, hello.serverName);
  }
}
