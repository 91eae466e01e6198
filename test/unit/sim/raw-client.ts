import { connect, type Socket } from 'node:net';

/** A GET sent over a bare socket, every received chunk kept as it arrived. */
export interface RawExchange {
  readonly socket: Socket;
  readonly chunks: string[];
  readonly ended: boolean;
  /** Everything received so far. */
  text(): string;
  /** The body so far (after the head), or undefined while the head is incomplete. */
  body(): string | undefined;
}

export function rawGet(baseUrl: string, path: string, headers: Record<string, string>): Promise<RawExchange> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const chunks: string[] = [];
    let ended = false;
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      const lines = [`GET ${path} HTTP/1.1`, `Host: ${hostname}:${port}`];
      for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
      socket.write(lines.join('\r\n') + '\r\n\r\n');
      resolve({
        socket,
        chunks,
        get ended() {
          return ended;
        },
        text: () => chunks.join(''),
        body: () => {
          const all = chunks.join('');
          const cut = all.indexOf('\r\n\r\n');
          return cut < 0 ? undefined : all.slice(cut + 4);
        },
      });
    });
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => chunks.push(chunk));
    socket.on('end', () => {
      ended = true;
    });
    socket.on('error', reject);
  });
}

export interface Frame {
  event: string;
  data: Record<string, unknown>;
}

/** Complete `event:`/`data:` frames in a body, strictly in Marathon's CRLF framing; heartbeat bytes skipped. */
export function frames(body: string): Frame[] {
  const found: Frame[] = [];
  const pattern = /event: ([^\r\n]+)\r\ndata: ([^\r\n]*)\r\n\r\n/g;
  for (const match of body.matchAll(pattern)) {
    found.push({ event: match[1] ?? '', data: JSON.parse(match[2] ?? '') as Record<string, unknown> });
  }
  return found;
}

export function eventNames(exchange: RawExchange): string[] {
  return frames(exchange.body() ?? '').map((f) => f.event);
}
