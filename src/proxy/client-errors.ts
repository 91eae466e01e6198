import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import { PROXY_ERRORS, rawErrorResponse } from './errors.js';

/** The parts of node's socket the server sets and `clientError` handlers read. */
interface ServerSocket extends Socket {
  _httpMessage?: { headersSent?: boolean } | null;
}

/**
 * Builds the server's `clientError` listener: node's parser refused the request (malformed,
 * headers too large) or the client took too long. There is no request or response object then,
 * so the answer is written to the socket directly, and the connection is closed. Logged at
 * debug only: a hostile client must not be able to flood the log.
 */
export function createClientErrorHandler(metrics: Metrics, logger: Logger): (err: Error, socket: Socket) => void {
  return (err, socket) => {
    const errorCode = (err as NodeJS.ErrnoException).code;
    const serverSocket = socket as ServerSocket;
    // Nothing to answer: the client is gone, or a response is already being written on this socket.
    if (errorCode === 'ECONNRESET' || !socket.writable || serverSocket._httpMessage?.headersSent === true) {
      socket.destroy();
      return;
    }
    const code = errorCode === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'request-timeout' : 'bad-request';
    const status = errorCode === 'HPE_HEADER_OVERFLOW' ? 431 : PROXY_ERRORS[code].status;
    metrics.proxyErrors.inc({ code });
    logger.debug({ code: errorCode, remote: socket.remoteAddress }, 'client error');
    socket.write(rawErrorResponse(code, undefined, status));
    socket.destroySoon();
  };
}
