import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { RouteStats } from '../observability/route-stats.js';
import type { Backend, PortRoute } from '../routing/types.js';

/** Datagrams a flow holds while its backend socket connects; more are dropped. */
const MAX_PENDING = 64;
/** Datagrams a socket may have queued in libuv (the kernel buffer was full); more are dropped. */
export const MAX_SEND_QUEUE = 1024;

/** What a flow reports to the proxy that owns it. */
export interface UdpFlowOwner {
  /** A datagram from the flow's backend, to go back to its client. */
  reply(flow: UdpFlow, msg: Buffer): void;
  /** The backend socket failed (e.g. ICMP port unreachable): the flow must be closed. */
  failed(flow: UdpFlow, err: Error): void;
  /** A datagram was dropped because the backend socket could not take it. */
  dropped(flow: UdpFlow, reason: 'backlog-full' | 'send-queue-full'): void;
}

const ignore = (): void => undefined;

/**
 * One client address (ip:port) of a UDP service port: its own socket `connect()`ed to one
 * backend, so the kernel only lets that backend's replies in and reports its ICMP errors. It
 * keeps its own record (the owner counts the bytes), written when the flow is closed.
 */
export class UdpFlow {
  /** `Date.now()` of the last datagram either way. */
  lastSeen = Date.now();
  /** The route object the backend was last checked against: a new table means a new check. */
  route: PortRoute;
  readonly openedAt = performance.now();
  /** The metrics of the route the flow started on (null when not recorded), active until it is closed. */
  stats: RouteStats | null = null;
  /** Datagram bytes from the client, and back to it. */
  bytesIn = 0;
  bytesOut = 0;
  /** The backend socket failed (ICMP unreachable). */
  failed = false;
  private current: Backend;
  private socket: Socket | undefined;
  /** Datagrams waiting for the socket to connect; undefined once connected. */
  private pending: Buffer[] | undefined;

  constructor(
    readonly key: string,
    readonly clientAddress: string,
    readonly clientPort: number,
    route: PortRoute,
    backend: Backend,
    private readonly owner: UdpFlowOwner,
  ) {
    this.route = route;
    this.current = backend;
    this.open(backend);
  }

  /** The backend this flow sends to. */
  get backend(): Backend {
    return this.current;
  }

  /** The backend address (`host:port`) this flow sends to. */
  get address(): string {
    return this.current.address;
  }

  send(msg: Buffer): void {
    const { socket, pending } = this;
    if (socket === undefined) return;
    if (pending !== undefined) {
      if (pending.length < MAX_PENDING) pending.push(msg);
      else this.owner.dropped(this, 'backlog-full');
    } else if (socket.getSendQueueCount() >= MAX_SEND_QUEUE) {
      this.owner.dropped(this, 'send-queue-full');
    } else {
      socket.send(msg);
    }
  }

  /** Sends the flow's next datagrams to `backend` instead, through a new socket. */
  moveTo(backend: Backend): void {
    this.close();
    this.open(backend);
  }

  close(): void {
    const { socket } = this;
    if (socket === undefined) return;
    this.socket = undefined;
    this.pending = undefined;
    socket.removeListener('connect', this.onConnect);
    socket.removeListener('message', this.onMessage);
    socket.removeListener('error', this.onError);
    socket.on('error', ignore);
    socket.close();
  }

  private open(backend: Backend): void {
    const socket = createSocket(isIP(backend.host) === 6 ? 'udp6' : 'udp4');
    this.socket = socket;
    this.pending = [];
    this.current = backend;
    socket.once('connect', this.onConnect);
    socket.on('message', this.onMessage);
    socket.on('error', this.onError);
    socket.connect(backend.port, backend.host);
  }

  private readonly onConnect = (): void => {
    const { socket, pending } = this;
    this.pending = undefined;
    if (socket === undefined || pending === undefined) return;
    for (const msg of pending) socket.send(msg);
  };

  private readonly onMessage = (msg: Buffer): void => {
    this.lastSeen = Date.now();
    this.owner.reply(this, msg);
  };

  private readonly onError = (err: Error): void => {
    this.owner.failed(this, err);
  };
}
