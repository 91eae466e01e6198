/**
 * A whole baton on loopback for system tests: the Marathon simulator, baton wired exactly as
 * the CLI wires it (ports 0), its JSON log lines captured, and a client that sets Host.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { request } from 'undici';
import { loadConfig } from '../../src/config/load.js';
import { startBaton, type Baton } from '../../src/main.js';
import { createLogger } from '../../src/observability/logger.js';
import { MarathonSim, type MarathonSimOptions } from '../../src/sim/index.js';

export interface System {
  readonly sim: MarathonSim;
  readonly baton: Baton;
  readonly httpPort: number;
  readonly adminUrl: string;
  readonly logs: Record<string, unknown>[];
  /** A request through baton's HTTP entry point. */
  get(host: string, path?: string): Promise<{ status: number; body: string; error?: string }>;
  admin(path: string, init?: { method?: string; headers?: Record<string, string> }): Promise<{ status: number; json: any }>;
  /** A counter or gauge value from baton's metrics registry. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  close(): Promise<void>;
}

export interface SystemOptions {
  readonly sim?: MarathonSimOptions;
  /** Extra flags, and settings for the config file (e.g. streamIdleTimeoutMs). */
  readonly flags?: string[];
  readonly file?: Record<string, unknown>;
  readonly env?: Record<string, string>;
  /** Apps to deploy before baton starts. */
  readonly before?: (sim: MarathonSim) => void | Promise<void>;
  /** Marathon URLs to give baton instead of the simulator's own. */
  readonly marathonUrls?: (sim: MarathonSim) => string[];
}

export async function startSystem(opts: SystemOptions = {}): Promise<System> {
  const sim = new MarathonSim({ heartbeatMs: 500, ...opts.sim });
  await sim.listen(0, '127.0.0.1');
  await opts.before?.(sim);
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const urls = opts.marathonUrls?.(sim) ?? [sim.url];
  // Every system keeps its maintenance marks to itself.
  const stateDir = mkdtempSync(join(tmpdir(), 'baton-state-'));
  const stateFile = join(stateDir, 'state.json');
  const config = loadConfig(
    ['--marathon', urls.join(','), '--http', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--log-level', 'debug', '--state-file', stateFile, ...(opts.flags ?? [])],
    opts.env ?? {},
    // A short shutdown grace: tests close baton while their own tunnels are still open.
    (path) => (path === 'config/baton.json' ? JSON.stringify({ shutdownGraceMs: 200, ...opts.file }) : undefined),
  );
  const baton = await startBaton(config, createLogger(config.logLevel, sink));
  const httpPort = (await baton.http).port;
  const adminUrl = `http://127.0.0.1:${baton.admin.port}`;
  return {
    sim,
    baton,
    httpPort,
    adminUrl,
    logs,
    async get(host, path = '/') {
      const res = await request(`http://127.0.0.1:${httpPort}${path}`, { headers: { host } });
      const body = await res.body.text();
      const error = res.headers['x-baton-error'];
      return { status: res.statusCode, body, ...(typeof error === 'string' && { error }) };
    },
    async admin(path, init = {}) {
      const res = await fetch(`${adminUrl}${path}`, init);
      return { status: res.status, json: await res.json() };
    },
    async metric(name, labels = {}) {
      const metric = await baton.metrics.registry.getSingleMetric(name)?.get();
      const value = metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
      return value?.value ?? 0;
    },
    async close() {
      await baton.stop();
      await sim.close();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
