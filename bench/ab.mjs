#!/usr/bin/env node
// A paired comparison of two builds of baton: the checkout in BENCH_A_ROOT (say a worktree of the
// previous commit, built) against this one, behind the same backend and simulator, rounds
// interleaved, medians of req/s, latency and CPU per request. The way to tell whether a change
// to the hot path helps on a shared, noisy machine. Knobs: BENCH_A_ROOT (required; this checkout
// again to compare node flags), BENCH_A_NODE_ARGS (node flags for a only, space-separated),
// BENCH_WORKERS (0), BENCH_ROUNDS (4), BENCH_SECONDS (4), BENCH_CONNECTIONS (50).
//   git worktree add /tmp/base HEAD~1 && (cd /tmp/base && ln -s "$PWD/node_modules" && npm run build)
//   BENCH_A_ROOT=/tmp/base node bench/ab.mjs
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { startBaton, startVhostBench } from './lib/baton.mjs';
import { Children } from './lib/children.mjs';
import { compareKeepAlive } from './lib/keep-alive-compare.mjs';
import { freePorts, waitForHttp } from './lib/net.mjs';

const rootA = process.env.BENCH_A_ROOT;
if (rootA === undefined) throw new Error('BENCH_A_ROOT: the checkout (built) to compare this one with');
const workers = Number(process.env.BENCH_WORKERS ?? 0);
const VHOST = 'bench.local';

const children = new Children();
const tmpDir = mkdtempSync(join(os.tmpdir(), 'baton-ab-'));
process.on('exit', () => rmSync(tmpDir, { recursive: true, force: true }));

const { backend, backendPort, sim, baton, httpPort } = await startVhostBench(children, { vhost: VHOST, stateDir: tmpDir, workers });
const [httpA, adminA] = await freePorts(2);
const stateA = mkdtempSync(join(tmpDir, 'a-'));
const nodeArgsA = (process.env.BENCH_A_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');
const batonA = startBaton(children, { marathon: sim.url, httpPort: httpA, adminPort: adminA, stateDir: stateA, workers, root: rootA, nodeArgs: nodeArgsA });
await waitForHttp(`http://127.0.0.1:${httpA}/`, { host: VHOST });

const peers = { direct: { pid: null, http: backendPort }, a: { pid: batonA.pid, http: httpA }, b: { pid: baton.pid, http: httpPort } };
await compareKeepAlive({
  id: 'ab-http1-small',
  title: `HTTP/1.1 keep-alive, small response: a = ${rootA} ${nodeArgsA.join(' ')}, b = this checkout (--workers ${workers})`,
  peers,
  names: ['a', 'b', 'direct'],
  backendPid: backend.pid,
  vhost: VHOST,
  connections: Number(process.env.BENCH_CONNECTIONS ?? 50),
  rounds: Number(process.env.BENCH_ROUNDS ?? 4),
  seconds: Number(process.env.BENCH_SECONDS ?? 4),
});

await children.stop(batonA);
await children.stop(baton);
await children.stop(backend);
await sim.close();
process.exit(0);
