import { request, type Dispatcher } from 'undici';
import { parseHttpEndpoint, type HttpEndpoint } from '../http-endpoint.js';

/** A Mesos master URL without credentials (safe to log), and its Basic authorization if the URL had userinfo. */
export type MesosEndpoint = HttpEndpoint;

export function parseMesosEndpoint(raw: string): MesosEndpoint {
  return parseHttpEndpoint(raw, 'Mesos');
}

export interface MesosCall {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly body?: string;
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
}

export interface MesosAnswer {
  readonly statusCode: number;
  /** The body, read in full. */
  readonly text: string;
  /** The master that answered, after redirects (scheme, host and port). */
  readonly origin: string;
}

const MAX_REDIRECTS = 3;

/**
 * One call to a master. A master that is not the leader answers 307 with a protocol-relative
 * `Location` (`//leader:5050/...`): it is resolved against the URL asked and the same call
 * (method, body, authorization) goes to the leader.
 */
export async function callMesos(dispatcher: Dispatcher, endpoint: MesosEndpoint, call: MesosCall): Promise<MesosAnswer> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (call.body !== undefined) headers['content-type'] = 'application/json';
  if (endpoint.authorization !== undefined) headers.authorization = endpoint.authorization;
  let current = endpoint.base + call.path;
  for (let hop = 0; ; hop++) {
    const res = await request(current, {
      dispatcher,
      method: call.method,
      headers,
      body: call.body,
      signal: call.signal,
      headersTimeout: call.timeoutMs,
      bodyTimeout: call.timeoutMs,
    });
    const location = res.headers.location;
    if (res.statusCode < 300 || res.statusCode >= 400 || typeof location !== 'string') {
      return { statusCode: res.statusCode, text: await res.body.text(), origin: new URL(current).origin };
    }
    await res.body.dump();
    if (hop >= MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects from ${endpoint.base}`);
    const next = new URL(location, current);
    next.username = '';
    next.password = '';
    current = next.href;
  }
}
