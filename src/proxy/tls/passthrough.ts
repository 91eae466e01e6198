import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Metrics } from '../../observability/metrics.js';
import { RateLimitedLog } from '../../observability/rate-limited-log.js';
import type { TableSource, TlsRoute } from '../../routing/types.js';
import { dial, type DialHooks } from '../dial.js';
import { tunnel } from '../tunnel.js';
import { readClientHello, type ClientHello, type HelloOutcome } from './hello-reader.js';
import { TlsRejects } from './rejects.js';

/** The part of the backend registry passthrough needs: open connections are drained by backend address. */
export interface ConnectionTracker {
  track(address: string, socket: Socket): void;
}

/** One connection being dialled: its route, and the bytes read so far (the ClientHello and whatever followed). */
interface Forward {
  readonly route: TlsRoute;
  readonly bytes: Buffer;
}

export interface TlsPassthroughOptions {
  readonly tables: TableSource;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Time to connect to one backend before trying the next. */
  readonly connectTimeoutMs: number;
  /** Time for a client to send its whole ClientHello (own-port connections). */
  readonly helloTimeoutMs: number;
  /** A tunnel idle this long in both directions is closed; 0 = never. */
  readonly idleTimeoutMs?: number;
  readonly registry?: ConnectionTracker;
  /** Shared with the HTTPS entry point so both count and log alike; built from `logger` if absent. */
  readonly rejects?: TlsRejects;
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

  constructor(opts: TlsPassthroughOptions) {
    this.tables = opts.tables;
    this.helloTimeoutMs = opts.helloTimeoutMs;
    const rejects = opts.rejects ?? new TlsRejects(opts.metrics, new RateLimitedLog(opts.logger));
    this.rejects = rejects;
    this.ownPortFail = (socket, reason, detail) => rejects.reject(socket, reason, detail === undefined ? {} : { detail });
    const connected = opts.metrics.connections.labels({ protocol: 'tls-passthrough' });
    const idleTimeoutMs = opts.idleTimeoutMs ?? 0;
    const registry = opts.registry;
    this.dialHooks = {
      connectTimeoutMs: opts.connectTimeoutMs,
      connected(client, upstream, backend, { bytes }) {
        connected.inc();
        registry?.track(backend.address, upstream);
        upstream.write(bytes);
        tunnel(client, upstream, idleTimeoutMs);
      },
      exhausted(client, { route }, _tried, last) {
        rejects.reject(client, 'upstream-connect', { route: route.id, err: last });
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
   * Sends a connection whose ClientHello has been read (`bytes`, socket paused) to the next of
   * the route's backends, round robin; a backend that refuses or does not answer in time is
   * skipped for the next (each tried once).
   */
  forward(client: Socket, bytes: Buffer, route: TlsRoute): void {
    const backends = route.backends;
    if (backends.length === 0) {
      this.rejects.reject(client, 'no-healthy-backend', { route: route.id });
      return;
    }
    const first = route.cursor % backends.length;
    route.cursor = first + 1;
    dial(this.dialHooks, client, backends, first, { route, bytes });
  }

  private routeOwnPort(socket: Socket, port: number, hello: ClientHello, bytes: Buffer): void {
    if (hello.serverName === undefined) {
      this.rejects.reject(socket, 'no-sni', { port });
      return;
    }
    const route = this.tables.current.lookupTls(hello.serverName, port);
    if (route === undefined) {
      this.rejects.reject(socket, 'no-route', { port, serverName: hello.serverName });
      return;
    }
    this.forward(socket, bytes, route);
  }
}
