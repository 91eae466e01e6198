/**
 * Shared pieces of the metrics and access log tests: a DataPath from a config file's worth of
 * settings over a hand-built table (HTTP, port and TLS routes), and `/metrics` as Prometheus
 * would read it. Everything listens on 127.0.0.1; `stopAll` closes what was started.
 */
import net from 'node:net';
import { pino } from 'pino';
import type { Registry } from 'prom-client';
import { loadConfig } from '../../src/config/load.js';
import { DataPath, type DataPathOptions } from '../../src/data-path.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import type { HttpRoute, PortRoute, RoutingTable, TlsRoute } from '../../src/routing/types.js';
import { waitFor } from '../helpers/wait-for.js';
import { buildTable, closeAll } from './proxy-harness.js';
import { portTable } from './tcp-harness.js';

const paths: DataPath[] = [];

export async function stopAll(): Promise<void> {
  await Promise.all(paths.splice(0).map((path) => path.close()));
  await closeAll();
}

/** A table with HTTP routes (exact hosts), port routes and TLS routes. */
export function tableOf(http: readonly HttpRoute[], ports: readonly PortRoute[] = [], tls: readonly TlsRoute[] = []): RoutingTable {
  const lookups = portTable(ports, tls);
  return { ...buildTable(http), portRoutes: ports, tlsRoutes: tls, lookupPort: lookups.lookupPort, lookupTls: lookups.lookupTls };
}

export interface RunningDataPath {
  readonly dataPath: DataPath;
  readonly metrics: Metrics;
  readonly tables: { current: RoutingTable };
  /** The HTTP entry point's port. */
  readonly port: number;
  /** Makes `table` the live one, as the table holder does. */
  swap(table: RoutingTable): void;
}

/**
 * A DataPath with `settings` as the config file (service ports on 127.0.0.1), serving `table`;
 * resolves once the HTTP entry point and every service port listen.
 */
export async function startDataPath(table: RoutingTable, settings: Record<string, unknown> = {}, options: DataPathOptions = {}): Promise<RunningDataPath> {
  const config = loadConfig(['--marathon', 'http://127.0.0.1:1', '--http', '127.0.0.1:0'], {}, (path) =>
    path === 'config/baton.json' ? JSON.stringify({ shutdownGraceMs: 100, serviceBind: '127.0.0.1', ...settings }) : undefined,
  );
  const metrics = createMetrics();
  const tables = { current: table };
  const dataPath = new DataPath(config, tables, pino({ level: 'silent' }), metrics, options);
  paths.push(dataPath);
  const swap = (next: RoutingTable) => {
    tables.current = next;
    dataPath.onSwap(next);
  };
  swap(table);
  const { http } = await dataPath.listen();
  await waitFor(() => dataPath.runtime().listeners.every((l) => l.state === 'listening'), 'the service ports to listen');
  return { dataPath, metrics, tables, port: http.port, swap };
}

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** The registry's Prometheus text, parsed into one sample per line. */
export async function scrape(registry: Registry): Promise<Sample[]> {
  const text = await registry.metrics();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key as string] = value as string;
    samples.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The value of the sample with exactly these labels; undefined when there is none. */
export function valueIn(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const keys = Object.keys(labels);
  return samples.find((s) => s.name === name && Object.keys(s.labels).length === keys.length && keys.every((k) => s.labels[k] === labels[k]))?.value;
}

/** A TCP echo server on 127.0.0.1; resolves with its address. */
export async function startEcho(): Promise<{ address: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Sends `bytes` through a TCP connection to `port`, half-closes, and resolves with all it got back once the server closed. */
export function exchangeTcp(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => socket.end(bytes));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => socket.end());
    socket.on('close', () => resolve(Buffer.concat(chunks)));
  });
}
