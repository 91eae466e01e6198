/** Inputs of the simulator's control API (what tests, benchmarks and the demo call). */

export interface SimPortInput {
  /** Service port; absent or 0 allocates one from 10000 up. */
  port?: number;
  protocol?: 'tcp' | 'udp';
  name?: string;
  labels?: Record<string, string>;
}

export interface SimAppInput {
  /** Absolute app id, e.g. `/shop/web`. */
  id: string;
  labels?: Record<string, string>;
  /** Host networking: one entry per port (default: one port). For bridge/container networking the
   *  entries give the service port, protocol, name and labels of the matching port mapping. */
  portDefinitions?: SimPortInput[];
  /** bridge and container networking publish `container.portMappings` instead of `portDefinitions`. */
  network?: 'host' | 'bridge' | 'container';
  /** bridge/container networking: the containerPort of each mapping (default: 80, 81, ...). */
  containerPorts?: number[];
  /** Number of HTTP health checks to declare (default 0). */
  healthChecks?: number;
  /** Number of readiness checks to declare (default 0). */
  readinessChecks?: number;
}

export interface SimTaskInput {
  host: string;
  /** Host ports, same order as the app's ports. */
  ports: number[];
  /** The task's IP (IP-per-task); defaults to `host` when that is an IP literal. */
  ipAddress?: string;
  zone?: string;
  region?: string;
}

export type SimCredentials = { user: string; password: string } | { token: string };

export interface SimRequestRecord {
  method: string;
  /** Path with its query string, as received. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
}
