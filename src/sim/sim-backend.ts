import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A task's process for scenarios: an HTTP server on a loopback address that answers with its
 * name (`/slow` after `slowMs`) and remembers the `x-seq` number of every request, so a
 * scenario can tell which requests reached it and when they were sent.
 */
export interface SimBackend {
  readonly name: string;
  readonly ip: string;
  readonly port: number;
  /** `x-seq` of every request received, in arrival order. */
  readonly seqs: readonly number[];
  /** Requests being answered right now. */
  readonly active: number;
  /** Client connections open right now (keep-alive ones included). */
  readonly connections: number;
  /** Stops accepting; requests in flight are answered first. */
  close(): Promise<void>;
  /** Dies as a crashed process does: the listening socket and every connection close at once, requests in flight unanswered. */
  kill(): Promise<void>;
}

/**
 * Listens on `ip:port` (port 0 picks one). Scenarios give each task its own loopback address
 * (127.0.0.0/8 is all loopback on Linux), so tasks of an IP-per-task app can share a port.
 */
export async function startSimBackend(name: string, ip: string, port = 0, slowMs = 200): Promise<SimBackend> {
  const seqs: number[] = [];
  let active = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const seq = Number(req.headers['x-seq']);
    if (Number.isInteger(seq)) seqs.push(seq);
    active++;
    req.resume();
    const answer = () => {
      active--;
      res.writeHead(200, { 'content-type': 'text/plain' }).end(name);
    };
    if (req.url === '/slow') setTimeout(answer, slowMs);
    else answer();
  });
  // Idle keep-alive connections stay until the client closes them: a scenario sees the proxy do it.
  server.keepAliveTimeout = 120_000;
  let connections = 0;
  server.on('connection', (socket) => {
    connections++;
    socket.once('close', () => connections--);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, ip, () => resolve());
  });
  return {
    name,
    ip,
    port: (server.address() as AddressInfo).port,
    seqs,
    get active() {
      return active;
    },
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
    kill: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
