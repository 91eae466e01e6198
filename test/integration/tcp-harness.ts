/**
 * Shared pieces of the raw TCP, UDP and service-listener tests: hand-built routing tables with
 * port routes, a table source the test can swap, free ports and metric reads. Everything binds
 * 127.0.0.1; callers close what they open.
 */
import { createSocket } from 'node:dgram';
import { createServer, type AddressInfo } from 'node:net';
import type { Counter, Gauge } from 'prom-client';
import type { Backend, BackendPolicy, PortRoute, RoutingTable, TlsRoute } from '../../src/routing/types.js';

export function backend(address: string, appId = '/app'): Backend {
  const colon = address.lastIndexOf(':');
  return { address, host: address.slice(0, colon), port: Number(address.slice(colon + 1)), taskId: `${appId}.${address}`, appId, id: `id-${address}`, weight: 1 };
}

export const ROUND_ROBIN: BackendPolicy = { balance: 'roundrobin', sticky: false };

export function portRoute(protocol: 'tcp' | 'udp', port: number, addresses: readonly string[], policy: BackendPolicy = ROUND_ROBIN): PortRoute {
  return { id: `/app-${port}:0`, appIds: [`/app-${port}`], protocol, port, backends: addresses.map((a) => backend(a)), policy, status: [], cursor: 0 };
}

export function tlsRoute(port: number, host: string): TlsRoute {
  return { id: `/tls-${port}:0`, appIds: [`/tls-${port}`], hosts: [host], port, backends: [], policy: ROUND_ROBIN, status: [], cursor: 0 };
}

let version = 0;

/** A table with only port and TLS routes; lookups as the real table does them. */
export function portTable(portRoutes: readonly PortRoute[], tlsRoutes: readonly TlsRoute[] = []): RoutingTable {
  return {
    version: ++version,
    builtAt: Date.now(),
    routes: [],
    portRoutes,
    tlsRoutes,
    disabled: [],
    certificates: [],
    lookupHttp: () => undefined,
    lookupPort: (protocol, port) => portRoutes.find((r) => r.protocol === protocol && r.port === port),
    lookupTls: (name, port) => tlsRoutes.find((r) => r.port === port && r.hosts.includes(name.toLowerCase())),
  };
}

/** A TableSource whose table the test swaps by assignment, as the holder does. */
export function swappable(table: RoutingTable): { current: RoutingTable } {
  return { current: table };
}

/** A TCP port nothing listens on (bound, then released). */
export async function freeTcpPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A UDP port nothing is bound to (bound, then released). */
export async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(resolve));
  return port;
}

/** The value of a counter or gauge for one label set (0 when never touched). */
export async function valueOf(metric: Counter<string> | Gauge<string>, labels: Record<string, string> = {}): Promise<number> {
  const { values } = await metric.get();
  const keys = Object.keys(labels);
  const match = values.find((v) => keys.every((k) => v.labels[k] === labels[k]) && Object.keys(v.labels).length === keys.length);
  return match?.value ?? 0;
}
