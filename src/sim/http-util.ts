import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** An HTTP server together with every socket it accepted, so `close` never waits on a client. */
export class TrackedServer {
  private readonly sockets = new Set<Socket>();
  private baseUrl = '';

  constructor(readonly server: Server) {
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  /** Base URL once listening, e.g. `http://127.0.0.1:4321`; empty before. */
  get url(): string {
    return this.baseUrl;
  }

  /** `host:port`, as `/v2/leader` and `X-Marathon-Leader` name a Marathon. */
  get hostPort(): string {
    return this.baseUrl.slice('http://'.length);
  }

  listen(port: number, host: string): Promise<string> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const address = this.server.address();
        if (address === null || typeof address === 'string') {
          reject(new Error('simulator: server has no TCP address'));
          return;
        }
        const shownHost = address.address.includes(':') ? `[${address.address}]` : address.address;
        this.baseUrl = `http://${shownHost}:${address.port}`;
        resolve(this.baseUrl);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server.listening) {
        resolve();
        return;
      }
      this.server.close(() => resolve());
      for (const socket of this.sockets) socket.destroy();
    });
  }
}
