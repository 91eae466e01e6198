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
import { compareKeepAlive } from './lib/keep-alive-compare.mjs';

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const VHOST = 'bench.local';

const children = new Children();
const tmpDir = mkdtempSync(join(os.tmpdir(), 'baton-bench-'));
process.on('exit', () => rmSync(tmpDir, { recursive: true, force: true }));

const { backend, backendPort, sim, baton, httpPort } = await startVhostBench(children, { vhost: VHOST, stateDir: tmpDir, workers: Number(process.env.BENCH_WORKERS ?? 0) });

const peers = { direct: { pid: null, http: backendPort }, baton: { pid: baton.pid, http: httpPort } };
await compareKeepAlive({ id: 'http1-small', title: 'HTTP/1.1 keep-alive, small response', peers, names: ['direct', 'baton'], backendPid: backend.pid, vhost: VHOST, connections, rounds, seconds });

await children.stop(baton); // first, so it does not log the simulator going away
await children.stop(backend);
await sim.close();
process.exit(0);
