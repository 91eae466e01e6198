import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { RateLimitedLog } from '../observability/rate-limited-log.js';
import type { SwapRecord } from '../routing/swap-history.js';
import type { RoutingTable } from '../routing/types.js';
import type { MarkResult } from '../state/maintenance.js';
import type { MarkInput } from '../state/maintenance-types.js';
import { parseMarkBody } from './maintenance-body.js';
import { routesView, type RuntimeStatus } from './routes-view.js';
import { STATUS_PAGE, STATUS_PAGE_CSP } from './status-page.js';

/** The maintenance endpoints' view of the state. */
export interface MaintenanceAdmin {
  /** The body of `GET /maintenance`: Mesos machines, marks, tasks out of service and why. */
  view(): object;
  add(mark: MarkInput): Promise<MarkResult>;
  /** undefined when there is no mark with this id. */
  remove(id: string): Promise<MarkResult | undefined>;
}

/** Largest request body the admin API reads (a mark naming thousands of tasks fits). */
const MAX_BODY_BYTES = 1024 * 1024;

export interface AdminOptions {
  readonly logger: Logger;
  /** Required as `Authorization: Bearer <token>` on every mutating call when set. */
  readonly token?: string;
  /** The Prometheus text of `GET /metrics` (the primary's metrics merged with its workers'). */
  readonly metrics: () => Promise<{ contentType: string; text: string }>;
  readonly table: () => RoutingTable;
  /** Listener and certificate state shown next to the table in `/routes`. */
  readonly runtime: () => RuntimeStatus | Promise<RuntimeStatus>;
  /** The body of `GET /health`, and whether baton is serving (200) or not yet (503). */
  readonly health: () => { serving: boolean; body: object };
  readonly resync: () => Promise<void>;
  readonly maintenance: MaintenanceAdmin;
  /** The last table swaps, newest first, for `GET /swaps` and the status page. */
  readonly swaps: () => readonly SwapRecord[];
}

/** `id` is the `{id}` of a templated path, '' for the others. */
type Handler = (req: IncomingMessage, res: ServerResponse, id: string) => Promise<void> | void;

/**
 * The admin API: the status page (`/`), read-only views (`/health`, `/routes`, `/swaps`, `/metrics`, `/maintenance`), `POST
 * /resync` and the maintenance marks (`POST /maintenance`, `DELETE /maintenance/{id}`).
 * It binds to loopback by default (the caller decides); with a token set, mutating calls
 * without it get 401.
 */
export function createAdminServer(opts: AdminOptions): Server {
  const warnings = new RateLimitedLog(opts.logger);
  const unauthorized = (req: IncomingMessage, res: ServerResponse): void => {
    warnings.warn('admin-unauthorized', { method: req.method, path: req.url }, 'admin call without the bearer token refused');
    req.resume();
    res.setHeader('www-authenticate', 'Bearer');
    sendJson(res, 401, { error: 'missing or wrong bearer token' });
  };
  const routes: Record<string, Partial<Record<string, Handler>>> = {
    '/': {
      GET: (_req, res) => {
        res
          .writeHead(200, {
            'content-type': 'text/html; charset=utf-8',
            'content-security-policy': STATUS_PAGE_CSP,
            'cache-control': 'no-store',
            'x-content-type-options': 'nosniff',
            'referrer-policy': 'no-referrer',
          })
          .end(STATUS_PAGE);
      },
    },
    '/health': {
      GET: (_req, res) => {
        const { serving, body } = opts.health();
        sendJson(res, serving ? 200 : 503, body);
      },
    },
    '/routes': { GET: async (_req, res) => sendJson(res, 200, routesView(opts.table(), await opts.runtime(), Date.now())) },
    '/swaps': { GET: (_req, res) => sendJson(res, 200, { swaps: opts.swaps() }) },
    '/metrics': {
      GET: async (_req, res) => {
        const { contentType, text } = await opts.metrics();
        res.writeHead(200, { 'content-type': contentType }).end(text);
      },
    },
    '/resync': {
      POST: async (req, res) => {
        if (!authorized(req, opts.token)) return unauthorized(req, res);
        req.resume();
        try {
          await opts.resync();
          sendJson(res, 200, { resynced: true, version: opts.table().version });
        } catch (err) {
          sendJson(res, 502, { resynced: false, error: (err as Error).message });
        }
      },
    },
    '/maintenance': {
      GET: (_req, res) => sendJson(res, 200, opts.maintenance.view()),
      POST: async (req, res) => {
        if (!authorized(req, opts.token)) return unauthorized(req, res);
        const body = await readJson(req);
        if ('error' in body) return sendJson(res, body.status, { error: body.error });
        const parsed = parseMarkBody(body.json, Date.now());
        if ('errors' in parsed) {
          warnings.warn('admin-bad-mark', { reasons: parsed.errors }, 'maintenance mark refused');
          return sendJson(res, 400, { error: 'invalid maintenance mark', reasons: parsed.errors });
        }
        const { mark, warning } = await opts.maintenance.add(parsed.mark);
        res.setHeader('location', `/maintenance/${mark.id}`);
        sendJson(res, 201, warning === undefined ? mark : { ...mark, warning });
      },
    },
    '/maintenance/{id}': {
      DELETE: async (req, res, id) => {
        if (!authorized(req, opts.token)) return unauthorized(req, res);
        req.resume();
        const deleted = await opts.maintenance.remove(id);
        if (deleted === undefined) return sendJson(res, 404, { error: `no maintenance mark ${id}` });
        sendJson(res, 200, { deleted: deleted.mark, ...(deleted.warning !== undefined && { warning: deleted.warning }) });
      },
    },
  };

  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    const { route, id } = routeOf(path);
    const methods = routes[route];
    const handler = methods?.[req.method ?? ''];
    if (!methods) return sendJson(res, 404, { error: `no admin endpoint ${path}`, endpoints: Object.keys(routes) });
    if (!handler) {
      res.setHeader('allow', Object.keys(methods).join(', '));
      return sendJson(res, 405, { error: `${req.method} not allowed on ${path}` });
    }
    Promise.resolve(handler(req, res, id)).catch((err: unknown) => {
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

/** `/maintenance/7` is the templated route `/maintenance/{id}` with id `7`. */
function routeOf(path: string): { route: string; id: string } {
  const prefix = '/maintenance/';
  const rest = path.startsWith(prefix) ? path.slice(prefix.length) : '';
  if (rest === '' || rest.includes('/')) return { route: path, id: '' };
  return { route: '/maintenance/{id}', id: rest };
}

async function readJson(req: IncomingMessage): Promise<{ json: unknown } | { status: number; error: string }> {
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) {
    req.resume();
    return { status: 413, error: `body larger than ${MAX_BODY_BYTES} bytes` };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  // Read to the end even past the limit: leaving the loop early would destroy the socket before the 413.
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  }
  if (size > MAX_BODY_BYTES) return { status: 413, error: `body larger than ${MAX_BODY_BYTES} bytes` };
  try {
    return { json: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
  } catch (err) {
    return { status: 400, error: `body is not JSON: ${(err as Error).message}` };
  }
}

function authorized(req: IncomingMessage, token: string | undefined): boolean {
  if (token === undefined) return true;
  const given = Buffer.from(req.headers.authorization ?? '');
  const wanted = Buffer.from(`Bearer ${token}`);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}
