// Scale: 10,000 apps / 50,000 tasks (APPS, TASKS_PER_APP to change) in this process, no proxy.
// The simulator holds the apps; its /v2/apps body goes through baton's parser into ClusterState,
// and a TableHolder builds and swaps the table, as in baton's control plane. Then EVENTS task
// events (a task started on a fresh backend, an old one killed) are taken from the simulator's
// own event payloads, parsed and applied one at a time, each rebuilt and swapped at once.
// Reports: snapshot (fetch, parse, validate, streamed parse + validate, state, views, build, swap), per-event apply + swap p50/p99/max,
// RSS and heap, and what a swap costs to send to workers (whole table vs delta, JSON bytes/time).
// The data path's own work per swap (src/data-path.ts onSwap: the backend registry, metric
// series and listeners follow the table; in the control-plane process with --workers 0, else in
// each worker) is timed apart: `dataPathOnSwap`. Its entry points are not opened.
// Last, baton's CLI (--workers 0) syncs the same 10,000 apps from the simulator over HTTP:
// spawn to live table, its recorded build time, and its RSS (`batonProcess`).
//   node --expose-gc bench/scale.mjs            (npm run build first)
import { performance } from 'node:perf_hooks';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate, setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { request } from 'undici';
import { Children } from './lib/children.mjs';
import { freePorts } from './lib/net.mjs';
import { threadCpuMs } from './lib/thread-cpu.mjs';
import { batonRoot, importDist } from './lib/root.mjs';

const APPS = Number(process.env.APPS ?? 10_000);
const TASKS_PER_APP = Number(process.env.TASKS_PER_APP ?? 5);
const EVENTS = Number(process.env.EVENTS ?? 2_000);

const { MarathonSim } = await importDist('sim/index.js');
const { parseApps } = await importDist('marathon/snapshot.js');
// Absent from builds before it (BATON_ROOT pointing at an older baton): the snapshot is then parsed whole.
const { AppsBodyReader } = await importDist('marathon/apps-body.js').catch(() => ({}));
const { parseEvent } = await importDist('marathon/events.js');
const { ClusterState } = await importDist('state/cluster-state.js');
const { HealthJudge } = await importDist('state/health.js');
const { TableBuilder } = await importDist('routing/table.js');
const { TableHolder } = await importDist('routing/holder.js');
const { createMetrics } = await importDist('observability/metrics.js');
const { createStateMetrics } = await importDist('state/metrics.js');
const { RouteWatch } = await importDist('routing/route-watch.js');
const { DataPath } = await importDist('data-path.js');
const { loadConfig } = await importDist('config/load.js');
const { tableMessage, TableSender } = await importDist('cluster/messages.js');

const gc = globalThis.gc ?? (() => {});
const mb = (bytes) => Math.round(bytes / 1024 / 1024);
const ms = (x) => Math.round(x * 100) / 100;
function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const logger = pino({ level: 'silent' });
const sim = new MarathonSim();
const marathon = await sim.listen(0, '127.0.0.1');

// Capture what the simulator publishes, as the event stream would carry it.
const captured = [];
const publish = sim.publish.bind(sim);
sim.publish = (eventType, fields) => {
  publish(eventType, fields);
  captured.push({ eventType, data: JSON.stringify({ ...fields, eventType, timestamp: new Date().toISOString() }) });
};

let started = performance.now();
const tasksOf = new Map();
for (let a = 0; a < APPS; a++) {
  const id = `/scale/app-${a}`;
  sim.deployApp({ id, labels: { BATON_0_VHOST: `app-${a}.scale.test` } });
  const ids = [];
  for (let t = 0; t < TASKS_PER_APP; t++) ids.push(sim.startTask(id, { host: `10.${(a >> 8) & 255}.${a & 255}.${t}`, ports: [31000 + t] }));
  tasksOf.set(id, ids);
}
captured.length = 0;
const simSetupMs = performance.now() - started;

