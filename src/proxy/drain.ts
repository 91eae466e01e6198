import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * While an entry point drains, a 'request' listener put in front of the handler: the connection
 * closes after this answer, so its client sends nothing more on it. Idle keep-alive connections
 * are left to their keep-alive timeout (announced in `Keep-Alive:`), never cut while a client
 * may be writing on them.
 */
export function answerThenClose(_req: IncomingMessage, res: ServerResponse): void {
  res.shouldKeepAlive = false;
}
