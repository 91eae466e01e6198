// Soak: baton (dist/, `--workers 0`) in this process under autocannon load (a child process) for
// BENCH_SECONDS (default 600) while the simulator keeps events flowing (a task started on a fresh
// backend or an old one killed every EVENT_MS, default 100), over ROUTES routes. Heap used and
// RSS after a forced GC at the start (first sync done), after a warm-up (WARMUP_SECONDS, 30),
// every 30 s, and at the end; growth reported from the warm-up sample (caches filling up to
// their bounds is not a leak) and from the start.
//   npm run build && node --expose-gc bench/soak.mjs
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { Children } from './lib/children.mjs';
import { waitForHttp } from './lib/net.mjs';
import { BackendPool } from './lib/pool-client.mjs';
import { importDist } from './lib/root.mjs';

if (globalThis.gc === undefined) throw new Error('run with node --expose-gc');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 600);
const WARMUP_SECONDS = Math.min(Number(process.env.WARMUP_SECONDS ?? 30), SECONDS / 4);
const SAMPLE_SECONDS = Number(process.env.SAMPLE_SECONDS ?? 30);
const ROUTES = Number(process.env.ROUTES ?? 4);
const EVENT_MS = Number(process.env.EVENT_MS ?? 100);
const CHURN = 3;

const children = new Children();
const { MarathonSim } = await importDist('sim/index.js');
const { loadConfig } = await importDist('config/load.js');
const { startBaton } = await importDist('main.js');

const mb = (bytes) => Math.round((bytes / 1024 / 1024) * 10) / 10;
function sample(label, startedAt) {
  globalThis.gc();
  const { heapUsed, rss } = process.memoryUsage();
  return { at: label, s: Math.round((Date.now() - startedAt) / 1000), heapUsedMb: mb(heapUsed), rssMb: mb(rss) };
}

const dir = mkdtempSync(join(tmpdir(), 'baton-soak-'));
const pool = new BackendPool(children);
const sim = new MarathonSim();
const marathon = await sim.listen(0, '127.0.0.1');
const routes = [];
for (let r = 0; r < ROUTES; r++) {
  const id = `/soak/r${r}`;
  sim.deployApp({ id, labels: { BATON_0_VHOST: `r${r}.soak.test` } });
  sim.startTask(id, { host: '127.0.0.1', ports: [await pool.start()] });
  routes.push({ id, vhost: `r${r}.soak.test`, churn: [] });
}
const config = loadConfig(
  ['--marathon', marathon, '--http', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--workers', '0', '--state-file', join(dir, 'state.json'), '--log-level', 'warn'],
  {},
  () => undefined,
);
const baton = await startBaton(config, pino({ level: 'warn' }));
const httpPort = (await baton.http).port;
for (const { vhost } of routes) await waitForHttp(`http://127.0.0.1:${httpPort}/`, { host: vhost });

const startedAt = Date.now();
const samples = [sample('start', startedAt)];
const loader = children.fork(fileURLToPath(new URL('./lib/load-child.mjs', import.meta.url)), [
  JSON.stringify({
    url: `http://127.0.0.1:${httpPort}/`,
    connections: 50,
    seconds: SECONDS,
    requests: routes.map(({ vhost }) => ({ method: 'GET', path: '/', headers: { host: vhost } })),
  }),
]);
const loaded = once(loader, 'message');

let ticks = 0;
const events = setInterval(async () => {
  const route = routes[ticks++ % ROUTES];
  if (route.churn.length < CHURN) {
    const port = await pool.start();
    route.churn.push({ port, taskId: sim.startTask(route.id, { host: '127.0.0.1', ports: [port] }) });
  } else {
    const { port, taskId } = route.churn.shift();
    sim.killTask(taskId);
    setTimeout(() => void pool.stop(port), 100);
  }
}, EVENT_MS);

await sleep(WARMUP_SECONDS * 1000);
samples.push(sample('warm', startedAt));
const warm = samples.at(-1);
const timer = setInterval(() => samples.push(sample('sample', startedAt)), SAMPLE_SECONDS * 1000);
const [load] = await loaded;
clearInterval(timer);
clearInterval(events);
await sleep(500);
samples.push(sample('end', startedAt));
const end = samples.at(-1);
await baton.stop();
await sim.close();
await children.stop(pool.child);
rmSync(dir, { recursive: true, force: true });

console.table(samples);
const result = {
  seconds: SECONDS,
  requests: load.total,
  rps: Math.round(load.rps),
  failed: load.errors,
  non2xx: load.non2xx,
  p99Ms: load.p99,
  events: ticks,
  swaps: baton.tables.current.version,
  heapUsedMb: { start: samples[0].heapUsedMb, warm: warm.heapUsedMb, end: end.heapUsedMb, growthSinceWarm: mb((end.heapUsedMb - warm.heapUsedMb) * 1024 * 1024) },
  rssMb: { start: samples[0].rssMb, warm: warm.rssMb, end: end.rssMb },
};
console.log(JSON.stringify(result, null, 2));
process.exit(0);
