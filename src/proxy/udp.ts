import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { performance } from 'node:perf_hooks';
import type { Metrics } from '../observability/metrics.js';
import { RateLimitedLog } from '../observability/rate-limited-log.js';
import { CONN } from '../observability/route-stats.js';
import type { PortRoute, TableSource } from '../routing/types.js';
import type { UpstreamRegistry } from '../upstream/registry.js';
import type { UdpListener } from './listeners.js';
import { metricsOnly, roundMs, type Observe } from './observe.js';
import { MAX_SEND_QUEUE, UdpFlow, type UdpFlowOwner } from './udp-flow.js';

export interface UdpProxyOptions {
  /** The service port: the port baton binds and the key of the route in the table. */
  readonly port: number;
  readonly tables: TableSource;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** A flow with no datagram either way for this long is closed. */
  readonly idleTimeoutMs: number;
  /** At most this many flows; the least recently used is closed to make room. */
  readonly maxFlows: number;
  /**
   * The backend registry: a new flow's backend follows the route's balancing policy (source
   * hashing keeps a client on one backend); a backend that fails a flow is counted there.
   */
  readonly upstreams: Pick<UpstreamRegistry, 'pick' | 'attemptFailed'>;
  /** Where flows are recorded when they close; default: per-route metrics into `metrics`, no access log. */
  readonly observe?: Observe;
}

/** Longest pause between two sweeps for idle flows: they are closed at most this late. */
const MAX_SWEEP_INTERVAL_MS = 1000;

/**
 * UDP on one service port. Each client address is a flow with its own socket connected to one
 * backend (chosen by the route's balancing policy when the flow starts); replies go back to the client through the
 * listening socket. A flow whose backend left the table moves to another on its next datagram.
 * A flow counts as active for its route while it exists, and is recorded (class `conn`, lifetime,
 * datagram bytes each way) and logged when it is closed. Datagrams no route takes make no flow
 * and are only counted in `baton_connection_errors_total`.
 */
