import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { isAuthorized, sendUnauthorized } from './auth.js';
import { sendJson, TrackedServer } from './http-util.js';
import type { MarathonSim } from './marathon-sim.js';
import type { SimCredentials } from './types.js';

const NO_LEADER = { message: 'Could not determine the current leader' };

/**
 * A standby Marathon (1.7+): `/v2/events` answers 302 to the leader with the query string kept,
 * `/v2/leader` names the leader, and every other `/v2` call is proxied to the leader.
 */
export class MarathonStandby {
  private readonly http: TrackedServer;
  private readonly credentials: SimCredentials | undefined;

  constructor(
    private readonly leader: MarathonSim,
    opts: { credentials?: SimCredentials } = {},
  ) {
    this.credentials = opts.credentials;
    this.http = new TrackedServer(createServer((req, res) => this.handle(req, res)));
  }

  get url(): string {
    return this.http.url;
  }

  listen(port = 0, host = '127.0.0.1'): Promise<string> {
    return this.http.listen(port, host);
  }

  close(): Promise<void> {
    return this.http.close();
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    if (!isAuthorized(req, this.credentials)) {
      sendUnauthorized(res);
      return;
    }
    const path = req.url ?? '/';
    const queryAt = path.indexOf('?');
    const pathname = queryAt < 0 ? path : path.slice(0, queryAt);
    if (!pathname.startsWith('/v2/')) {
      sendJson(res, 404, { message: 'HTTP 404 Not Found' });
      return;
    }
    const leaderUrl = this.leader.url;
    if (leaderUrl === '') {
      sendJson(res, 503, NO_LEADER);
      return;
    }
    res.setHeader('X-Marathon-Leader', leaderUrl);
    if (pathname === '/v2/events') {
      res.writeHead(302, { Location: leaderUrl + path, 'Content-Length': 0 });
      res.end();
    } else if (pathname === '/v2/leader') {
      sendJson(res, 200, { leader: leaderUrl.slice('http://'.length) });
    } else {
      this.proxy(req, res, leaderUrl, path);
    }
  }

  private proxy(req: IncomingMessage, res: ServerResponse, leaderUrl: string, path: string): void {
    const { hostname, port } = new URL(leaderUrl);
    const headers = { ...req.headers };
    delete headers.host;
    delete headers.connection;
    const upstream = request({ hostname, port, path, method: req.method, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => {
      if (!res.headersSent) sendJson(res, 503, NO_LEADER);
      else res.destroy();
    });
    req.pipe(upstream);
  }
}
