import type { Socket } from 'node:net';
import type { TunnelBuffers } from './tunnel-buffers.js';

/**
 * Joins two connected sockets: bytes flow both ways with backpressure (a reader stops while what
 * it sent waits to be written), an end on one side half-closes the other (both sockets must allow
 * half-open), an error, reset or destroy on either side destroys both, and with `idleTimeoutMs` >
 * 0 a tunnel with no traffic in either direction for that long is closed. `onClose` runs once,
 * when both sockets are closed. With `buffers`, a plain TCP socket reads into reused buffers (see
 * `TunnelBuffers`); without them, or for a socket that cannot, node's own reads are relayed.
 * Used by raw TCP, TLS passthrough and WebSocket.
 */
export function tunnel(a: Socket, b: Socket, idleTimeoutMs = 0, onClose?: () => void, buffers?: TunnelBuffers): void {
  new Tunnel(a, b, idleTimeoutMs, onClose, buffers);
}

/** One tunnel's listeners, bound once: one 'error' and one 'close' listener per socket. */
class Tunnel {
  private open = 2;
  private readonly ab: BufferRelay | undefined;
  private readonly ba: BufferRelay | undefined;

  constructor(
    private readonly a: Socket,
    private readonly b: Socket,
    idleTimeoutMs: number,
    private readonly onClose: (() => void) | undefined,
    buffers: TunnelBuffers | undefined,
  ) {
    a.on('error', this.destroyBoth);
    b.on('error', this.destroyBoth);
    a.on('close', this.aClosed);
    b.on('close', this.bClosed);
    // Writes count as activity too, so one socket's timer covers both directions.
    if (idleTimeoutMs > 0) a.setTimeout(idleTimeoutMs, this.destroyBoth);
    this.ab = buffers === undefined ? undefined : BufferRelay.start(a, b, buffers);
    this.ba = buffers === undefined ? undefined : BufferRelay.start(b, a, buffers);
    if (this.ab === undefined) relay(a, b);
    if (this.ba === undefined) relay(b, a);
  }

  private readonly destroyBoth = (): void => {
    this.a.destroy();
    this.b.destroy();
  };

  // A side that closes before both of its directions ended cleanly (reset, or destroy() without an
  // error, as the registry does to drain a backend) must not leave the other open. A clean close
  // leaves the other side alone: it may still be flushing what it was sent before the end.
  private readonly aClosed = (hadError: boolean): void => {
    if (hadError || !this.a.readableEnded || !this.a.writableFinished) this.b.destroy();
    this.closed();
  };

  private readonly bClosed = (hadError: boolean): void => {
    if (hadError || !this.b.readableEnded || !this.b.writableFinished) this.a.destroy();
    this.closed();
  };

  private closed(): void {
    if (--this.open !== 0) return;
    // Both handles are closed: no read or write uses a buffer any more.
    this.ab?.release();
    this.ba?.release();
    this.onClose?.();
  }
}

/**
 * One direction with node's reads: each chunk `from` reads is written to `to` as it comes (no
 * `pipe()`: its bookkeeping per chunk costs more than the copy on a fast stream), `from` paused
 * while `to`'s buffer is full. Three listeners per direction, bound once per tunnel.
 */
function relay(from: Socket, to: Socket): void {
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
  from.once('end', () => to.end());
  // The dialer left the client paused, with whatever it had read already (a WebSocket's head)
  // still buffered: it is delivered first.
  from.resume();
}

/** A read at least this large makes the direction read into a buffer of its own. */
const LARGE_READ = 16 * 1024;

/**
 * One direction reading into `TunnelBuffers`. A read into the shared landing buffer is copied
 * before it is written; a read into the direction's own buffer is written from it, and as the
 * kernel may take only part of a write at once (node then keeps pointing at the rest), nothing is
 * read again until that write completed: `from` stops reading whenever `to` has anything queued,
 * which also bounds what baton holds for a slow reader to one read.
 */
class BufferRelay {
  /** The buffer the next read goes into. */
  private buffer: Buffer;
  private lastRead = 0;
  /** Reading stopped until the last write completes. */
  private waiting = false;

  private constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly buffers: TunnelBuffers,
  ) {
    this.buffer = buffers.landing;
  }

  /** Starts relaying `from` to `to`, or returns undefined when `from` cannot read into buffers. */
  static start(from: Socket, to: Socket, buffers: TunnelBuffers): BufferRelay | undefined {
    const relay = new BufferRelay(from, to, buffers);
    if (!buffers.adopt(from, relay.read, relay.next)) return undefined;
    from.on('end', relay.ended);
    from.resume();
    return relay;
  }

  /** Gives the direction's own buffer back; only once neither socket can use it. */
  release(): void {
    if (this.buffer === this.buffers.landing) return;
    this.buffers.give(this.buffer);
    this.buffer = this.buffers.landing;
  }

  private readonly read = (bytes: number, buffer: Buffer): boolean => {
    let chunk: Buffer;
    if (buffer === this.buffers.landing) {
      chunk = Buffer.allocUnsafe(bytes);
      buffer.copy(chunk, 0, 0, bytes);
    } else {
      chunk = buffer.subarray(0, bytes);
    }
    this.lastRead = bytes;
    this.to.write(chunk, this.written);
    // Written through to the kernel already (node writes synchronously when it can).
    if (this.to.writableLength === 0) return true;
    this.waiting = true;
    return false;
  };

  private readonly next = (): Buffer => {
    const own = this.buffer !== this.buffers.landing;
    // The write still pending points into this buffer: it stays until reading resumes.
    if (own && this.waiting) return this.buffer;
    if (this.lastRead >= LARGE_READ) {
      if (!own) this.buffer = this.buffers.take();
    } else if (own) {
      this.release();
    }
    return this.buffer;
  };

  private readonly written = (err?: Error | null): void => {
    if (err || !this.waiting) return;
    this.waiting = false;
    this.from.resume();
  };

  private readonly ended = (): void => {
    this.to.end();
  };
}
