import { z } from 'zod';
import type { MarkInput } from '../state/maintenance-types.js';

const list = z.array(z.string().trim().min(1, 'expected a non-empty string').max(512)).min(1, 'expected at least one entry').max(10_000).optional();
/** Ten years: an expiry further out is a typo, not a plan. */
const MAX_TTL_SECONDS = 10 * 365 * 24 * 3600;

const body = z
  .strictObject({
    hosts: list,
    zones: list,
    apps: list,
    tasks: list,
    note: z.string().max(1000).optional(),
    expiresAt: z.iso.datetime({ offset: true, message: 'expected an ISO 8601 time with a zone, e.g. 2030-01-01T12:00:00Z' }).optional(),
    ttlSeconds: z.number().int().positive().max(MAX_TTL_SECONDS).optional(),
  })
  .refine((b) => b.hosts || b.zones || b.apps || b.tasks, { message: 'name at least one of hosts, zones, apps, tasks' })
  .refine((b) => b.expiresAt === undefined || b.ttlSeconds === undefined, { message: 'give expiresAt or ttlSeconds, not both' });

/** A `POST /maintenance` body as a mark to add, or the reasons it is refused. */
export function parseMarkBody(json: unknown, now: number): { mark: MarkInput } | { errors: string[] } {
  const parsed = body.safeParse(json);
  if (!parsed.success) {
    return { errors: parsed.error.issues.map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message)) };
  }
  const { hosts, zones, apps, tasks, note, expiresAt, ttlSeconds } = parsed.data;
  const expiry = expiresAt === undefined ? undefined : Date.parse(expiresAt);
  if (expiry !== undefined && expiry <= now) return { errors: ['expiresAt: is in the past'] };
  return {
    mark: {
      ...(hosts && { hosts }),
      ...(zones && { zones }),
      // App ids are absolute in the model; `shop/web` means `/shop/web`.
      ...(apps && { apps: apps.map((id) => (id.startsWith('/') ? id : `/${id}`)) }),
      ...(tasks && { tasks }),
      ...(note !== undefined && { note }),
      ...(expiry !== undefined && { expiresAt: expiry }),
      ...(ttlSeconds !== undefined && { ttlMs: ttlSeconds * 1000 }),
    },
  };
}
