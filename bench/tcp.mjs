#!/usr/bin/env node
// Raw TCP, directly, through baton's TCP service ports, through HAProxy `mode tcp` (when
// installed) and through `node-floor` (bench/lib/tcp-floor.mjs: the least a Node proxy does),
// interleaved over several rounds: (a) one connection streaming BENCH_MB MiB to a sink,
// (b) a connection rate: connect, 4 bytes each way, close, with BENCH_CONCURRENCY clients for
// BENCH_SECONDS or BENCH_CONNS connections. Medians, ratios to HAProxy and direct, CPU per MiB and
// per connection. BENCH_BASE_ROOT names a second baton build (a checkout with dist/, e.g. the last
// commit) run as peer `baton-base` in the same rounds: a paired before/after comparison.
// Needs a build; everything listens on 127.0.0.1; children are killed on exit.
// Knobs: BENCH_ROUNDS (3), BENCH_MB (256), BENCH_SECONDS (3), BENCH_CONNS (5000), BENCH_CONCURRENCY (20),
// BENCH_WORKERS (baton's --workers, 1), BENCH_BASE_ROOT, BENCH_SCENARIOS (tcp-stream,tcp-connect), BATON_ROOT.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBaton } from './lib/baton.mjs';
import { Children } from './lib/children.mjs';
import { startHaproxy } from './lib/haproxy.mjs';
import { freePorts, waitForEcho } from './lib/net.mjs';
import { formatTable, scenarioHeader, summarize } from './lib/report.mjs';
import { importDist } from './lib/root.mjs';
import { runRounds } from './lib/rounds.mjs';
import { deployTcpApp } from './lib/sim-apps.mjs';
import { connectionRate, stream } from './lib/tcp-load.mjs';
import { findTool } from './lib/tools.mjs';

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const mib = Number(process.env.BENCH_MB ?? 256);
const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const maxConns = Number(process.env.BENCH_CONNS ?? 5000);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 20);
const workers = Number(process.env.BENCH_WORKERS ?? 1);
const baseRoot = process.env.BENCH_BASE_ROOT;
const only = process.env.BENCH_SCENARIOS?.split(',');
const here = fileURLToPath(new URL('.', import.meta.url));

const children = new Children();
const tmpDir = mkdtempSync(join(os.tmpdir(), 'baton-bench-'));
process.on('exit', () => rmSync(tmpDir, { recursive: true, force: true }));
const log = (line) => process.stderr.write(`${line}\n`);

const [sinkPort, echoPort, haSink, haEcho, haHttp, haH2, floorSink, floorEcho] = await freePorts(8);
const backend = children.fork(join(here, 'tcp-backend.mjs'), [String(sinkPort), String(echoPort)]);
await waitForEcho(echoPort);

const { MarathonSim } = await importDist('sim/index.js');
const sims = [];

/** baton from the build at `root` (undefined: BATON_ROOT or this checkout), with its own simulator and service ports. */
async function startBatonPeer(name, root) {
  const [sink, echo, httpPort, adminPort] = await freePorts(4);
  const sim = new MarathonSim();
  sims.push(sim);
  const marathon = await sim.listen(0, '127.0.0.1');
  deployTcpApp(sim, { id: '/bench/tcp', servicePorts: [sink, echo], ports: [sinkPort, echoPort] });
  const stateDir = join(tmpDir, name);
  mkdirSync(stateDir);
  // startBaton reads BATON_ROOT when called: the baseline build is started with it set.
  const saved = process.env.BATON_ROOT;
  if (root !== undefined) process.env.BATON_ROOT = resolve(root);
  const child = startBaton(children, { marathon, httpPort, adminPort, stateDir, workers });
  if (root !== undefined) {
    if (saved === undefined) delete process.env.BATON_ROOT;
    else process.env.BATON_ROOT = saved;
  }
  return { pid: child.pid, child, sink, echo };
}

const peers = { direct: { pid: null, sink: sinkPort, echo: echoPort } };
peers.baton = await startBatonPeer('baton');
if (baseRoot !== undefined) peers['baton-base'] = await startBatonPeer('baton-base', baseRoot);
const haproxy = findTool('haproxy');
if (haproxy === undefined) log('haproxy not found: the TCP rows compare with direct only');
else {
  // The HTTP frontend haproxyConfig always writes points nowhere: only the tcp listeners are used.
  const tcp = [
    { port: haSink, target: sinkPort },
    { port: haEcho, target: echoPort },
  ];
  const { child } = startHaproxy(children, haproxy, { dir: tmpDir, httpPort: haHttp, h2Port: haH2, backendPort: echoPort, vhost: 'bench.test', tcp });
  peers.haproxy = { pid: child.pid, child, sink: haSink, echo: haEcho };
}
const floor = children.fork(join(here, 'lib/tcp-floor.mjs'), [`${floorSink}:${sinkPort}`, `${floorEcho}:${echoPort}`]);
peers['node-floor'] = { pid: floor.pid, child: floor, sink: floorSink, echo: floorEcho };
for (const peer of Object.values(peers)) await waitForEcho(peer.echo);

const scenarios = [
  {
    id: 'tcp-stream',
    title: `TCP stream: ${mib} MiB over one connection`,
    how: 'one client writing 1 MiB chunks with backpressure to a sink that confirms the byte count',
    sized: true,
    rateLabel: 'MiB/s',
    cpuLabel: 'CPU us/MiB',
    backendPid: backend.pid,
    run: async (peer) => ({ total: mib, rps: await stream(peer.sink, mib), p50: null, p99: null, errors: 0, non2xx: null }),
    warm: (peer) => stream(peer.sink, Math.max(8, mib / 8)),
  },
  {
    id: 'tcp-connect',
    title: 'TCP connection rate: connect, 4 bytes each way, close',
    how: `${concurrency} clients, ${maxConns} connections at most, latency = one whole connection`,
    rateLabel: 'conn/s',
    cpuLabel: 'CPU us/conn',
    backendPid: backend.pid,
    run: (peer, s) => connectionRate({ port: peer.echo, seconds: s, maxConns, concurrency }),
  },
].filter((scenario) => only === undefined || only.includes(scenario.id));
const names = Object.keys(peers);
const refs = ['haproxy', 'direct'];
for (const scenario of scenarios) {
  const runs = await runRounds({ scenario, peers, names, rounds, seconds, warmSeconds: 1, log });
  console.log(`${scenarioHeader(scenario, rounds, seconds)}\n${formatTable(scenario, summarize(runs, refs), refs)}`);
}

// baton first, so it does not log the simulator going away.
for (const name of names) if (peers[name].child !== undefined && name !== 'haproxy') await children.stop(peers[name].child);
if (peers.haproxy !== undefined) await children.stop(peers.haproxy.child);
await children.stop(backend);
for (const sim of sims) await sim.close();
process.exit(0);
