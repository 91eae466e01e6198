#!/usr/bin/env node
// The short benchmark: autocannon against the tiny backend directly and through baton, interleaved
// over several rounds; medians, baton's CPU per request and the ratio. `bench/run.mjs` is the full
// suite (nginx, HAProxy, every scenario). Needs a build; everything listens on 127.0.0.1 and stops
// by itself. Knobs: BENCH_ROUNDS (3), BENCH_SECONDS (5), BENCH_CONNECTIONS (50), BATON_ROOT,
// BENCH_WORKERS (0; a comma list such as `0,1` runs one baton per value, interleaved in the same
// rounds: compare modes only this way, a shared machine drifts between runs), BENCH_SCENARIO
// (small | post; small), BENCH_PIN=1 (baton on CPU 1, this process and the backend on CPU 0, with
// taskset: the scheduler's placement otherwise moves CPU per request by 10-20% between rounds on
// a shared 2-core machine). With workers, the CPU of baton's primary and of its workers is also
// printed apart.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBaton } from './lib/baton.mjs';
import { Children } from './lib/children.mjs';
import { cpuSeconds } from './lib/cpu.mjs';
import { cpuPinner } from './lib/pin.mjs';
import { autocannonLoad } from './lib/http-load.mjs';
import { freePorts, waitForHttp } from './lib/net.mjs';
import { formatTable, scenarioHeader, summarize } from './lib/report.mjs';
import { importDist } from './lib/root.mjs';
import { runRounds } from './lib/rounds.mjs';
import { deployVhostApp } from './lib/sim-apps.mjs';
import { median } from './lib/stats.mjs';

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const workerCounts = (process.env.BENCH_WORKERS ?? '0').split(',').map(Number);
const VHOST = 'bench.local';
const SCENARIOS = {
  small: { title: 'HTTP/1.1 keep-alive, small response', load: {} },
  post: {
    title: 'HTTP/1.1 keep-alive, POST with a 16 KiB body',
    load: { method: 'POST', body: Buffer.alloc(16 * 1024, 0x62), headers: { 'content-type': 'application/octet-stream' } },
  },
};
const scenarioName = process.env.BENCH_SCENARIO ?? 'small';
const chosen = SCENARIOS[scenarioName];
if (chosen === undefined) throw new Error(`BENCH_SCENARIO: one of ${Object.keys(SCENARIOS).join(', ')}`);

const children = new Children();
const tmpDir = mkdtempSync(join(os.tmpdir(), 'baton-bench-'));
process.on('exit', () => rmSync(tmpDir, { recursive: true, force: true }));

const [backendPort] = await freePorts(1);
const backend = children.fork(fileURLToPath(new URL('./tiny-backend.mjs', import.meta.url)), [String(backendPort)]);
await waitForHttp(`http://127.0.0.1:${backendPort}/`);
const { MarathonSim } = await importDist('sim/index.js');
const sim = new MarathonSim();
const marathon = await sim.listen(0, '127.0.0.1');
deployVhostApp(sim, { id: '/bench/app', vhost: VHOST, port: backendPort });

const peers = { direct: { pid: null, http: backendPort } };
const batons = [];
for (const workers of workerCounts) {
  const name = workerCounts.length === 1 ? 'baton' : `baton-w${workers}`;
  const [httpPort, adminPort] = await freePorts(2);
  const stateDir = join(tmpDir, name);
  mkdirSync(stateDir);
  const child = startBaton(children, { marathon, httpPort, adminPort, stateDir, workers });
  await waitForHttp(`http://127.0.0.1:${httpPort}/`, { host: VHOST });
  peers[name] = { pid: child.pid, http: httpPort, workers };
  batons.push({ name, child });
}
const names = Object.keys(peers);
const pinner = process.env.BENCH_PIN === '1' ? cpuPinner() : undefined;
if (pinner) {
  pinner.pin(process.pid, 0); // autocannon runs here
  pinner.pinTree(backend.pid, 0);
  for (const { child } of batons) pinner.pinTree(child.pid, 1);
}

const scenario = {
  id: `http1-${scenarioName}`,
  title: chosen.title,
  how: `autocannon -c ${connections}`,
  rateLabel: 'req/s',
  cpuLabel: 'CPU us/req',
  backendPid: backend.pid,
  // The primary's own CPU over the run, to tell it apart from its workers' (the tree is measured around this).
  run: async (peer, s) => {
    const primaryBefore = peer.pid === null ? 0 : cpuSeconds(peer.pid);
    const result = await autocannonLoad({ url: `http://127.0.0.1:${peer.http}/`, connections, seconds: s, ...chosen.load, headers: { host: VHOST, ...chosen.load.headers } });
    return { ...result, primaryCpuS: peer.pid === null ? 0 : cpuSeconds(peer.pid) - primaryBefore };
  },
};
const runs = await runRounds({ scenario, peers, names, rounds, seconds, warmSeconds: 1, log: (line) => process.stderr.write(`${line}\n`) });
console.log(`${scenarioHeader(scenario, rounds, seconds)}\n${formatTable(scenario, summarize(runs, ['direct']), ['direct'])}`);
for (const { name } of batons) {
  if (peers[name].workers === 0) continue;
  const ok = runs[name].filter((r) => r.failed === undefined && r.total > 0);
  const primaryUs = median(ok.map((r) => (r.primaryCpuS * 1e6) / r.total));
  const workersUs = median(ok.map((r) => r.cpuUs - (r.primaryCpuS * 1e6) / r.total));
  console.log(`${name}: primary ${primaryUs.toFixed(1)} us/req, workers ${workersUs.toFixed(1)} us/req (medians)`);
}

for (const { child } of batons) await children.stop(child); // first, so they do not log the simulator going away
await children.stop(backend);
await sim.close();
process.exit(0);
