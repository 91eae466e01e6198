import type { Socket } from 'node:net';
import { parseClientHello } from './client-hello.js';

export interface ClientHello {
  readonly serverName?: string;
  readonly alpn?: string[];
}

export interface HelloOutcome {
  /**
   * The whole ClientHello arrived. `bytes` is everything read so far (the hello and anything
   * after it); the socket is paused with no data listener, ready to be handed on.
   */
  hello(socket: Socket, hello: ClientHello, bytes: Buffer): void;
  /** No usable ClientHello; the callee closes the socket. `detail` is the parser's reason. */
  fail(socket: Socket, reason: 'invalid-hello' | 'hello-timeout' | 'client-closed', detail?: string): void;
}

/** Errors after the hand-off belong to whoever holds the socket; this only keeps them from crashing baton. */
function destroyOnError(this: Socket): void {
  this.destroy();
}

/**
 * Reads the first bytes of a connection until they hold a complete ClientHello (at most
 * MAX_CLIENT_HELLO_BYTES, at most `timeoutMs`), then reports it once through `outcome`.
 */
export function readClientHello(socket: Socket, timeoutMs: number, outcome: HelloOutcome): void {
  let bytes: Buffer | undefined;
  const done = () => {
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.off('close', onEnd);
    socket.off('timeout', onTimeout);
    socket.setTimeout(0);
  };
  const onData = (chunk: Buffer) => {
    bytes = bytes === undefined ? chunk : Buffer.concat([bytes, chunk]);
    const result = parseClientHello(bytes);
    if (result.state === 'need-more') return;
    done();
    if (result.state === 'invalid') {
      outcome.fail(socket, 'invalid-hello', result.reason);
      return;
    }
    socket.pause();
    outcome.hello(socket, result, bytes);
  };
  const onEnd = () => {
    done();
    outcome.fail(socket, 'client-closed');
  };
  const onTimeout = () => {
    done();
    outcome.fail(socket, 'hello-timeout');
  };
  socket.on('error', destroyOnError);
  socket.on('data', onData);
  socket.on('end', onEnd);
  socket.on('close', onEnd);
  socket.on('timeout', onTimeout);
  socket.setTimeout(timeoutMs);
  // Listeners may be built with `pauseOnConnect`; a 'data' listener alone does not resume those.
  socket.resume();
}
