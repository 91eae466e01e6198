import type { Socket } from 'node:net';

/**
 * Joins two connected sockets: bytes flow both ways with backpressure (a reader is paused while
 * its writer's buffer is full and resumed on its 'drain'), an end on one side half-closes the
 * other (both sockets must allow half-open), an error, reset or destroy on either side destroys
 * both, and with `idleTimeoutMs` > 0 a tunnel with no traffic in either direction for that long
 * is closed. `onClose` runs once, when both sockets are closed. Used by raw TCP, TLS passthrough
 * and WebSocket.
 */
export function tunnel(a: Socket, b: Socket, idleTimeoutMs = 0, onClose?: () => void): void {
  const destroyBoth = () => {
    a.destroy();
    b.destroy();
  };
  a.on('error', destroyBoth);
  b.on('error', destroyBoth);
  // A side that closes before both of its directions ended cleanly (reset, or destroy() without an
  // error, as the registry does to drain a backend) must not leave the other open. A clean close
  // leaves the other side alone: it may still be flushing what it was sent before the end.
  a.on('close', (hadError) => (hadError || !a.readableEnded || !a.writableFinished) && b.destroy());
  b.on('close', (hadError) => (hadError || !b.readableEnded || !b.writableFinished) && a.destroy());
  if (idleTimeoutMs > 0) {
    // Writes count as activity too, so one socket's timer covers both directions.
    a.setTimeout(idleTimeoutMs, destroyBoth);
  }
  if (onClose) {
    let open = 2;
    const closed = () => {
      if (--open === 0) onClose();
    };
    a.once('close', closed);
    b.once('close', closed);
  }
  relay(a, b);
  relay(b, a);
}

/**
 * One direction: what `from` reads is written to `to` as it comes (no `pipe()`: its bookkeeping
 * per chunk costs more than the copy on a fast stream). Three listeners per direction, bound once
 * per tunnel.
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
