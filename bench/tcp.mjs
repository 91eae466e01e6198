#!/usr/bin/env node
// Raw TCP, directly and through baton's TCP service ports, interleaved over several rounds:
// (a) one connection streaming BENCH_MB MiB to a sink, (b) a connection rate: connect, 4 bytes
// each way, close, with BENCH_CONCURRENCY clients for BENCH_SECONDS or BENCH_CONNS connections.
// Medians, baton / direct and baton's CPU per MiB and per connection. `bench/run.mjs` adds HAProxy.
// Needs a build; everything listens on 127.0.0.1; children are killed on exit.
// Knobs: BENCH_ROUNDS (3), BENCH_MB (256), BENCH_SECONDS (3), BENCH_CONNS (5000), BENCH_CONCURRENCY (20),
// BENCH_WORKERS (baton's --workers, 1), BATON_ROOT.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBaton } from './lib/baton.mjs';
import { Children } from './lib/children.mjs';
import { freePorts, waitForEcho } from './lib/net.mjs';
import { formatTable, scenarioHeader, summarize } from './lib/report.mjs';
import { importDist } from './lib/root.mjs';
import { runRounds } from './lib/rounds.mjs';
import { deployTcpApp } from './lib/sim-apps.mjs';
import { connectionRate, stream } from './lib/tcp-load.mjs';

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const mib = Number(process.env.BENCH_MB ?? 256);
const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const maxConns = Number(process.env.BENCH_CONNS ?? 5000);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 20);
const workers = Number(process.env.BENCH_WORKERS ?? 1);
const here = fileURLToPath(new URL('.', import.meta.url));

const children = new Children();
const tmpDir = mkdtempSync(join(os.tmpdir(), 'baton-bench-'));
process.on('exit', () => rmSync(tmpDir, { recursive: true, force: true }));

const [sinkPort, echoPort, sinkService, echoService, httpPort, adminPort] = await freePorts(6);
const backend = children.fork(join(here, 'tcp-backend.mjs'), [String(sinkPort), String(echoPort)]);
await waitForEcho(echoPort);

const { MarathonSim } = await importDist('sim/index.js');
const sim = new MarathonSim();
const marathon = await sim.listen(0, '127.0.0.1');
deployTcpApp(sim, { id: '/bench/tcp', servicePorts: [sinkService, echoService], ports: [sinkPort, echoPort] });
const baton = startBaton(children, { marathon, httpPort, adminPort, stateDir: tmpDir, workers });
await waitForEcho(echoService);

const peers = {
  direct: { pid: null, sink: sinkPort, echo: echoPort },
  baton: { pid: baton.pid, sink: sinkService, echo: echoService },
};
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
];
const log = (line) => process.stderr.write(`${line}\n`);
for (const scenario of scenarios) {
  const runs = await runRounds({ scenario, peers, names: ['direct', 'baton'], rounds, seconds, warmSeconds: 1, log });
  console.log(`${scenarioHeader(scenario, rounds, seconds)}\n${formatTable(scenario, summarize(runs, ['direct']), ['direct'])}`);
}

await children.stop(baton); // first, so it does not log the simulator going away
await children.stop(backend);
await sim.close();
process.exit(0);
