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
// (from the admin API's swap history, whole milliseconds); the rest is reaching the data path
// (a worker, over IPC) and the next request picking the new backend.
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

  /** Swap times (`at`, whole ms) newest first, from the admin API. */
  const swapTimes = async () => {
    const res = await request(`http://127.0.0.1:${adminPort}/swaps`);
    return (await res.body.json()).swaps.map((s) => s.at);
  };
  const toSwap = [];
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
    // The control plane's part: the first swap at or after the event (the admin API has whole ms).
    const swapAt = Math.min(...(await swapTimes()).filter((at) => at >= Math.floor(startedAt)));
    if (Number.isFinite(swapAt)) toSwap.push(swapAt - startedAt);
    if (churn.length > 2) {
      const old = churn.shift();
      const killedAt = now();
      sim.killTask(old.taskId);
      await sleep(GAP_MS);
      const { last } = await pool.stop(old.port);
      toLast.push(Math.max(0, (last ?? 0) - killedAt));
    }
  }
  await children.stop(loader);
  await children.stop(baton);
  await sim.close();
  await children.stop(pool.child);
  rmSync(dir, { recursive: true, force: true });
  return { workers, start: summary(toFirst), startToSwapInPrimary: summary(toSwap), noRequestWithinGap: missed, kill: summary(toLast) };
}

const results = [];
for (const workers of [0, 2]) results.push(await run(workers));
console.log(JSON.stringify(results, null, 2));
process.exit(0);