// The snapshot, phase by phase, each as wall time and this thread's CPU time (the machine may be
// shared; the CPU time counts in scheduler ticks, so it is coarse below a few ms). fetch: the body's bytes (the simulator serialises it in this process). baton reads
// the body as it arrives, parsing and checking app by app (AppsBodyReader: `streamed`); the
// same bytes parsed whole (`parse`, JSON.parse) and checked (`validate`, parseApps) are timed
// too, for comparison with what the sync cost before.
const phase = (fn) => {
  const wall = performance.now();
  const cpu = threadCpuMs();
  const result = fn();
  return { result, ms: { wall: ms(performance.now() - wall), cpu: ms(threadCpuMs() - cpu) } };
};
let t0 = performance.now();
let c0 = threadCpuMs();
const res = await request(`${marathon}/v2/apps?embed=apps.tasks&embed=apps.readiness`);
const chunks = [];
for await (const chunk of res.body) chunks.push(chunk);
const fetchMs = { wall: ms(performance.now() - t0), cpu: ms(threadCpuMs() - c0) };
const bodyBytes = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
gc();
const whole = phase(() => JSON.parse(Buffer.concat(chunks).toString('utf8')));
const validate = phase(() => parseApps(whole.result));
whole.result = undefined;
gc();
const streamed =
  AppsBodyReader === undefined
    ? undefined
    : phase(() => {
        const reader = new AppsBodyReader();
        for (const chunk of chunks) reader.feed(chunk);
        return reader.end();
      });
chunks.length = 0;
const { apps } = (streamed ?? validate).result;
validate.result = undefined;
if (streamed !== undefined) streamed.result = undefined;

const metrics = createMetrics();
const builder = new TableBuilder({ realm: undefined, domain: undefined });
const state = new ClusterState({ judge: new HealthJudge(100_000), logger, onChange: () => {}, onRefetch: () => {} });
// As baton's control plane: the route watch (panic routes, suspects) sees every swap.
const routeWatch = new RouteWatch(logger, createStateMetrics(metrics.registry), 0.5);
const holder = new TableHolder({ build: (version) => builder.build(state.views(), version), logger, metrics, onSwap: (table) => routeWatch.onSwap(table) });

gc();
const before = process.memoryUsage();
t0 = performance.now();
c0 = threadCpuMs();
const replaceMs = phase(() => state.replaceAll(apps)).ms;
const { result: views, ms: viewsMs } = phase(() => state.views());
const buildMs = phase(() => builder.build(views, 1)).ms;
// What builder.build just made is cached: this is the holder's compare and swap, and the state's views again.
const swapMs = phase(() => holder.rebuildNow()).ms;
const snapshotMs = { wall: ms(performance.now() - t0), cpu: ms(threadCpuMs() - c0) };
const table = holder.current;
if (table.routes.length !== APPS) throw new Error(`expected ${APPS} routes, got ${table.routes.length}`);
const dataPath = new DataPath(loadConfig(['--marathon', marathon, '--workers', '0'], {}, () => undefined), holder, logger, createMetrics());
const dataPathFirstMs = phase(() => dataPath.onSwap(table)).ms.wall;
const dataPathMs = [];

// Sending to workers: the whole table (what a new worker gets) and, per swap, a delta.
started = performance.now();
const fullJson = JSON.stringify(tableMessage(table));
const fullSendMs = performance.now() - started;
const sender = TableSender === undefined ? undefined : new TableSender();
sender?.next(table);

// Events: start a task on a fresh backend, then kill the app's oldest, one app after another.
const eventMs = [];
const deltaBytes = [];
const deltaMs = [];
let next = 0;
function applyCaptured() {
  const events = captured.splice(0);
  const t0 = performance.now();
  for (const { eventType, data } of events) {
    const parsed = parseEvent(eventType, data);
    if (parsed.ok && parsed.changes.length > 0) state.apply(parsed.changes);
  }
  const swapped = holder.rebuildNow();
  eventMs.push(performance.now() - t0);
  // DATA_PATH=0 leaves it out: its garbage (whole-table maps per swap) also slows the control plane's figure.
  if (swapped && process.env.DATA_PATH !== '0') {
    const t2 = performance.now();
    dataPath.onSwap(holder.current);
    dataPathMs.push(performance.now() - t2);
  }
  if (sender !== undefined) {
    const t1 = performance.now();
    const json = JSON.stringify(sender.next(holder.current));
    deltaMs.push(performance.now() - t1);
    deltaBytes.push(json.length);
  }
}
const versionBefore = holder.current.version;
for (let i = 0; i < EVENTS / 2; i++) {
  const id = `/scale/app-${(next++ * 7919) % APPS}`;
  const ids = tasksOf.get(id);
  ids.push(sim.startTask(id, { host: `10.200.${i & 255}.${(i >> 8) & 255}`, ports: [32000 + (i % 1000)] }));
  applyCaptured();
  // Each event in its own turn of the event loop, as the event stream delivers them.
  await setImmediate();
  sim.killTask(ids.shift());
  // The kill's four events (KILLING, KILLED as status and instance events) arrive together.
  applyCaptured();
  await setImmediate();
}
const swaps = holder.current.version - versionBefore;
gc();
const after = process.memoryUsage();
eventMs.sort((a, b) => a - b);
dataPathMs.sort((a, b) => a - b);
deltaMs.sort((a, b) => a - b);
deltaBytes.sort((a, b) => a - b);

