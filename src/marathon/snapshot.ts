import type { AppSnapshot } from '../state/model.js';
import { readApp, Refused } from './app-reader.js';
import { absoluteAppId, isRecord } from './json.js';

/**
 * Turns `GET /v2/apps?embed=apps.tasks&embed=apps.readiness` and `GET /v2/apps/{id}` bodies into
 * AppSnapshots. Each app is checked on its own: one malformed app is rejected with a reason
 * naming the field, the others are kept. (A full snapshot is read as it arrives: apps-body.ts.)
 */

export interface RejectedApp {
  readonly appId?: string;
  readonly reason: string;
}

export interface ParsedApps {
  readonly apps: AppSnapshot[];
  readonly rejected: RejectedApp[];
}

export type ParsedApp = { readonly ok: true; readonly app: AppSnapshot } | { readonly ok: false; readonly rejected: RejectedApp };

export const NOT_APPS_BODY = 'Marathon apps body is not {"apps": [...]}';

export function parseApps(json: unknown): ParsedApps {
  if (!isRecord(json) || !Array.isArray(json.apps)) throw new Error(NOT_APPS_BODY);
  const apps: AppSnapshot[] = [];
  const rejected: RejectedApp[] = [];
  for (const raw of json.apps) {
    const parsed = parseOne(raw);
    if (parsed.ok) apps.push(parsed.app);
    else rejected.push(parsed.rejected);
  }
  return { apps, rejected };
}

export function parseApp(json: unknown): ParsedApp {
  if (!isRecord(json) || !isRecord(json.app)) {
    throw new Error('Marathon app body is not {"app": {...}}');
  }
  return parseOne(json.app);
}

/** One app of a list or of `GET /v2/apps/{id}`. */
export function parseOne(raw: unknown): ParsedApp {
  try {
    return { ok: true, app: readApp(raw) };
  } catch (err) {
    if (!(err instanceof Refused)) throw err;
    const appId = isRecord(raw) && typeof raw.id === 'string' ? absoluteAppId(raw.id) : undefined;
    return { ok: false, rejected: appId === undefined ? { reason: err.reason } : { appId, reason: err.reason } };
  }
}
