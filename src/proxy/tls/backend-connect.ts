import { connect, type Socket } from 'node:net';
import type { Backend } from '../../routing/types.js';

export type ConnectResult = { readonly upstream: Socket; readonly backend: Backend } | { readonly error: string };

/**
 * Connects to `backends`, starting at index `first` and trying each at most once: a backend
 * that refuses, fails or does not answer within `timeoutMs` is skipped for the next. `done` is
 * called once, unless `client` closes first (the attempt is then dropped). The client socket is
 * left paused: nothing is read from it while connecting.
 */
export function connectFirstAvailable(backends: readonly Backend[], first: number, timeoutMs: number, client: Socket, done: (result: ConnectResult) => void): void {
  let tried = 0;
  let upstream: Socket | undefined;
  let lastError = 'no backend';

  const next = (): void => {
    if (tried === backends.length) {
      client.off('close', onClientClose);
      done({ error: lastError });
      return;
    }
    const backend = backends[(first + tried) % backends.length] as Backend;
    tried++;
    const socket = connect({ host: backend.host, port: backend.port, allowHalfOpen: true, noDelay: true });
    upstream = socket;
    socket.setTimeout(timeoutMs);
    const release = () => {
      socket.off('connect', onConnect);
      socket.off('timeout', onTimeout);
      socket.off('error', onError);
    };
    const giveUp = (why: string) => {
      release();
      lastError = `${backend.address}: ${why}`;
      socket.on('error', ignore);
      socket.destroy();
      next();
    };
    const onConnect = () => {
      release();
      socket.setTimeout(0);
      client.off('close', onClientClose);
      done({ upstream: socket, backend });
    };
    const onTimeout = () => giveUp('connect timeout');
    const onError = (err: Error) => giveUp(err.message);
    socket.once('connect', onConnect);
    socket.once('timeout', onTimeout);
    socket.once('error', onError);
  };

  const onClientClose = (): void => {
    if (upstream === undefined) return;
    upstream.removeAllListeners('connect');
    upstream.on('error', ignore);
    upstream.destroy();
  };

  client.once('close', onClientClose);
  next();
}

function ignore(): void {}
