// Zero-downtime swaps: autocannon load over ROUTES routes while the simulator changes the table
// every 10 ms (TICK_MS) for BENCH_SECONDS (default 30): each tick starts a task on a fresh backend
// or kills the oldest churning task of one route (its backend stops 100 ms later, as a task
// given SIGTERM after Marathon's kill), and every route always keeps one healthy task.
// Runs baton (the CLI, dist/) with `--workers 0` (data path in the control-plane process) and
// with 2 workers. Reports requests, failed requests, non-2xx (every route always had a healthy
// backend, so every non-2xx counts), swaps done and p99.
//   npm run build && node bench/swap.mjs
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { startBaton } from './lib/baton.mjs';
import { Children } from './lib/children.mjs';
import { autocannonLoad } from './lib/http-load.mjs';
import { freePorts, waitForHttp } from './lib/net.mjs';
import { BackendPool } from './lib/pool-client.mjs';
import { importDist } from './lib/root.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const ROUTES = Number(process.env.ROUTES ?? 4);
const TICK_MS = Number(process.env.TICK_MS ?? 10);
const CHURN = 3; // churning tasks per route besides the one that stays
const STOP_AFTER_KILL_MS = 100;

const children = new Children();
const { MarathonSim } = await importDist('sim/index.js');

async function swapsDone(adminPort) {
  const res = await request(`http://127.0.0.1:${adminPort}/swaps`);
  const { swaps } = await res.body.json();
  return swaps[0]?.version ?? 0;
}

async function run(workers) {
  const dir = mkdtempSync(join(tmpdir(), 'baton-swap-'));
  const pool = new BackendPool(children);
  const sim = new MarathonSim();
  const marathon = await sim.listen(0, '127.0.0.1');
  const routes = [];
  for (let r = 0; r < ROUTES; r++) {
    const id = `/swap/r${r}`;
    const vhost = `r${r}.swap.test`;
    sim.deployApp({ id, labels: { BATON_0_VHOST: vhost } });
    sim.startTask(id, { host: '127.0.0.1', ports: [await pool.start()] });
    routes.push({ id, vhost, churn: [] });
  }
  const [httpPort, adminPort] = await freePorts(2);
  // Changes 10 ms apart must each become a swap: the default 20 ms window would gather two.
  const file = { coalesceMs: Math.min(5, TICK_MS / 2) };
  const baton = startBaton(children, { marathon, httpPort, adminPort, stateDir: dir, workers, file });
  for (const { vhost } of routes) await waitForHttp(`http://127.0.0.1:${httpPort}/`, { host: vhost });

  let ticks = 0;
  let pending = 0;
  const stops = [];
  const tick = async () => {
    const route = routes[ticks++ % ROUTES];
    pending++;
    try {
      if (route.churn.length < CHURN) {
        const port = await pool.start();
        route.churn.push({ port, taskId: sim.startTask(route.id, { host: '127.0.0.1', ports: [port] }) });
      } else {
        const { port, taskId } = route.churn.shift();
        sim.killTask(taskId);
        stops.push(sleep(STOP_AFTER_KILL_MS).then(() => pool.stop(port)));
      }
    } finally {
      pending--;
    }
  };
  const versionBefore = await swapsDone(adminPort);
  const timer = setInterval(() => void tick(), TICK_MS);
  const load = await autocannonLoad({
    url: `http://127.0.0.1:${httpPort}/`,
    connections: 50,
    seconds: SECONDS,
    requests: routes.map(({ vhost }) => ({ method: 'GET', path: '/', headers: { host: vhost } })),
  });
  clearInterval(timer);
  while (pending > 0) await sleep(5);
  const swaps = (await swapsDone(adminPort)) - versionBefore;
  await Promise.all(stops);
  await children.stop(baton);
  await sim.close();
  await children.stop(pool.child);
  rmSync(dir, { recursive: true, force: true });
  return { workers, seconds: SECONDS, requests: load.total, rps: Math.round(load.rps), failed: load.errors, non2xx: load.non2xx, swaps, changes: ticks, p50Ms: load.p50, p99Ms: load.p99 };
}

const results = [];
for (const workers of [0, 2]) results.push(await run(workers));
console.table(results);
console.log(JSON.stringify(results));
process.exit(0);
