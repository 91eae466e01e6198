import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from './config/load.js';
import { startBaton } from './main.js';
import { createLogger } from './observability/logger.js';
import { MarathonSim, MasterPause, MesosMasterSim, RollingUpgrade, type MasterPauseResult, type RollingUpgradeResult } from './sim/index.js';

/**
 * `npm run demo`: baton against the built-in Marathon simulator and a few tiny backends, all on
 * loopback. Ports come from DEMO_HTTP / DEMO_ADMIN (defaults 127.0.0.1:8080 and 127.0.0.1:9090).
 * Every 20 s one task of /shop/web is replaced, so the routing table visibly changes.
 *
 * `npm run demo -- --scenario upgrade`: a rolling upgrade of three zones of Mesos agents under
 * load (see RollingUpgrade), then a summary per phase; exits 0 when no request failed.
 *
 * `npm run demo -- --scenario master-pause`: the Mesos master pauses under load and every task
 * goes TASK_UNREACHABLE within a second (see MasterPause), first with every process still
 * answering, then with a third of them dead; exits 0 when the first run failed no request and
 * the second under 0.5%.
 */
async function backend(name: string): Promise<Server> {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`${name} answered ${req.method} ${req.url} (Host: ${req.headers.host})\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

const portOf = (server: Server) => (server.address() as AddressInfo).port;

async function tour(): Promise<void> {
  const sim = new MarathonSim();
  const marathonUrl = await sim.listen(0, '127.0.0.1');
  const servers = await Promise.all(['web-1', 'web-2', 'web-3', 'api-1', 'blog-1', 'echo-1'].map(backend));
  const [web1, web2, web3, api1, blog1, echo1] = servers as [Server, Server, Server, Server, Server, Server];

  sim.deployApp({ id: '/shop/web', labels: { BATON_0_VHOST: 'web.example.com' } });
  sim.deployApp({ id: '/shop/api', labels: { 'traefik.frontend.rule': 'Host:api.example.com;PathPrefix:/v1' } });
  sim.deployApp({ id: '/blog', labels: { subdomain: 'blog' } });
  sim.deployApp({ id: '/tools/echo' });
  const webTasks = [web1, web2].map((s) => sim.startTask('/shop/web', { host: '127.0.0.1', ports: [portOf(s)] }));
  sim.startTask('/shop/api', { host: '127.0.0.1', ports: [portOf(api1)] });
  sim.startTask('/blog', { host: '127.0.0.1', ports: [portOf(blog1)] });
  sim.startTask('/tools/echo', { host: '127.0.0.1', ports: [portOf(echo1)] });

  const config = loadConfig(
    [
      ...['--marathon', marathonUrl, '--http', process.env.DEMO_HTTP ?? '127.0.0.1:8080', '--admin', process.env.DEMO_ADMIN ?? '127.0.0.1:9090'],
      // Marks tried out in the demo stay out of the working directory.
      ...['--state-file', join(mkdtempSync(join(tmpdir(), 'baton-demo-')), 'state.json'), '--log-level', process.env.BATON_LOG_LEVEL ?? 'warn'],
    ],
    {},
    () => undefined,
  );
  const baton = await startBaton(config, createLogger(config.logLevel));
  const http = await baton.http;
  const proxy = `http://127.0.0.1:${http.port}`;
  const admin = `http://127.0.0.1:${baton.admin.port}`;
  process.stdout.write(`
baton demo: a simulated Marathon at ${marathonUrl} with 4 apps; baton proxies on ${proxy}

  curl -H 'Host: web.example.com' ${proxy}/          # /shop/web, BATON_0_VHOST, round robin over 2 tasks
  curl -H 'Host: api.example.com' ${proxy}/v1/users  # /shop/api, traefik.frontend.rule Host + PathPrefix
  curl -H 'Host: blog.example.org' ${proxy}/         # /blog, nixy subdomain "blog" matches blog.*
  curl -H 'Host: echo.tools' ${proxy}/               # /tools/echo, no label: its id reversed
  curl -H 'Host: nope.example.com' ${proxy}/         # 404, x-baton-error: no-route
  curl ${admin}/routes                                # the live routing table
  curl ${admin}/health

Every 20 s one /shop/web task is killed and replaced (watch ${admin}/routes). Ctrl-C stops.
`);

  const spare = [web3, web1, web2];
  let turn = 0;
  const churn = setInterval(() => {
    const victim = webTasks.shift();
    if (victim) sim.killTask(victim);
    const next = spare[turn++ % spare.length]!;
    webTasks.push(sim.startTask('/shop/web', { host: '127.0.0.1', ports: [portOf(next)] }));
  }, 20_000);

  const stop = async () => {
    clearInterval(churn);
    await baton.stop();
    await sim.close();
    for (const s of servers) s.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

/** The whole upgrade has this long; a stuck step fails it rather than hanging. */
const UPGRADE_DEADLINE_MS = 120_000;

async function upgrade(): Promise<number> {
  const marathon = new MarathonSim();
  const mesos = new MesosMasterSim();
  const marathonUrl = await marathon.listen(0, '127.0.0.1');
  await mesos.listen(0, '127.0.0.1');
  const write = (text: string) => process.stdout.write(text);
  const scenario = new RollingUpgrade({ marathon, mesos, log: (line) => write(`  ${line}\n`) });
  await scenario.deploy();
  const dir = mkdtempSync(join(tmpdir(), 'baton-demo-'));
  const pollMs = 1000;
  const config = loadConfig(
    [
      ...['--marathon', marathonUrl, '--mesos', mesos.url, '--state-file', join(dir, 'state.json')],
      ...['--http', process.env.DEMO_HTTP ?? '127.0.0.1:0', '--admin', process.env.DEMO_ADMIN ?? '127.0.0.1:0', '--log-level', process.env.BATON_LOG_LEVEL ?? 'warn'],
    ],
    {},
    (path) => (path === 'config/baton.json' ? JSON.stringify({ mesosPollMs: pollMs }) : undefined),
  );
  const baton = await startBaton(config, createLogger(config.logLevel));
  const http = await baton.http;
  const proxy = `http://127.0.0.1:${http.port}`;
  const admin = `http://127.0.0.1:${baton.admin.port}`;
  write(`
baton demo, rolling upgrade: Marathon at ${marathonUrl}, Mesos master at ${mesos.url} (polled every ${pollMs} ms)
baton proxies on ${proxy} (admin ${admin}); load on ${scenario.hosts.join(' and ')}, every 10th request slow.
Zone by zone: DRAINING in Mesos, wait until baton has the tasks out of service, start replacements
elsewhere, kill the old tasks, DOWN, UP.

`);
  const deadline = setTimeout(() => {
    write(`demo: the upgrade did not finish within ${UPGRADE_DEADLINE_MS / 1000} s\n`);
    process.exit(1);
  }, UPGRADE_DEADLINE_MS);
  const started = Date.now();
  let result: RollingUpgradeResult;
  try {
    result = await scenario.run(proxy, admin);
  } finally {
    clearTimeout(deadline);
    await baton.stop();
    await scenario.close();
    await Promise.all([marathon.close(), mesos.close()]);
    rmSync(dir, { recursive: true, force: true });
  }
  write(`\n${summary(result)}\n`);
  const failed = result.phases.reduce((n, p) => n + p.failures, 0);
  write(`${result.requests} requests in ${((Date.now() - started) / 1000).toFixed(1)} s, ${failed} failed, ${result.late.length} reached a drained task after baton took it out of service\n`);
  for (const line of [...result.failures, ...result.late]) write(`  ${line}\n`);
  return failed === 0 && result.late.length === 0 ? 0 : 1;
}

/** One master pause against a baton of its own; the result and how long it took. */
async function pauseOnce(deadEvery: number, write: (text: string) => void): Promise<{ result: MasterPauseResult; seconds: number }> {
  const marathon = new MarathonSim();
  const marathonUrl = await marathon.listen(0, '127.0.0.1');
  const scenario = new MasterPause({ marathon, apps: 4, tasksPerApp: 6, deadEvery, requestsPerPhase: 1000, log: (line) => write(`  ${line}\n`) });
  await scenario.deploy();
  const dir = mkdtempSync(join(tmpdir(), 'baton-demo-'));
  const config = loadConfig(
    [
      ...['--marathon', marathonUrl, '--state-file', join(dir, 'state.json')],
      ...['--http', process.env.DEMO_HTTP ?? '127.0.0.1:0', '--admin', process.env.DEMO_ADMIN ?? '127.0.0.1:0', '--log-level', process.env.BATON_LOG_LEVEL ?? 'warn'],
    ],
    {},
    () => undefined,
  );
  const baton = await startBaton(config, createLogger(config.logLevel));
  const http = await baton.http;
  const started = Date.now();
  try {
    const result = await scenario.run(`http://127.0.0.1:${http.port}`, `http://127.0.0.1:${baton.admin.port}`);
    return { result, seconds: (Date.now() - started) / 1000 };
  } finally {
    await baton.stop();
    await scenario.close();
    await marathon.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Both master pauses have this long. */
const PAUSE_DEADLINE_MS = 120_000;

async function masterPause(): Promise<number> {
  const write = (text: string) => process.stdout.write(text);
  const deadline = setTimeout(() => {
    write(`demo: the master pause did not finish within ${PAUSE_DEADLINE_MS / 1000} s\n`);
    process.exit(1);
  }, PAUSE_DEADLINE_MS);
  try {
    write('\nbaton demo, master pause: 4 apps of 6 tasks under load; every task goes TASK_UNREACHABLE within one second.\n\n1. every process keeps answering\n');
    const live = await pauseOnce(0, write);
    write(`\n${summary(live.result)}\n${live.result.requests} requests in ${live.seconds.toFixed(1)} s, ${live.result.failed} failed\n`);
    write('\n2. a third of the processes die as they go unreachable\n');
    const dead = await pauseOnce(3, write);
    const share = (100 * dead.result.failed) / Math.max(dead.result.requests, 1);
    write(`\n${summary(dead.result)}\n${dead.result.requests} requests in ${dead.seconds.toFixed(1)} s, ${dead.result.failed} failed (${share.toFixed(2)}%)\n`);
    for (const line of [...live.result.failures, ...dead.result.failures]) write(`  ${line}\n`);
    return live.result.failed === 0 && share < 0.5 ? 0 : 1;
  } finally {
    clearTimeout(deadline);
  }
}

function summary(result: { readonly phases: readonly { phase: string; requests: number; failures: number }[] }): string {
  const rows = result.phases.map((p) => [p.phase, String(p.requests), String(p.failures)]);
  const table = [['phase', 'requests', 'failed'], ...rows];
  return table.map(([phase, requests, failures]) => `  ${phase!.padEnd(12)} ${requests!.padStart(8)} ${failures!.padStart(7)}`).join('\n');
}

const SCENARIOS: Readonly<Record<string, () => Promise<number>>> = { upgrade, 'master-pause': masterPause };

const { values } = parseArgs({ args: process.argv.slice(2), options: { scenario: { type: 'string' } }, strict: true });
const scenario = values.scenario !== undefined && Object.hasOwn(SCENARIOS, values.scenario) ? SCENARIOS[values.scenario] : undefined;
if (values.scenario !== undefined && scenario === undefined) {
  process.stderr.write(`demo: unknown scenario ${values.scenario}; scenarios: ${Object.keys(SCENARIOS).join(', ')}\n`);
  process.exit(2);
}
const run = scenario ? scenario().then((code) => process.exit(code)) : tour();
run.catch((err: unknown) => {
  process.stderr.write(`demo: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