const report = {
  apps: APPS,
  tasks: APPS * TASKS_PER_APP,
  simSetupMs: Math.round(simSetupMs),
  snapshot: {
    note: 'each phase as {wall, cpu} ms; cpu = this thread only',
    bytes: bodyBytes,
    fetchMs,
    parseMs: whole.ms,
    validateMs: validate.ms,
    streamedParseValidateMs: streamed?.ms,
    stateBuildSwapMs: snapshotMs,
    replaceAllMs: replaceMs,
    viewsMs,
    buildMs,
    swapMs,
  },
  events: {
    applied: eventMs.length,
    swaps,
    p50Ms: ms(percentile(eventMs, 50)),
    p99Ms: ms(percentile(eventMs, 99)),
    maxMs: ms(eventMs.at(-1)),
  },
  dataPathOnSwap: { firstTableMs: ms(dataPathFirstMs), p50Ms: ms(percentile(dataPathMs, 50)), p99Ms: ms(percentile(dataPathMs, 99)) },
  memory: {
    rssMb: mb(after.rss),
    heapUsedMb: mb(after.heapUsed),
    heapUsedBeforeSnapshotMb: mb(before.heapUsed),
    note: 'this process also holds the simulator (its apps and the /v2/apps body it served)',
  },
  workers: {
    fullTableBytes: fullJson.length,
    fullTableStringifyMs: Math.round(fullSendMs),
    ...(deltaBytes.length > 0 && {
      deltaBytesP50: percentile(deltaBytes, 50),
      deltaBytesMax: deltaBytes.at(-1),
      deltaStringifyP99Ms: ms(percentile(deltaMs, 99)),
    }),
  },
};
holder.close();
state.close();
await dataPath.close();

// baton itself (the CLI, --workers 0) against the same simulator: time from spawn to the first
// table with every route live, the build time its swap history records, and its RSS once synced
// (the figure for the RSS target: this process also holds the simulator and the parsed apps).
const children = new Children();
const dir = mkdtempSync(join(tmpdir(), 'baton-scale-'));
const [httpPort, adminPort] = await freePorts(2);
const spawnedAt = performance.now();
const baton = children.spawn(process.execPath, [join(batonRoot(), 'dist/cli.js'), '--marathon', marathon, '--http', `127.0.0.1:${httpPort}`, '--admin', `127.0.0.1:${adminPort}`, '--workers', '0', '--state-file', join(dir, 'state.json'), '--log-level', 'warn'], { cwd: batonRoot() });
let firstSwap;
while (firstSwap === undefined) {
  await sleep(50);
  try {
    const res = await request(`http://127.0.0.1:${adminPort}/swaps`);
    firstSwap = (await res.body.json()).swaps.findLast((swap) => swap.routes === APPS);
  } catch {}
}
const syncedMs = performance.now() - spawnedAt;
await sleep(2000);
const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${baton.pid}/status`, 'utf8'))[1]);
// Heap as prom-client's process metrics report it (not after a forced GC: no way to ask for one).
const metricsText = await (await request(`http://127.0.0.1:${adminPort}/metrics`)).body.text();
const heapBytes = Number(/^nodejs_heap_size_used_bytes (\S+)$/m.exec(metricsText)?.[1]);
report.batonProcess = { spawnToLiveTableMs: Math.round(syncedMs), buildMs: firstSwap.buildMs, rssMb: Math.round(rssKb / 1024), heapUsedMb: mb(heapBytes) };
await children.stop(baton);
rmSync(dir, { recursive: true, force: true });

console.log(JSON.stringify(report, null, 2));
await sim.close();
process.exit(0);
