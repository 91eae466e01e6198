/**
 * `--workers N`: the primary talks to Marathon, proxy workers serve; a dead worker is replaced
 * with the current table; SIGTERM drains without failing a request; SIGHUP reloads the file.
 */
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { MarathonSim } from '../../src/sim/index.js';
import { startBackend, type TestBackend } from '../helpers/backends.js';
import { runCli, type CliProcess } from '../helpers/cli-process.js';
import { waitFor } from '../helpers/wait-for.js';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

interface Running {
  readonly cli: CliProcess;
  readonly sim: MarathonSim;
  readonly http: string;
  readonly admin: string;
  get(host: string, path?: string, headers?: Record<string, string>): Promise<{ status: number; body: string }>;
  health(): Promise<any>;
}

async function logged(cli: CliProcess, msg: string): Promise<Record<string, unknown>> {
  await waitFor(() => cli.logs().some((l) => l.msg === msg), `log line "${msg}"`, 15_000, 20);
  return cli.logs().find((l) => l.msg === msg)!;
}

/** A simulator with `/web` on one backend, and baton's CLI with `workers` workers on ports 0. */
async function start(workers: number, opts: { file?: object; backend?: TestBackend } = {}): Promise<Running> {
  const backend = opts.backend ?? (await startBackend('web'));
  const sim = new MarathonSim({ heartbeatMs: 500 });
  await sim.listen(0, '127.0.0.1');
  sim.deployApp({ id: '/web' });
  sim.startTask('/web', { host: '127.0.0.1', ports: [backend.port] });
  const dir = mkdtempSync(join(tmpdir(), 'baton-cluster-'));
  const config = join(dir, 'baton.json');
  writeFileSync(config, JSON.stringify({ shutdownGraceMs: 3_000, ...opts.file }));
  const cli = runCli(['--config', config, '--marathon', sim.url, '--http', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--workers', String(workers), '--state-file', join(dir, 'state.json')]);
  const dispatcher = new Agent();
  cleanup.push(async () => {
    cli.child.kill('SIGKILL');
    await cli.exited;
    await dispatcher.close();
    await sim.close();
    if (!opts.backend) await backend.close();
  });
  const admin = `http://127.0.0.1:${((await logged(cli, 'admin API listening')).admin as { port: number }).port}`;
  const http = `http://127.0.0.1:${((await logged(cli, 'first sync done, proxy listening')).http as { port: number }).port}`;
  return {
    cli,
    sim,
    http,
    admin,
    async get(host, path = '/', headers = {}) {
      const res = await request(`${http}${path}`, { dispatcher, headers: { host, ...headers } });
      return { status: res.statusCode, body: await res.body.text() };
    },
    health: async () => (await fetch(`${admin}/health`)).json(),
  };
}

/** Every worker listening has applied the primary's current table. */
function everyWorkerCurrent(health: any): boolean {
  const list = health.workers.list as { state: string; tableVersion: number }[];
  return list.length === health.workers.configured && list.every((w) => w.state === 'listening' && w.tableVersion === health.table.version);
}

describe('proxy workers (--workers N)', () => {
  it('serves from every worker with one Marathon event stream, and merges their metrics', async () => {
    const b = await start(2);
    expect(b.sim.streams).toBe(1);
    const health = await b.health();
    expect(health.workers).toMatchObject({ configured: 2, running: 2, replaced: 0 });
    expect(health.workers.list.map((w: { tableVersion: number }) => w.tableVersion)).toEqual([health.table.version, health.table.version]);
    for (let i = 0; i < 20; i++) expect(await b.get('web')).toEqual({ status: 200, body: 'web' });

    // A new app reaches every worker.
    const api = await startBackend('api');
    cleanup.push(() => api.close());
    b.sim.deployApp({ id: '/api' });
    b.sim.startTask('/api', { host: '127.0.0.1', ports: [api.port] });
    // Each worker applies the new table on its own (a few ms apart): wait for all of them.
    await waitFor(async () => (await b.get('api')).status === 200, 'api routable', 10_000, 20);
    await waitFor(async () => everyWorkerCurrent(await b.health()), 'every worker on the new table', 10_000, 20);
    for (let i = 0; i < 10; i++) expect(await b.get('api')).toEqual({ status: 200, body: 'api' });
    // Each worker says when it applied its table: not before the primary swapped that table in.
    const workers = (await b.health()).workers.list as { tableVersion: number; tableAppliedAt: string }[];
    const swaps = ((await (await fetch(`${b.admin}/swaps`)).json()) as { swaps: { version: number; at: number }[] }).swaps;
    for (const worker of workers) {
      const swappedAt = swaps.find((s) => s.version === worker.tableVersion)!.at;
      expect(Date.parse(worker.tableAppliedAt)).toBeGreaterThanOrEqual(swappedAt);
      expect(Date.parse(worker.tableAppliedAt)).toBeLessThanOrEqual(Date.now());
    }

    const metrics = await (await fetch(`${b.admin}/metrics`)).text();
    // Requests counted by the workers, summed by the primary; the table version is the primary's.
    expect(metrics).toMatch(/^baton_route_requests_total\{route="\/web:0",class="2xx"\} 20$/m);
    expect(metrics).toMatch(new RegExp(`^baton_table_version ${(await b.health()).table.version}$`, 'm'));
    expect(metrics).toMatch(/^baton_marathon_stream_connected 1$/m);
    expect(metrics).toMatch(/^process_cpu_user_seconds_total /m);
    expect(b.sim.streams).toBe(1);
  });

  it('replaces a killed worker, which gets the current table, while traffic flows', async () => {
    const b = await start(2);
    const before = (await b.health()).workers.list as { pid: number; index: number }[];
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const load = Array.from({ length: 4 }, async () => {
      while (!stop && failures.length < 1000) {
        try {
          const res = await b.get('web');
          if (res.status === 200) ok++;
          else failures.push(`HTTP ${res.status}`);
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    });
    // However the test ends, the clients stop.
    cleanup.push(async () => {
      stop = true;
      await Promise.all(load);
    });
    await waitFor(() => ok > 50, 'traffic flowing', 10_000, 10);
    const victim = before.find((w) => w.index === 0)!;
    process.kill(victim.pid, 'SIGKILL');
    await waitFor(
      async () => {
        const w = (await b.health()).workers;
        return w.replaced === 1 && w.running === 2 && !w.list.some((x: { pid: number }) => x.pid === victim.pid);
      },
      'replacement listening',
      15_000,
      50,
    );
    // The table changes after the kill: the replacement must have it too.
    const api = await startBackend('api');
    cleanup.push(() => api.close());
    b.sim.deployApp({ id: '/api' });
    b.sim.startTask('/api', { host: '127.0.0.1', ports: [api.port] });
    await waitFor(async () => (await b.get('api')).status === 200, 'api routable', 10_000, 20);
    await waitFor(async () => everyWorkerCurrent(await b.health()), 'every worker, the replacement too, on the new table', 10_000, 20);
    const okAfter = ok;
    await waitFor(() => ok > okAfter + 200, 'traffic after the replacement', 15_000, 10);
    stop = true;
    await Promise.all(load);
    // Only requests on connections the killed worker held can fail: at most one per client.
    expect(failures.length).toBeLessThanOrEqual(4);
    expect(b.cli.logs().some((l) => l.msg === 'proxy worker died; starting a replacement' && l.signal === 'SIGKILL')).toBe(true);
  });

  it('SIGTERM under load: every request sent before the stop is answered, then exit 0', async () => {
    // Every third request takes 300 ms, so some are in flight when the signal comes.
    let n = 0;
    const backend = await startBackend('web', (req, res) => {
      req.resume();
      setTimeout(() => res.end('web'), ++n % 3 === 0 ? 300 : 0);
    });
    cleanup.push(() => backend.close());
    const b = await start(2, { backend });
    let stopped = false;
    let ok = 0;
    let refused = 0;
    const failures: string[] = [];
    const load = Array.from({ length: 8 }, async () => {
      // Each client goes on until baton refuses new connections (a real balancer would have
      // stopped sending when /health turned 503).
      for (;;) {
        try {
          const res = await b.get('web');
          if (res.status === 200) ok++;
          else failures.push(`HTTP ${res.status}`);
        } catch (err) {
          const code = (err as { code?: string }).code;
          if (code === 'ECONNREFUSED' && stopped) return void refused++;
          failures.push(`${code ?? ''} ${(err as Error).message}`);
          if (stopped) return;
        }
      }
    });
    cleanup.push(async () => {
      stopped = true;
      await Promise.all(load);
    });
    await waitFor(() => ok > 100, 'traffic flowing', 10_000, 10);
    stopped = true;
    b.cli.child.kill('SIGTERM');
    const code = await b.cli.exited;
    await Promise.all(load);
    expect(failures).toEqual([]);
    expect(code).toBe(0);
    expect(refused).toBe(8);
    expect(b.cli.logs().some((l) => l.msg === 'stopped')).toBe(true);
  });

  it('SIGHUP reloads the config file; a bad file keeps the running config and says why', async () => {
    const b = await start(2, { file: { server: { maxHeaderSize: 16_384 } } });
    const config = (b.cli.child.spawnargs[b.cli.child.spawnargs.indexOf('--config') + 1])!;
    const big = { 'x-big': 'y'.repeat(4_000) };
    expect((await b.get('web', '/', big)).status).toBe(200);
    const pids = ((await b.health()).workers.list as { pid: number }[]).map((w) => w.pid);

    // A data-path setting: a new generation of workers takes it; the old ones drain.
    writeFileSync(config, JSON.stringify({ shutdownGraceMs: 3_000, server: { maxHeaderSize: 2_048 } }));
    b.cli.child.kill('SIGHUP');
    const reloaded = await logged(b.cli, 'config reloaded');
    expect(reloaded.applied).toEqual(['server']);
    await waitFor(async () => (await b.get('web', '/', big)).status === 431, 'new header limit', 10_000, 20);
    // The old generation drains: its idle keep-alive connections end at their timeout.
    await waitFor(async () => !(await b.health()).workers.list.some((w: { pid: number }) => pids.includes(w.pid)), 'old workers gone', 15_000, 50);
    expect((await b.health()).workers.running).toBe(2);
    expect(await b.get('web')).toEqual({ status: 200, body: 'web' });

    // Not JSON: logged with the reason, nothing changes.
    writeFileSync(config, '{ "server": ');
    b.cli.child.kill('SIGHUP');
    const failed = await logged(b.cli, 'config reload failed; keeping the running config');
    expect(String(failed.reason)).toContain('not valid JSON');
    // A value the schema refuses: the same.
    writeFileSync(config, JSON.stringify({ server: { maxHeaderSize: -1 } }));
    b.cli.child.kill('SIGHUP');
    await waitFor(() => b.cli.logs().filter((l) => l.msg === 'config reload failed; keeping the running config').length === 2, 'second refusal', 10_000, 20);
    expect(String(b.cli.logs().filter((l) => l.reason)[1]!.reason)).toContain('config server.maxHeaderSize: -1 is invalid');
    expect((await b.get('web', '/', big)).status).toBe(431);
    expect(await b.get('web')).toEqual({ status: 200, body: 'web' });
    expect((await b.health()).workers.running).toBe(2);
  });
});
