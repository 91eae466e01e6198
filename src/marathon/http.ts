import type { IncomingHttpHeaders } from 'node:http';
import { request, type Dispatcher } from 'undici';
import { parseHttpEndpoint, type HttpCredentials, type HttpEndpoint } from '../http-endpoint.js';

/**
 * HTTP to Marathon: base URLs without credentials, the Authorization header, and redirects
 * followed by hand so the credentials reach the leader (fetch-style redirects drop
 * `Authorization` on a cross-origin hop, and a standby 302s `/v2/events` to the leader).
 */

export type MarathonCredentials = HttpCredentials;
export type MarathonEndpoint = HttpEndpoint;

export function parseEndpoint(raw: string, credentials?: MarathonCredentials): MarathonEndpoint {
  return parseHttpEndpoint(raw, 'Marathon', credentials);
}

export interface GetOptions {
  readonly authorization?: string;
  /** Sent as is: Marathon compares `Accept` of `/v2/events` as a whole string. */
  readonly accept: string;
  readonly signal: AbortSignal;
  readonly headersTimeoutMs: number;
  /** Longest silence between body bytes; 0 disables it (the event stream has its own idle timer). */
  readonly bodyTimeoutMs: number;
}

export interface GetResult {
  readonly statusCode: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Dispatcher.ResponseData['body'];
  /** URL of the final response, after redirects. */
  readonly url: string;
  readonly redirected: boolean;
}

const MAX_REDIRECTS = 3;
const REDIRECT_CODES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

export async function httpGet(dispatcher: Dispatcher, url: string, opts: GetOptions): Promise<GetResult> {
  const headers: Record<string, string> = { accept: opts.accept };
  if (opts.authorization !== undefined) headers.authorization = opts.authorization;
  let current = url;
  for (let hop = 0; ; hop++) {
    const res = await request(current, {
      dispatcher,
      method: 'GET',
      headers,
      signal: opts.signal,
      headersTimeout: opts.headersTimeoutMs,
      bodyTimeout: opts.bodyTimeoutMs,
    });
    const location = res.headers.location;
    if (!REDIRECT_CODES.has(res.statusCode) || typeof location !== 'string') {
      return { statusCode: res.statusCode, headers: res.headers, body: res.body, url: current, redirected: hop > 0 };
    }
    await res.body.dump();
    if (hop >= MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects from ${url}`);
    // The same headers, Authorization included, go to the leader the standby points at.
    current = redirectTarget(location, current);
  }
}

function redirectTarget(location: string, from: string): string {
  const next = new URL(location, from);
  next.username = '';
  next.password = '';
  return next.href;
}

/** GET `path` of `endpoint` asking for JSON, with its credentials and `timeoutMs` for the head and each pause in the body. */
function getFrom(dispatcher: Dispatcher, endpoint: MarathonEndpoint, path: string, signal: AbortSignal, timeoutMs: number): ReturnType<typeof httpGet> {
  return httpGet(dispatcher, endpoint.base + path, {
    accept: 'application/json',
    signal,
    headersTimeoutMs: timeoutMs,
    bodyTimeoutMs: timeoutMs,
    ...(endpoint.authorization !== undefined && { authorization: endpoint.authorization }),
  });
}

/** GET a body and hand it to `onChunk` as it arrives, so a large one is never held whole; an error for any status but 200. */
export async function streamBody(
  dispatcher: Dispatcher,
  endpoint: MarathonEndpoint,
  path: string,
  signal: AbortSignal,
  timeoutMs: number,
  onChunk: (chunk: Buffer) => void,
): Promise<void> {
  const res = await getFrom(dispatcher, endpoint, path, signal, timeoutMs);
  if (res.statusCode !== 200) {
    await res.body.dump();
    throw new Error(`HTTP ${res.statusCode} from ${res.url}`);
  }
  // A throwing onChunk ends the loop, which destroys the body (the connection is not reused).
  for await (const chunk of res.body) onChunk(chunk as Buffer);
}

/** GET a JSON document; `undefined` when Marathon answers 404, an error for any other non-200. */
export async function getJson(
  dispatcher: Dispatcher,
  endpoint: MarathonEndpoint,
  path: string,
  signal: AbortSignal,
  timeoutMs: number,
): Promise<unknown> {
  const res = await getFrom(dispatcher, endpoint, path, signal, timeoutMs);
  if (res.statusCode === 200) return res.body.json();
  await res.body.dump();
  if (res.statusCode === 404) return undefined;
  throw new Error(`HTTP ${res.statusCode} from ${res.url}`);
}
