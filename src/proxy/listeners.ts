import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import { RateLimitedLog } from '../observability/rate-limited-log.js';
import type { RoutingTable } from '../routing/types.js';

export type ListenerProtocol = 'tcp' | 'udp' | 'tls';

/** A UDP service port, as `UdpProxy` implements it. */
export interface UdpListener {
  /** Binds `host` on the port it was made for; rejects when that fails. */
  listen(host: string): Promise<void>;
  close(): Promise<void>;
}

export interface ServiceListenersOptions {
  /** Address every service port binds to (`serviceBind`). */
  readonly bind: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** A connection on a raw TCP service port; the socket allows half-open and starts paused. */
  readonly onTcp: (socket: Socket, port: number) => void;
  /** A connection on a TLS passthrough route's own port; the socket allows half-open and starts paused. */
  readonly onTls: (socket: Socket, port: number) => void;
  /** Makes the UDP listener for a port (not yet bound). */
  readonly udp: (port: number) => UdpListener;
}

export interface ListenerStatus {
  readonly protocol: ListenerProtocol;
  readonly port: number;
  /** `opening` only between `reconcile` and the bind completing. */
  readonly state: 'opening' | 'listening' | 'failed';
  /** Why the port could not be opened. */
  readonly error?: string;
}

interface Listener {
  readonly protocol: ListenerProtocol;
  readonly port: number;
  state: ListenerStatus['state'];
  error?: string;
  server?: Server;
  udp?: UdpListener;
}

/**
 * The service-port listeners: one for every TCP and UDP port route and every TLS route with its
 * own port, opened and closed as tables come and go. Closing a listener only stops accepting:
 * established connections go on, and drain through the backend registry when their backend
 * leaves. A port that cannot be bound is reported (log, metric, `status()`) and left alone until
 * its route disappears and comes back, so a taken port causes no retry storm.
 */
export class ServiceListeners {
  private readonly listeners = new Map<string, Listener>();
  /** `protocol:port:code` of failures already logged; the metric counts each one. */
  private readonly logged = new Set<string>();
  private readonly acceptErrors: RateLimitedLog;
  private closed = false;

  constructor(private readonly opts: ServiceListenersOptions) {
    this.acceptErrors = new RateLimitedLog(opts.logger);
  }

  /** Opens the listeners `table` needs and closes the ones it no longer has. Call on every swap. */
  reconcile(table: RoutingTable): void {
    if (this.closed) return;
    const wanted = new Map<string, { protocol: ListenerProtocol; port: number }>();
    for (const route of table.portRoutes) wanted.set(`${route.protocol}:${route.port}`, { protocol: route.protocol, port: route.port });
    for (const route of table.tlsRoutes) {
      if (route.port !== undefined) wanted.set(`tls:${route.port}`, { protocol: 'tls', port: route.port });
    }
    // Closing first frees a port that changes protocol (tcp <-> tls) for its new listener.
    for (const [key, listener] of this.listeners) {
      if (!wanted.has(key)) {
        this.listeners.delete(key);
        this.stop(listener);
      }
    }
    for (const [key, { protocol, port }] of wanted) {
      if (!this.listeners.has(key)) this.open(key, protocol, port);
    }
  }

  status(): ListenerStatus[] {
    return [...this.listeners.values()]
      .map(({ protocol, port, state, error }) => ({ protocol, port, state, ...(error !== undefined && { error }) }))
      .sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol));
  }

  /** Stops every listener. Established TCP connections are left to the registry's `close()`. */
  async close(): Promise<void> {
    this.closed = true;
    const listeners = [...this.listeners.values()];
    this.listeners.clear();
    await Promise.all(listeners.map((listener) => this.stop(listener)));
  }

  private open(key: string, protocol: ListenerProtocol, port: number): void {
    const listener: Listener = { protocol, port, state: 'opening' };
    this.listeners.set(key, listener);
    const current = () => this.listeners.get(key) === listener;
    if (protocol === 'udp') {
      const udp = this.opts.udp(port);
      listener.udp = udp;
      udp.listen(this.opts.bind).then(
        () => {
          if (current()) listener.state = 'listening';
        },
        (err: NodeJS.ErrnoException) => {
          if (current()) this.failed(listener, err);
        },
      );
      return;
    }
    const handler = protocol === 'tcp' ? this.opts.onTcp : this.opts.onTls;
    // Paused on connect: nothing is read from a client before its handler has somewhere to send it.
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (socket) => handler(socket, port));
    listener.server = server;
    server.on('error', (err: NodeJS.ErrnoException) => {
      if (!current()) return;
      if (listener.state === 'opening') {
        this.failed(listener, err);
        server.close();
      } else {
        // Accept errors (EMFILE, ...) on a listening port, possibly one per connection: the port stays open.
        this.acceptErrors.warn(`accept-${err.code ?? 'error'}`, { protocol, port, err: err.message }, 'service listener cannot accept');
      }
    });
    server.listen({ port, host: this.opts.bind }, () => {
      if (current()) listener.state = 'listening';
    });
  }

  private failed(listener: Listener, err: NodeJS.ErrnoException): void {
    const { protocol, port } = listener;
    listener.state = 'failed';
    listener.error = err.message;
    this.opts.metrics.listenerErrors.inc({ protocol });
    const logKey = `${protocol}:${port}:${err.code ?? err.message}`;
    if (this.logged.has(logKey)) return;
    this.logged.add(logKey);
    this.opts.logger.error({ protocol, port, bind: this.opts.bind, err: err.message }, 'cannot open service port');
  }

  private async stop(listener: Listener): Promise<void> {
    if (listener.server !== undefined) {
      // Stops accepting at once; the server's close callback would wait for every connection.
      listener.server.close();
    } else if (listener.udp !== undefined) {
      await listener.udp.close().catch((err: unknown) => {
        this.opts.logger.error({ port: listener.port, err: (err as Error).message }, 'cannot close UDP service port');
      });
    }
  }
}