export class UdpProxy implements UdpListener, UdpFlowOwner {
  private readonly flows: LRUCache<string, UdpFlow>;
  private readonly log: RateLimitedLog;
  private readonly counts;
  /** Backend addresses of each route object seen, so a flow checks its backend with one lookup. */
  private readonly members = new WeakMap<PortRoute, Set<string>>();
  private readonly observe: Observe;
  private socket: Socket | undefined;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly opts: UdpProxyOptions) {
    const { metrics } = opts;
    this.observe = opts.observe ?? metricsOnly(metrics);
    const errors = (reason: string) => metrics.connectionErrors.labels({ protocol: 'udp', reason });
    this.counts = {
      flows: metrics.connections.labels({ protocol: 'udp' }),
      noRoute: errors('no-route'),
      noBackend: errors('no-healthy-backend'),
      upstreamError: errors('upstream-error'),
      evicted: errors('flow-evicted'),
      backlogFull: errors('backlog-full'),
      sendQueueFull: errors('send-queue-full'),
    };
    this.log = new RateLimitedLog(opts.logger);
    this.flows = new LRUCache<string, UdpFlow>({
      max: opts.maxFlows,
      dispose: (flow, _key, reason) => {
        flow.close();
        this.record(flow);
        metrics.udpFlows.dec();
        if (reason === 'evict') {
          this.counts.evicted.inc();
          this.log.warn('udp-flow-limit', { port: opts.port, maxFlows: opts.maxFlows }, 'UDP flow limit reached; least recently used flow closed');
        }
      },
    });
  }

  /** Number of open flows. */
  get size(): number {
    return this.flows.size;
  }

  /** Binds `host`:port; rejects when the port cannot be bound or the proxy is closed first. */
  listen(host: string): Promise<void> {
    const socket = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
    this.socket = socket;
    return new Promise((resolve, reject) => {
      const onBindError = (err: Error) => {
        socket.removeListener('close', onClosed);
        this.socket = undefined;
        socket.close();
        reject(err);
      };
      const onClosed = () => {
        socket.removeListener('error', onBindError);
        reject(new Error(`UDP port ${this.opts.port} closed before it was bound`));
      };
      socket.once('error', onBindError);
      socket.once('close', onClosed);
      socket.bind(this.opts.port, host, () => {
        socket.removeListener('error', onBindError);
        socket.removeListener('close', onClosed);
        socket.on('error', this.onSocketError);
        socket.on('message', this.onMessage);
        const every = Math.min(this.opts.idleTimeoutMs, MAX_SWEEP_INTERVAL_MS);
        this.sweeper = setInterval(this.sweep, every);
        this.sweeper.unref();
        resolve();
      });
    });
  }

  /** Closes every flow and the listening socket. */
  async close(): Promise<void> {
    const { socket } = this;
    this.socket = undefined;
    if (socket !== undefined) await new Promise<void>((resolve) => socket.close(() => resolve()));
    // After the socket: a bind that completes meanwhile starts no sweeper that outlives the proxy.
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    this.flows.clear();
  }

  reply(flow: UdpFlow, msg: Buffer): void {
    const { socket } = this;
    if (socket === undefined) return;
    if (socket.getSendQueueCount() >= MAX_SEND_QUEUE) {
      this.dropped(flow, 'send-queue-full');
      return;
    }
    flow.bytesOut += msg.length;
    socket.send(msg, flow.clientPort, flow.clientAddress);
  }

  failed(flow: UdpFlow, err: Error): void {
    this.counts.upstreamError.inc();
    flow.failed = true;
    this.opts.upstreams.attemptFailed(flow.address, 'upstream-connect');
    this.log.warn('udp-upstream-error', { port: this.opts.port, backend: flow.address, err: err.message }, 'UDP backend socket failed; flow closed');
    // Only the flow's own entry: a newer flow under the same key has its own socket.
    if (this.flows.peek(flow.key) === flow) this.flows.delete(flow.key);
    else flow.close();
  }

  dropped(flow: UdpFlow, reason: 'backlog-full' | 'send-queue-full'): void {
    (reason === 'backlog-full' ? this.counts.backlogFull : this.counts.sendQueueFull).inc();
    this.log.warn(`udp-${reason}`, { port: this.opts.port, backend: flow.address }, 'UDP datagram dropped: the socket could not take it');
  }

  private readonly onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    const route = this.opts.tables.current.lookupPort('udp', this.opts.port);
    if (route === undefined || route.backends.length === 0) {
      this.noRoute(route, rinfo);
      return;
    }
    const key = `${rinfo.address}:${rinfo.port}`;
    let flow = this.flows.get(key);
    if (flow === undefined) {
      const backend = this.opts.upstreams.pick(route, rinfo.address);
      if (backend === undefined) return this.noRoute(route, rinfo);
      flow = new UdpFlow(key, rinfo.address, rinfo.port, route, backend, this);
      const routes = this.observe.routes;
      if (routes !== null) {
        flow.stats = routes.of(route.id);
        flow.stats.active += 1;
      }
      this.flows.set(key, flow);
      this.opts.metrics.udpFlows.inc();
      this.counts.flows.inc();
    } else if (flow.route !== route) {
      // A new table: the flow's backend may have left it.
      if (!this.backendsOf(route).has(flow.address)) {
        const backend = this.opts.upstreams.pick(route, rinfo.address);
        if (backend === undefined) return this.noRoute(route, rinfo);
        flow.moveTo(backend);
      }
      flow.route = route;
      flow.lastSeen = Date.now();
    } else {
      flow.lastSeen = Date.now();
    }
    flow.bytesIn += msg.length;
    flow.send(msg);
  };

  /** A flow was closed: it counts for the route it started on, and gets its access log line. */
  private record(flow: UdpFlow): void {
    const ms = performance.now() - flow.openedAt;
    const { stats } = flow;
    if (stats !== null) {
      stats.active -= 1;
      stats.done(CONN, ms / 1000, flow.bytesIn, flow.bytesOut);
    }
    const log = this.observe.accessLog;
    const error = flow.failed ? 'upstream-connect' : undefined;
    if (log === null || !log.wants(flow.failed)) return;
    const { backend } = flow;
    log.write({
      route: flow.route.id,
      app: backend.appId,
      backend: backend.address,
      protocol: 'udp',
      durationMs: roundMs(ms),
      bytesIn: flow.bytesIn,
      bytesOut: flow.bytesOut,
      error,
      client: flow.clientAddress,
    });
  }

  private noRoute(route: PortRoute | undefined, rinfo: RemoteInfo): void {
    if (route === undefined) {
      this.counts.noRoute.inc();
      this.log.warn('udp-no-route', { port: this.opts.port, client: rinfo.address }, 'UDP datagram on a port with no route; dropped');
    } else {
      this.counts.noBackend.inc();
      this.log.warn('udp-no-healthy-backend', { port: this.opts.port, route: route.id }, 'UDP datagram for a route with no backend; dropped');
    }
  }

  private backendsOf(route: PortRoute): Set<string> {
    let addresses = this.members.get(route);
    if (addresses === undefined) {
      addresses = new Set(route.backends.map((backend) => backend.address));
      this.members.set(route, addresses);
    }
    return addresses;
  }

  private readonly sweep = (): void => {
    const cutoff = Date.now() - this.opts.idleTimeoutMs;
    // Collected first: an lru-cache must not be changed while iterated.
    const idle: string[] = [];
    for (const flow of this.flows.values()) if (flow.lastSeen <= cutoff) idle.push(flow.key);
    for (const key of idle) this.flows.delete(key);
  };

  private readonly onSocketError = (err: Error): void => {
    this.log.warn('udp-socket-error', { port: this.opts.port, err: err.message }, 'UDP service socket error');
  };
}
