import { z } from 'zod';
import type { MesosMachines } from '../state/maintenance-types.js';

/**
 * Mesos maintenance status payloads, validated at the edge. Both endpoints carry the same shape:
 * draining machines wrap their id in `id` (next to the frameworks' inverse-offer `statuses`, which
 * baton does not need), down machines are bare ids, and an empty list is omitted: `{}` means no
 * maintenance at all. Unknown fields are allowed (newer masters add some).
 */

const machineId = z
  .looseObject({ hostname: z.string().min(1).optional(), ip: z.string().min(1).optional() })
  .refine((m) => m.hostname !== undefined || m.ip !== undefined, 'a machine id needs a hostname or an ip');

const status = z.looseObject({
  draining_machines: z.array(z.looseObject({ id: machineId })).optional(),
  down_machines: z.array(machineId).optional(),
});

/** `POST /api/v1` `{"type":"GET_MAINTENANCE_STATUS"}` answers the status wrapped twice. */
const operatorResponse = z.looseObject({
  type: z.literal('GET_MAINTENANCE_STATUS'),
  get_maintenance_status: z.looseObject({ status }),
});

export type MesosApi = 'operator' | 'legacy';

/** The body a master sent, as machines; throws an Error saying what is wrong with it. */
export function parseMaintenanceStatus(api: MesosApi, json: unknown): MesosMachines {
  const body = api === 'operator' ? check(operatorResponse.safeParse(json)).get_maintenance_status.status : check(status.safeParse(json));
  return {
    draining: (body.draining_machines ?? []).map((m) => machine(m.id)),
    down: (body.down_machines ?? []).map(machine),
  };
}

function check<T>(parsed: z.ZodSafeParseResult<T>): T {
  if (!parsed.success) throw new Error(`unexpected maintenance status: ${z.prettifyError(parsed.error).replaceAll('\n', ' ')}`);
  return parsed.data;
}

function machine(id: { hostname?: string | undefined; ip?: string | undefined }) {
  return { ...(id.hostname !== undefined && { hostname: id.hostname }), ...(id.ip !== undefined && { ip: id.ip }) };
}
