// Event storm against baton (issue 8): `node bench/storm.mjs` after `npm run build`.
//
// The simulator (bench/storm-marathon.mjs, a child) serves 1,000 apps of 2 tasks plus one probe
// app on the tiny backend; baton runs as a child too (`dist/cli.js`); the load generator runs here.
// The probe is loaded with autocannon twice for the same time at the same fixed rate: calm, then
// while the simulator publishes 20,000 events in 10 s (health flips, lost and recovered tasks,
// task replacements, redeployments). Printed:
// p50/p99 of the probe, baton's CPU (its whole process tree; the difference is the event path's),
// table swaps per second, and events per second.
//
// Options: --apps N (1000), --events N (20000), --seconds S (10), --workers N (0: control plane and
// proxy share one event loop, the hardest case), --rate N requests/s on the probe (2000),
// --connections N (16). --cpu-prof writes a CPU profile of baton to bench/results.
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { request } from 'undici';
import { Children } from './lib/children.mjs';
import { treeCpuTimes } from './lib/cpu.mjs';
import { freePorts, waitForHttp } from './lib/net.mjs';
import { batonRoot } from './lib/root.mjs';
import { LatencyHistogram } from './lib/stats.mjs';

const { values } = parseArgs({
  options: {
    apps: { type: 'string', default: '1000' },
    events: { type: 'string', default: '20000' },
    seconds: { type: 'string', default: '10' },
    workers: { type: 'string', default: '0' },
    connections: { type: 'string', default: '16' },
    rate: { type: 'string', default: '2000' },
    'cpu-prof': { type: 'boolean', default: false },
  },
});
const apps = Number(values.apps);
const events = Number(values.events);
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const rate = Number(values.rate);
const VHOST = 'probe.storm.example';

const children = new Children();
const stateDir = mkdtempSync(join(tmpdir(), 'baton-storm-'));
const [backendPort, httpPort, adminPort] = await freePorts(3);
children.fork(fileURLToPath(new URL('./tiny-backend.mjs', import.meta.url)), [String(backendPort)]);
await waitForHttp(`http://127.0.0.1:${backendPort}/`);

const simulator = children.fork(fileURLToPath(new URL('./storm-marathon.mjs', import.meta.url)), [String(apps), String(backendPort)]);
const { marathon } = await once(simulator, 'message').then(([message]) => message);

const baton = children.spawn(
  process.execPath,
  [
    ...(values['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${join(batonRoot(), 'bench/results')}`] : []),
    join(batonRoot(), 'dist/cli.js'),
    ...['--marathon', marathon, '--http', `127.0.0.1:${httpPort}`, '--admin', `127.0.0.1:${adminPort}`, '--service-bind', '127.0.0.1'],
    ...['--state-file', join(stateDir, 'baton-state.json'), '--log-level', 'error', '--workers', values.workers],
  ],
  { cwd: batonRoot() },
);
const probe = `http://127.0.0.1:${httpPort}/`;
await waitForHttp(probe, { host: VHOST });

/** A counter from baton's /metrics (summed over label sets). */
async function metric(name) {
  const res = await request(`http://127.0.0.1:${adminPort}/metrics`);
  const text = await res.body.text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name) && (line[name.length] === ' ' || line[name.length] === '{')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

function cpu() {
  const { user, system } = treeCpuTimes(baton.pid);
  return user + system;
}

/** `rate` requests a second on the probe for `duration` s, latency in a 10 us histogram. */
async function load(duration = seconds) {
  const latency = new LatencyHistogram();
  const run = autocannon({ url: probe, connections, duration, overallRate: rate, headers: { host: VHOST } });
  run.on('response', (_client, _status, _bytes, ms) => latency.record(ms));
  const result = await run;
  return { rps: result.requests.total / result.duration, p50: latency.percentile(50), p99: latency.percentile(99), errors: result.errors + result.non2xx };
}

// Warm up the JIT and the pools, then measure calm.
await load(2);
let before = cpu();
const calm = await load();
const calmCpu = cpu() - before;

const swapsBefore = await metric('baton_table_swaps_total');
const eventsBefore = await metric('baton_marathon_events_total');
before = cpu();
simulator.send({ storm: { events, ms: seconds * 1000 } });
const [stormed, { result }] = await Promise.all([load(), once(simulator, 'message').then(([message]) => message)]);
const stormCpu = cpu() - before;
const swaps = (await metric('baton_table_swaps_total')) - swapsBefore;
const received = (await metric('baton_marathon_events_total')) - eventsBefore;

const row = (name, r, cpuSeconds) =>
  `  ${name.padEnd(6)} ${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50.toFixed(2).padStart(6)} ms  p99 ${r.p99.toFixed(2).padStart(6)} ms  errors ${String(r.errors).padStart(4)}  baton CPU ${(cpuSeconds / seconds).toFixed(2)} s/s`;
process.stdout.write(
  [
    `storm: ${apps} apps, ${result.events} events published in ${(result.ms / 1000).toFixed(1)} s (${(result.events / (result.ms / 1000)).toFixed(0)}/s), baton read ${received}; workers ${values.workers}, ${connections} connections on the probe`,
    row('calm', calm, calmCpu),
    row('storm', stormed, stormCpu),
    `  p99 storm / calm: ${(stormed.p99 / calm.p99).toFixed(2)}x; event path CPU ~${((stormCpu - calmCpu) / seconds).toFixed(2)} s/s; table swaps ${swaps} (${(swaps / seconds).toFixed(1)}/s)`,
    '',
  ].join('\n'),
);

await children.stop(baton);
await children.stop(simulator);
rmSync(stateDir, { recursive: true, force: true });
process.exit(0);
