#!/usr/bin/env node
// The short benchmark: autocannon against the tiny backend directly and through baton, interleaved
// over several rounds; medians, baton's CPU per request and the ratio. `bench/run.mjs` is the full
// suite (nginx, HAProxy, every scenario). Needs a build; everything listens on 127.0.0.1 and stops
// by itself. Knobs: BENCH_ROUNDS (3), BENCH_SECONDS (5), BENCH_CONNECTIONS (50), BATON_ROOT.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { startVhostBench } from './lib/baton.mjs';
import { Children } from './lib/children.mjs';
import { autocannonLoad } from './lib/http-load.mjs';
import { formatTable, scenarioHeader, summarize } from './lib/report.mjs';
import { runRounds } from './lib/rounds.mjs';

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const VHOST = 'bench.local';

const children = new Children();
const tmpDir = mkdtempSync(join(os.tmpdir(), 'baton-bench-'));
process.on('exit', () => rmSync(tmpDir, { recursive: true, force: true }));

const { backend, backendPort, sim, baton, httpPort } = await startVhostBench(children, { vhost: VHOST, stateDir: tmpDir });

const peers = { direct: { pid: null, http: backendPort }, baton: { pid: baton.pid, http: httpPort } };
const scenario = {
  id: 'http1-small',
  title: 'HTTP/1.1 keep-alive, small response',
  how: `autocannon -c ${connections}`,
  rateLabel: 'req/s',
  cpuLabel: 'CPU us/req',
  backendPid: backend.pid,
  run: (peer, s) => autocannonLoad({ url: `http://127.0.0.1:${peer.http}/`, connections, seconds: s, headers: { host: VHOST } }),
};
const log = (line) => process.stderr.write(`${line}\n`);
const runs = await runRounds({ scenario, peers, names: ['direct', 'baton'], rounds, seconds, warmSeconds: 1, log });
console.log(`${scenarioHeader(scenario, rounds, seconds)}\n${formatTable(scenario, summarize(runs, ['direct']), ['direct'])}`);

await children.stop(baton); // first, so it does not log the simulator going away
await children.stop(backend);
await sim.close();
process.exit(0);
