import type { ServerResponse } from 'node:http';

/** Delay between the heartbeat's `\r` and `\n`, so the two bytes leave in separate TCP segments. */
const HEARTBEAT_SPLIT_MS = 5;

interface Stream {
  readonly res: ServerResponse;
  readonly remoteAddress: string;
  /** `event_type=` filters of this subscriber; undefined = every event. */
  readonly filter: ReadonlySet<string> | undefined;
  /** Between the heartbeat's `\r` and `\n`: frames wait here so none lands inside the line end. */
  queued: string[] | undefined;
  closedByServer: boolean;
}

function frame(eventType: string, body: object): string {
  return `event: ${eventType}\r\ndata: ${JSON.stringify(body)}\r\n\r\n`;
}

/**
 * The subscribers of `GET /v2/events`, framed the way Marathon frames them: a 200 with
 * `Connection: close` and neither chunked encoding nor Content-Length (the body ends when the
 * socket closes), `event:`/`data:` lines ending in CRLF, and a heartbeat written as `\r` then `\n`.
 */
export class EventStreamHub {
  private readonly streams = new Set<Stream>();
  private heartbeat: NodeJS.Timeout | undefined;
  private lineFeed: NodeJS.Timeout | undefined;

  constructor(private readonly heartbeatMs: number) {}

  get count(): number {
    return this.streams.size;
  }

  start(): void {
    this.heartbeat ??= setInterval(() => this.beat(), this.heartbeatMs).unref();
  }

  /** Stops the heartbeat and ends every stream. */
  stop(): void {
    clearInterval(this.heartbeat);
    clearTimeout(this.lineFeed);
    this.heartbeat = undefined;
    this.lineFeed = undefined;
    this.closeAll();
  }

  attach(res: ServerResponse, leaderUrl: string, filter: ReadonlySet<string> | undefined): void {
    // Removing Transfer-Encoding makes Node send neither chunked encoding nor a length: the body
    // is delimited by the connection closing, as Marathon's is.
    res.removeHeader('Transfer-Encoding');
    res.writeHead(200, {
      'Content-Type': 'text/event-stream;charset=utf-8',
      Connection: 'close',
      'X-Marathon-Leader': leaderUrl,
    });
    res.flushHeaders();
    const stream: Stream = {
      res,
      remoteAddress: res.socket?.remoteAddress ?? '',
      filter,
      queued: undefined,
      closedByServer: false,
    };
    this.streams.add(stream);
    res.on('close', () => {
      this.streams.delete(stream);
      if (!stream.closedByServer) this.broadcastEvent('event_stream_detached', { remoteAddress: stream.remoteAddress });
    });
    // Every subscriber, the new one included, sees each attach.
    this.broadcastEvent('event_stream_attached', { remoteAddress: stream.remoteAddress });
  }

  /** Sends one event (the body should carry `eventType` and `timestamp`) to every subscriber whose filter admits it. */
  broadcast(eventType: string, body: object): void {
    const text = frame(eventType, body);
    for (const stream of this.streams) {
      if (stream.filter === undefined || stream.filter.has(eventType)) this.write(stream, text);
    }
  }

  /** Raw bytes to every subscriber, filters ignored. */
  sendRaw(text: string): void {
    for (const stream of this.streams) this.write(stream, text);
  }

  /** Ends every stream (a leader abdicating); clients see the body end. */
  closeAll(): void {
    for (const stream of this.streams) {
      stream.closedByServer = true;
      if (stream.queued) stream.res.write('\n' + stream.queued.join(''));
      stream.res.end();
    }
    this.streams.clear();
  }

  private broadcastEvent(eventType: string, fields: object): void {
    this.broadcast(eventType, { ...fields, eventType, timestamp: new Date().toISOString() });
  }

  private write(stream: Stream, text: string): void {
    if (stream.queued) stream.queued.push(text);
    else stream.res.write(text);
  }

  private beat(): void {
    if (this.lineFeed !== undefined || this.streams.size === 0) return;
    for (const stream of this.streams) {
      stream.res.write('\r');
      stream.queued = [];
    }
    this.lineFeed = setTimeout(() => {
      this.lineFeed = undefined;
      for (const stream of this.streams) {
        if (!stream.queued) continue;
        stream.res.write('\n' + stream.queued.join(''));
        stream.queued = undefined;
      }
    }, HEARTBEAT_SPLIT_MS).unref();
  }
}
