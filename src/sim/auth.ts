import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SimCredentials } from './types.js';
import { sendJson } from './http-util.js';

/** Marathon's two schemes: HTTP Basic (`--http_credentials`) and DC/OS `Authorization: token=<jwt>`. */
export function isAuthorized(req: IncomingMessage, credentials: SimCredentials | undefined): boolean {
  if (!credentials) return true;
  const header = req.headers.authorization;
  if (header === undefined) return false;
  if ('token' in credentials) return header === `token=${credentials.token}`;
  const match = /^Basic\s+(\S+)$/i.exec(header);
  if (!match?.[1]) return false;
  return Buffer.from(match[1], 'base64').toString('utf8') === `${credentials.user}:${credentials.password}`;
}

export function sendUnauthorized(res: ServerResponse): void {
  sendJson(res, 401, { message: 'Invalid username or password.' }, {
    'WWW-Authenticate': 'Basic realm="Mesosphere Marathon"',
  });
}
