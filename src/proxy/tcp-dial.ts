import { connect, type Socket } from 'node:net';
import type { RateLimitedLog } from '../observability/rate-limited-log.js';
import type { Backend } from '../routing/types.js';
import type { UpstreamRegistry } from '../upstream/registry.js';
import { tunnel } from './tunnel.js';

interface Count {
  inc(): void;
}

/** What every dial of one TCP handler shares. */
export interface TcpDialContext {
  readonly upstreams: UpstreamRegistry;
  readonly log: RateLimitedLog;
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly connected: Count;
  readonly refused: Count;
  readonly timedOut: Count;
  readonly unreachable: Count;
}

const ignore = (): void => undefined;

/**
 * Connects one client to the first backend that accepts, starting at `first` and trying each
 * backend at most once, then tunnels the two. The client stays paused meanwhile.
 */
export class TcpDial {
  private tried = 0;
  private upstream: Socket | undefined;
  private backend: Backend | undefined;

  constructor(
    private readonly ctx: TcpDialContext,
    private readonly client: Socket,
    private readonly port: number,
    private readonly backends: readonly Backend[],
    private readonly first: number,
  ) {
    client.pause();
    client.on('error', this.onClientGone);
    client.on('close', this.onClientGone);
  }

  /** Dials the next backend not tried yet, or closes the client when none is left. */
  next(): void {
    if (this.tried === this.backends.length) {
      this.giveUp();
      return;
    }
    const backend = this.backends[(this.first + this.tried) % this.backends.length] as Backend;
    this.tried += 1;
    this.backend = backend;
    // `timeout` arms the socket's inactivity timer before connecting: with no traffic yet, it is
    // the connect timeout. It is switched off once connected.
    const upstream = connect({ host: backend.host, port: backend.port, allowHalfOpen: true, noDelay: true, timeout: this.ctx.connectTimeoutMs });
    this.upstream = upstream;
    upstream.once('connect', this.onConnect);
    upstream.once('timeout', this.onTimeout);
    upstream.once('error', this.onError);
  }

  private readonly onConnect = (): void => {
    const { upstream, backend, client } = this;
    if (upstream === undefined || backend === undefined) return;
    this.detach(upstream);
    client.removeListener('error', this.onClientGone);
    client.removeListener('close', this.onClientGone);
    upstream.setTimeout(0);
    this.ctx.connected.inc();
    this.ctx.upstreams.track(backend.address, upstream);
    tunnel(client, upstream, this.ctx.idleTimeoutMs);
  };

  private readonly onTimeout = (): void => {
    this.ctx.timedOut.inc();
    this.failed(undefined);
  };

  private readonly onError = (err: Error): void => {
    this.ctx.refused.inc();
    this.failed(err);
  };

  private failed(err: Error | undefined): void {
    const { upstream, backend } = this;
    if (upstream === undefined) return;
    this.drop(upstream);
    this.ctx.log.warn(
      'tcp-upstream-connect',
      { port: this.port, backend: backend?.address, err: err?.message ?? `no connection within ${this.ctx.connectTimeoutMs} ms` },
      'TCP backend could not be reached; trying the next',
    );
    this.next();
  }

  private giveUp(): void {
    this.upstream = undefined;
    this.ctx.unreachable.inc();
    this.ctx.log.warn('tcp-upstream-unreachable', { port: this.port, tried: this.tried }, 'no TCP backend could be reached; client closed');
    this.client.removeListener('error', this.onClientGone);
    this.client.removeListener('close', this.onClientGone);
    this.client.destroy();
  }

  /** The client left while a backend was being dialled: stop dialling. */
  private readonly onClientGone = (): void => {
    const { upstream } = this;
    this.client.removeListener('error', this.onClientGone);
    this.client.removeListener('close', this.onClientGone);
    this.client.on('error', ignore);
    if (upstream === undefined) return;
    this.drop(upstream);
    this.client.destroy();
  };

  private drop(upstream: Socket): void {
    this.detach(upstream);
    this.upstream = undefined;
    // Nothing reads a dropped socket's errors any more; they must not become uncaught.
    upstream.on('error', ignore);
    upstream.destroy();
  }

  private detach(upstream: Socket): void {
    upstream.removeListener('connect', this.onConnect);
    upstream.removeListener('timeout', this.onTimeout);
    upstream.removeListener('error', this.onError);
  }
}
