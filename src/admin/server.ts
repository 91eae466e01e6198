import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { RoutingTable } from '../routing/types.js';
import { routesView, type RuntimeStatus } from './routes-view.js';

export interface AdminOptions {
  readonly logger: Logger;
  /** Required as `Authorization: Bearer <token>` on every mutating call when set. */
  readonly token?: string;
  readonly registry: Registry;
  readonly table: () => RoutingTable;
  /** Listener and certificate state shown next to the table in `/routes`. */
  readonly runtime: () => RuntimeStatus;
  /** The body of `GET /health`, and whether baton is serving (200) or not yet (503). */
  readonly health: () => { serving: boolean; body: object };
  readonly resync: () => Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;

/**
 * The admin API: read-only views (`/health`, `/routes`, `/metrics`) and `POST /resync`.
 * It binds to loopback by default (the caller decides); with a token set, mutating calls
 * without it get 401.
 */
export function createAdminServer(opts: AdminOptions): Server {
  const routes: Record<string, Partial<Record<string, Handler>>> = {
    '/health': {
      GET: (_req, res) => {
        const { serving, body } = opts.health();
        sendJson(res, serving ? 200 : 503, body);
      },
    },
    '/routes': { GET: (_req, res) => sendJson(res, 200, routesView(opts.table(), opts.runtime(), Date.now())) },
    '/metrics': {
      GET: async (_req, res) => {
        const text = await opts.registry.metrics();
        res.writeHead(200, { 'content-type': opts.registry.contentType }).end(text);
      },
    },
    '/resync': {
      POST: async (req, res) => {
        if (!authorized(req, opts.token)) return sendJson(res, 401, { error: 'missing or wrong bearer token' });
        req.resume();
        try {
          await opts.resync();
          sendJson(res, 200, { resynced: true, version: opts.table().version });
        } catch (err) {
          sendJson(res, 502, { resynced: false, error: (err as Error).message });
        }
      },
    },
  };

  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    const methods = routes[path];
    const handler = methods?.[req.method ?? ''];
    if (!methods) return sendJson(res, 404, { error: `no admin endpoint ${path}`, endpoints: Object.keys(routes) });
    if (!handler) {
      res.setHeader('allow', Object.keys(methods).join(', '));
      return sendJson(res, 405, { error: `${req.method} not allowed on ${path}` });
    }
    Promise.resolve(handler(req, res)).catch((err: unknown) => {
      opts.logger.error({ err, path }, 'admin request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });
}

function sendJson(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(text);
}

function authorized(req: IncomingMessage, token: string | undefined): boolean {
  if (token === undefined) return true;
  const given = Buffer.from(req.headers.authorization ?? '');
  const wanted = Buffer.from(`Bearer ${token}`);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}
