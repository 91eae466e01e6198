/**
 * Shared by the maintenance-*.test.ts files: baton with a Mesos master simulator and a state
 * file of its own, tasks whose processes listen on loopback IPs of their own, and admin helpers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LoadLoop, MesosMasterSim, startSimBackend, type SimBackend } from '../../src/sim/index.js';
import type { MarathonSim } from '../../src/sim/index.js';
import { startSystem, type System, type SystemOptions } from '../helpers/system.js';

export { waitFor } from '../helpers/wait-for.js';

export const TOKEN = 'maintenance-admin-token';

export interface MaintenanceSystem {
  readonly system: System;
  readonly mesos: MesosMasterSim;
  readonly stateFile: string;
  readonly proxyUrl: string;
  /** `taskId -> routable` for every backend of every HTTP route in baton's live table. */
  routes(): Promise<Map<string, boolean>>;
  /** An admin call with the bearer token. */
  call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }>;
}

const cleanups: (() => Promise<void> | void)[] = [];

/** Closes everything the tests of a file started, newest first. */
export async function cleanup(): Promise<void> {
  for (const step of cleanups.splice(0).reverse()) await step();
}

/** A directory removed at cleanup. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'baton-maintenance-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

let nextIp = 0;
/** A task's process on a loopback IP of its own (port 0 = any). */
export async function backend(name: string, port = 0): Promise<SimBackend> {
  const n = nextIp++;
  const b = await startSimBackend(name, `127.78.${Math.floor(n / 250)}.${(n % 250) + 1}`, port, 300);
  cleanups.push(() => b.close());
  return b;
}

export function load(proxyUrl: string, hosts: string[]): LoadLoop {
  const loop = new LoadLoop({ url: proxyUrl, hosts, slowEvery: 5 });
  cleanups.push(() => loop.stop());
  loop.start();
  return loop;
}

export interface StartOptions {
  readonly stateFile?: string;
  readonly mesos?: MesosMasterSim;
  /** Mesos URLs to give baton; default the simulator's. */
  readonly mesosUrls?: (mesos: MesosMasterSim) => string[];
  readonly file?: Record<string, unknown>;
  readonly before?: (sim: MarathonSim) => void | Promise<void>;
  readonly token?: boolean;
}

export async function startMaintenanceSystem(opts: StartOptions = {}): Promise<MaintenanceSystem> {
  let mesos = opts.mesos;
  if (mesos === undefined) {
    const created = new MesosMasterSim();
    await created.listen();
    cleanups.push(() => created.close());
    mesos = created;
  }
  const stateFile = opts.stateFile ?? join(tempDir(), 'state.json');
  const systemOptions: SystemOptions = {
    flags: ['--mesos', (opts.mesosUrls?.(mesos) ?? [mesos.url]).join(','), '--state-file', stateFile],
    file: { mesosPollMs: 50, ...opts.file },
    ...(opts.token !== false && { env: { BATON_ADMIN_TOKEN: TOKEN } }),
    ...(opts.before && { before: opts.before }),
  };
  const system = await startSystem(systemOptions);
  cleanups.push(() => system.close());
  return {
    system,
    mesos,
    stateFile,
    proxyUrl: `http://127.0.0.1:${system.httpPort}`,
    async routes() {
      const { json } = await system.admin('/routes');
      const routable = new Map<string, boolean>();
      for (const route of json.routes as { backends: { taskId: string; routable: boolean }[] }[]) {
        for (const b of route.backends) routable.set(b.taskId, b.routable);
      }
      return routable;
    },
    async call(method, path, body) {
      const res = await fetch(`${system.adminUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      return { status: res.status, json: await res.json() };
    },
  };
}

/** `x-seq` numbers a backend received after `seq`. */
export function after(b: SimBackend, seq: number): number[] {
  return b.seqs.filter((s) => s > seq);
}
