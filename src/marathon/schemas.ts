import { z } from 'zod';

/**
 * Zod schemas for the parts of Marathon's app and task JSON that baton reads (1.4 to 1.10 shapes,
 * plus the pre-1.5 fields). `z.object` drops unknown fields; every optional field is `nullish`
 * because Marathon writes `null` for some absent values (`container`, `ipAddress`, `args`...).
 */

/** Any JSON object; labels keep only their string values later (others are dropped, not rejected). */
const labels = z.record(z.string(), z.unknown()).nullish();
const port = z.number().int().min(0).max(65535);

const portDefinition = z.object({
  port: port.nullish(),
  protocol: z.string().nullish(),
  name: z.string().nullish(),
  labels,
});

const portMapping = z.object({
  containerPort: port.nullish(),
  hostPort: port.nullish(),
  servicePort: port.nullish(),
  protocol: z.string().nullish(),
  name: z.string().nullish(),
  labels,
});

/** Pre-1.5 IP-per-task apps: `ipAddress.discovery.ports[{number, name, protocol}]`. */
const discoveryPort = z.object({
  number: port,
  name: z.string().nullish(),
  protocol: z.string().nullish(),
  labels,
});

const container = z.object({
  type: z.string().nullish(),
  portMappings: z.array(portMapping).nullish(),
  docker: z
    .object({
      network: z.string().nullish(),
      portMappings: z.array(portMapping).nullish(),
    })
    .nullish(),
});

const healthCheckResult = z.object({ alive: z.boolean() });

const taskSchema = z.object({
  id: z.string().min(1),
  host: z.string(),
  ports: z.array(port).nullish(),
  ipAddresses: z.array(z.object({ ipAddress: z.string() })).nullish(),
  state: z.string().nullish(),
  version: z.string().nullish(),
  slaveId: z.string().nullish(),
  zone: z.string().nullish(),
  region: z.string().nullish(),
  startedAt: z.string().nullish(),
  // Very old Marathons put `null` in this list for a check without a result yet.
  healthCheckResults: z.array(healthCheckResult.nullable()).nullish(),
});

export const appSchema = z.object({
  id: z.string().min(1),
  version: z.string().nullish(),
  labels,
  portDefinitions: z.array(portDefinition).nullish(),
  ports: z.array(port).nullish(),
  container: container.nullish(),
  networks: z.array(z.object({ mode: z.string().nullish() })).nullish(),
  ipAddress: z
    .object({ discovery: z.object({ ports: z.array(discoveryPort).nullish() }).nullish() })
    .nullish(),
  healthChecks: z.array(z.unknown()).nullish(),
  readinessChecks: z.array(z.unknown()).nullish(),
  deployments: z.array(z.object({ id: z.string() })).nullish(),
  readinessCheckResults: z.array(z.object({ taskId: z.string(), ready: z.boolean() })).nullish(),
  tasks: z.array(taskSchema).nullish(),
});

export type MarathonApp = z.infer<typeof appSchema>;
export type MarathonTask = z.infer<typeof taskSchema>;
