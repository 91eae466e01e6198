import type { Socket } from 'node:net';
import type { Metrics } from '../../observability/metrics.js';
import type { RateLimitedLog } from '../../observability/rate-limited-log.js';

/** Why a TLS connection (terminated or passed through) was closed early; a metrics label. */
export type TlsRejectReason =
  /** The first bytes are not a TLS ClientHello (plain HTTP, garbage) or it is larger than 16 KiB. */
  | 'invalid-hello'
  /** No complete ClientHello within the headers timeout. */
  | 'hello-timeout'
  /** The client closed or reset before its ClientHello was complete (port probes, health checks). */
  | 'client-closed'
  /** A ClientHello without a server name on a passthrough-only port. */
  | 'no-sni'
  /** No TLS route for the server name on a passthrough-only port. */
  | 'no-route'
  | 'no-healthy-backend'
  /** Every backend of the route has its circuit breaker open. */
  | 'all-backends-open'
  /** Every backend of the route refused, timed out or failed to connect. */
  | 'upstream-connect'
  /** The TLS handshake failed (no shared cipher or version, bad record, reset). */
  | 'handshake'
  | 'handshake-timeout'
  /** An HTTP/2 session error after the handshake (bad frames, protocol errors). */
  | 'h2-session';

/**
 * Counts every rejected TLS connection as connectionErrors{protocol: 'tls', reason} and logs it
 * through the rate-limited log (a hostile client can repeat these at will), then closes it.
 * Clients that merely go away are counted but not logged.
 */
export class TlsRejects {
  constructor(
    private readonly metrics: Metrics,
    private readonly log: RateLimitedLog,
  ) {}

  reject(socket: Socket, reason: TlsRejectReason, details: Record<string, unknown> = {}): void {
    this.count(reason, socket, details);
    socket.destroy();
  }

  /** Counts and logs without touching the socket (for sockets the caller or node closes). */
  count(reason: TlsRejectReason, socket: Socket | undefined, details: Record<string, unknown> = {}): void {
    this.metrics.connectionErrors.inc({ protocol: 'tls', reason });
    if (reason !== 'client-closed') {
      this.log.warn(`tls-${reason}`, { reason, remote: socket?.remoteAddress, ...details }, `TLS connection rejected: ${reason}`);
    }
  }
}
