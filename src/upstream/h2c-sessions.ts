import { connect, type ClientHttp2Session } from 'node:http2';
import net from 'node:net';
import type { Logger } from 'pino';

export interface H2cSessionsOptions {
  /** Time to establish the TCP connection to a backend, unless `get` is given one. Default 3000 ms. */
  readonly connectTimeoutMs?: number;
}

/**
 * One HTTP/2 cleartext session (prior knowledge) per h2c backend (gRPC services), created on first
 * use and shared by every request to that backend: streams multiplex over it.
 *
 * Not undici: its H2CClient sends a request with a streamed body only when no other request is in
 * flight on the client, which would serialise every gRPC call to a backend.
 *
 * A session that receives GOAWAY, fails or closes is forgotten at once, so the next request opens
 * a new one; streams already running on it finish as the backend allows. Like the registry's pools,
 * sessions outlive table swaps; `retain` closes those of backends no longer in any table.
 */
export class H2cSessions {
  private readonly sessions = new Map<string, ClientHttp2Session>();
  private readonly connectTimeoutMs: number;

  constructor(
    private readonly logger: Logger,
    opts: H2cSessionsOptions = {},
  ) {
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 3000;
  }

  /** Number of live sessions. */
  get size(): number {
    return this.sessions.size;
  }

  /**
   * The session for `host:port` (or `[v6]:port`), connecting (within `connectTimeoutMs`, a
   * route's, else the default) when there is none. Throws for an address that is not one.
   */
  get(address: string, connectTimeoutMs = this.connectTimeoutMs): ClientHttp2Session {
    const existing = this.sessions.get(address);
    if (existing !== undefined && !existing.closed && !existing.destroyed) return existing;
    const session = this.open(address, connectTimeoutMs);
    this.sessions.set(address, session);
    return session;
  }

  /** Closes (gracefully) the sessions of every address not in `addresses` (a set, or the registry's policy map). */
  retain(addresses: { has(address: string): boolean }): void {
    for (const address of this.sessions.keys()) if (!addresses.has(address)) this.drop(address);
  }

  /** As `retain`, when only the backends at `changed` may have left since the last call. */
  retainChanged(addresses: { has(address: string): boolean }, changed: Iterable<string>): void {
    if (this.sessions.size === 0) return;
    for (const address of changed) if (!addresses.has(address)) this.drop(address);
  }

  /** Closes every session, waiting for the streams in flight to finish. */
  async close(): Promise<void> {
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(
      sessions.map(
        (session) =>
          new Promise<void>((resolve) => {
            if (session.destroyed) return resolve();
            session.once('close', resolve);
            session.close();
          }),
      ),
    );
  }

  private drop(address: string): void {
    const session = this.sessions.get(address);
    if (session === undefined) return;
    this.sessions.delete(address);
    session.close();
  }

  private open(address: string, timeoutMs: number): ClientHttp2Session {
    const colon = address.lastIndexOf(':');
    const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
    const port = Number(address.slice(colon + 1));
    if (colon <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`not a backend address: "${address}"`);
    const session = connect(`http://${address}`, {
      createConnection: () => {
        const socket = net.connect({ host, port });
        socket.setTimeout(timeoutMs, () => socket.destroy(Object.assign(new Error(`connect timeout after ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
        socket.once('connect', () => socket.setTimeout(0));
        return socket;
      },
    });
    const forget = () => {
      if (this.sessions.get(address) === session) this.sessions.delete(address);
    };
    // Each stream on the session reports the failure to its own request; this only keeps the
    // session's error from being an unhandled one.
    session.on('error', (err: NodeJS.ErrnoException) => {
      forget();
      this.logger.debug({ backend: address, code: err.code, reason: err.message }, 'h2c backend session failed');
    });
    session.on('goaway', forget);
    session.on('close', forget);
    return session;
  }
}
