import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small Marathon for client tests: `/v2/events` (strict about Accept, like Marathon's servlet),
 * `/v2/apps?...` and `/v2/apps/{id}`, optional auth, optional 302 to a leader. Records what it got.
 */
export interface FakeMarathonOptions {
  readonly apps?: unknown[];
  /** Exact Authorization value required on every request (401 otherwise). */
  readonly authorization?: string;
  /** Answer every request with a 302 to the same path on this base URL, like a standby. */
  readonly redirectTo?: string;
}

export class FakeMarathon {
  url = '';
  apps: unknown[];
  readonly appBodies = new Map<string, unknown>();
  /** Open event streams, oldest first. */
  readonly streams: ServerResponse[] = [];
  readonly streamRequests: IncomingHttpHeaders[] = [];
  readonly snapshotRequests: IncomingHttpHeaders[] = [];
  readonly appRequests: string[] = [];
  /** Status codes for the next `/v2/events` requests instead of a stream. */
  readonly streamFailures: number[] = [];
  /** Status codes for the next snapshot requests instead of the apps. */
  readonly snapshotFailures: number[] = [];
  /** While true, snapshot answers wait for release(). */
  holdSnapshots = false;
  private readonly held: (() => void)[] = [];
  private readonly server: Server;
  private readonly opts: FakeMarathonOptions;

  private constructor(opts: FakeMarathonOptions) {
    this.opts = opts;
    this.apps = opts.apps ?? [];
    this.server = createServer((req, res) => this.handle(req, res));
  }

  static async start(opts: FakeMarathonOptions = {}): Promise<FakeMarathon> {
    const fake = new FakeMarathon(opts);
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.url = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    return fake;
  }

  get heldSnapshots(): number {
    return this.held.length;
  }

  /** Answers the held snapshot requests. */
  release(): void {
    for (const answer of this.held.splice(0)) answer();
  }

  /** Writes one event frame, framed the way Marathon does it (CRLF). */
  send(eventType: string, data: unknown, stream = this.streams.at(-1)): void {
    this.write(`event: ${eventType}\r\ndata: ${typeof data === 'string' ? data : JSON.stringify(data)}\r\n\r\n`, stream);
  }

  write(raw: string, stream = this.streams.at(-1)): void {
    if (!stream) throw new Error('no open event stream');
    stream.write(raw);
  }

  /** Closes every event stream, as Marathon does on a leader change. */
  endStreams(): void {
    for (const stream of this.streams.splice(0)) stream.end();
  }

  async close(): Promise<void> {
    this.endStreams();
    this.release();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = req.url ?? '/';
    if (this.opts.authorization !== undefined && req.headers.authorization !== this.opts.authorization) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"message":"invalid username or password"}');
    } else if (this.opts.redirectTo !== undefined) {
      res.writeHead(302, { location: this.opts.redirectTo + path }).end();
    } else if (path === '/v2/events' || path.startsWith('/v2/events?')) {
      this.stream(req, res);
    } else if (path.startsWith('/v2/apps?')) {
      this.snapshot(req, res);
    } else if (path.startsWith('/v2/apps/')) {
      this.app(path, res);
    } else {
      res.writeHead(404).end();
    }
  }

  private stream(req: IncomingMessage, res: ServerResponse): void {
    this.streamRequests.push(req.headers);
    // Marathon's servlet compares the whole header value.
    if (req.headers.accept !== 'text/event-stream') {
      res.writeHead(405).end();
      return;
    }
    const failure = this.streamFailures.shift();
    if (failure !== undefined) {
      res.writeHead(failure, { 'content-type': 'text/plain' }).end('Could not determine the current leader');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream;charset=utf-8', 'x-marathon-leader': this.url, connection: 'close' });
    res.flushHeaders();
    this.streams.push(res);
    res.on('close', () => {
      const at = this.streams.indexOf(res);
      if (at >= 0) this.streams.splice(at, 1);
    });
    this.send('event_stream_attached', { remoteAddress: '127.0.0.1', eventType: 'event_stream_attached', timestamp: new Date().toISOString() }, res);
  }

  private snapshot(req: IncomingMessage, res: ServerResponse): void {
    this.snapshotRequests.push(req.headers);
    const failure = this.snapshotFailures.shift();
    if (failure !== undefined) {
      res.writeHead(failure).end('boom');
      return;
    }
    const answer = (): void => {
      if (!res.destroyed) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ apps: this.apps }));
    };
    if (this.holdSnapshots) this.held.push(answer);
    else answer();
  }

  private app(path: string, res: ServerResponse): void {
    const id = decodeURIComponent((path.split('?')[0] as string).slice('/v2/apps'.length));
    this.appRequests.push(id);
    const body = this.appBodies.get(id);
    if (body === undefined) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ message: `App '${id}' does not exist` }));
    } else {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ app: body }));
    }
  }
}
