// Event to route: how long from the simulator publishing an event to the data path acting on it.
// - start: from `startTask` (its status_update_event goes out on the event stream at once) to the
//   first request the new task's backend sees;
// - kill: from `killTask` (TASK_KILLING first) to the last request the killed task's backend sees
//   (0 when none came after the event).
// One route with a task that stays, under steady autocannon load (a child process), SAMPLES
// starts and kills (default 150) spaced GAP_MS (default 100) apart; baton (the CLI, dist/) with
// `--workers 0` and with 2 workers (the table then crosses the IPC channel as a delta).
// Backends stamp wall-clock times with sub-millisecond precision; all processes share the clock.
// `startToSwapInPrimary` splits the start figure: event to the swap in baton's control plane
// (from the admin API's swap history, whole milliseconds); with workers, `swapToWorkers` is from
// that swap to the first and to the last worker applying the table, for start and kill events
// (`/health`'s `tableAppliedAt`, whole ms: the IPC hop); the rest is the next request picking
// the new backend and reaching it over a new connection. Knobs: SAMPLES, GAP_MS, BENCH_WORKERS
// (0,2).
//   npm run build && node bench/event-to-route.mjs
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { startBaton } from './lib/baton.mjs';
import { Children } from './lib/children.mjs';
import { freePorts, waitForHttp } from './lib/net.mjs';
import { BackendPool } from './lib/pool-client.mjs';
import { importDist } from './lib/root.mjs';

const SAMPLES = Number(process.env.SAMPLES ?? 150);
const GAP_MS = Number(process.env.GAP_MS ?? 100);

const children = new Children();
const { MarathonSim } = await importDist('sim/index.js');
const now = () => performance.timeOrigin + performance.now();

function summary(xs) {
  const sorted = [...xs].sort((a, b) => a - b);
  const at = (p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
  const r = (x) => Math.round(x * 100) / 100;
  return { n: sorted.length, p50Ms: r(at(50)), p99Ms: r(at(99)), maxMs: r(sorted.at(-1)) };
}

async function run(workers) {
  const dir = mkdtempSync(join(tmpdir(), 'baton-e2r-'));
  const pool = new BackendPool(children);
  const sim = new MarathonSim();
  const marathon = await sim.listen(0, '127.0.0.1');
  const id = '/e2r/app';
  const vhost = 'app.e2r.test';
  sim.deployApp({ id, labels: { BATON_0_VHOST: vhost } });
  sim.startTask(id, { host: '127.0.0.1', ports: [await pool.start()] });
  const [httpPort, adminPort] = await freePorts(2);
  const baton = startBaton(children, { marathon, httpPort, adminPort, stateDir: dir, workers });
  await waitForHttp(`http://127.0.0.1:${httpPort}/`, { host: vhost });
  const loader = children.fork(fileURLToPath(new URL('./lib/load-child.mjs', import.meta.url)), [
    JSON.stringify({ url: `http://127.0.0.1:${httpPort}/`, connections: 20, seconds: 3600, headers: { host: vhost } }),
  ]);
  await sleep(1000);

  const admin = async (path) => (await request(`http://127.0.0.1:${adminPort}${path}`)).body.json();
  /** The first swap at or after `t` (the admin API has whole ms), or undefined. */
  const swapAfter = async (t) => (await admin('/swaps')).swaps.filter((s) => s.at >= Math.floor(t)).at(-1);
  /** With workers: from the swap to the first and the last worker applying it, when that table is still the live one. */
  const toWorkers = async (swap) => {
    const list = (await admin('/health')).workers?.list ?? [];
    if (swap === undefined || list.length === 0 || list.some((w) => w.tableVersion !== swap.version)) return;
    const lags = list.map((w) => Date.parse(w.tableAppliedAt) - swap.at);
    toFirstWorker.push(Math.min(...lags));
    toLastWorker.push(Math.max(...lags));
  };
  const toSwap = [];
  const toFirstWorker = [];
  const toLastWorker = [];
  const toFirst = [];
  const toLast = [];
  let missed = 0;
  const churn = [];
  for (let i = 0; i < SAMPLES; i++) {
    const port = await pool.start();
    const startedAt = now();
    churn.push({ port, taskId: sim.startTask(id, { host: '127.0.0.1', ports: [port] }) });
    await sleep(GAP_MS);
    const { first } = await pool.peek(port);
    if (first === undefined) missed++;
    else toFirst.push(first - startedAt);
    // The control plane's part: the first swap at or after the event; then the workers'.
    const swap = await swapAfter(startedAt);
    if (swap !== undefined) toSwap.push(swap.at - startedAt);
    await toWorkers(swap);
    if (churn.length > 2) {
      const old = churn.shift();
      const killedAt = now();
      sim.killTask(old.taskId);
      await sleep(GAP_MS);
      await toWorkers(await swapAfter(killedAt));
      const { last } = await pool.stop(old.port);
      toLast.push(Math.max(0, (last ?? 0) - killedAt));
    }
  }
  await children.stop(loader);
  await children.stop(baton);
  await sim.close();
  await children.stop(pool.child);
  rmSync(dir, { recursive: true, force: true });
  return {
    workers,
    start: summary(toFirst),
    startToSwapInPrimary: summary(toSwap),
    ...(workers > 0 && { swapToWorkers: { first: summary(toFirstWorker), last: summary(toLastWorker) } }),
    noRequestWithinGap: missed,
    kill: summary(toLast),
  };
}

const results = [];
for (const workers of (process.env.BENCH_WORKERS ?? '0,2').split(',').map(Number)) results.push(await run(workers));
console.log(JSON.stringify(results, null, 2));
process.exit(0);
