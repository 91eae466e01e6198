#!/usr/bin/env node
// First benchmark: autocannon against a tiny backend directly and through baton, in one run,
// interleaved over several rounds; prints req/s, p99, baton's CPU per request and the ratio.
// Needs `npm run build` (npm ci does it). Everything listens on 127.0.0.1 and stops by itself.
// Knobs: BENCH_ROUNDS (3), BENCH_SECONDS (5), BENCH_CONNECTIONS (50).
import { fork, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { request } from 'undici';
import { MarathonSim } from '../dist/sim/index.js';

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const root = new URL('..', import.meta.url).pathname;

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitFor(url, headers) {
  for (let i = 0; i < 200; i++) {
    try {
      const res = await request(url, { headers });
      await res.body.dump();
      if (res.statusCode === 200) return;
    } catch {}
    await sleep(50);
  }
  throw new Error(`${url} never answered`);
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat. */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ=100)
}

async function load(url, headers) {
  const result = await autocannon({ url, connections, duration: seconds, headers });
  return { rps: result.requests.average, p99: result.latency.p99, errors: result.errors + result.timeouts, non2xx: result.non2xx, total: result.requests.total };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const backendPort = await freePort();
const children = [];
process.on('exit', () => children.forEach((child) => child.kill('SIGTERM')));
const backend = fork(new URL('./tiny-backend.mjs', import.meta.url), [String(backendPort)], { stdio: 'inherit' });
children.push(backend);
await waitFor(`http://127.0.0.1:${backendPort}/`);

const sim = new MarathonSim();
const marathon = await sim.listen(0, '127.0.0.1');
sim.deployApp({ id: '/bench/app', labels: { BATON_0_VHOST: 'bench.local' } });
sim.startTask('/bench/app', { host: '127.0.0.1', ports: [backendPort] });

const httpPort = await freePort();
const adminPort = await freePort();
const baton = spawn(process.execPath, [`${root}dist/cli.js`, '--marathon', marathon, '--http', `127.0.0.1:${httpPort}`, '--admin', `127.0.0.1:${adminPort}`, '--log-level', 'warn'], { stdio: 'inherit', cwd: root });
children.push(baton);
await waitFor(`http://127.0.0.1:${httpPort}/`, { host: 'bench.local' });

const rows = { direct: [], baton: [] };
const cpu = [];
try {
  for (let round = 1; round <= rounds; round++) {
    rows.direct.push(await load(`http://127.0.0.1:${backendPort}/`, { host: 'bench.local' }));
    const before = cpuSeconds(baton.pid);
    const through = await load(`http://127.0.0.1:${httpPort}/`, { host: 'bench.local' });
    cpu.push(((cpuSeconds(baton.pid) - before) * 1e6) / through.total);
    rows.baton.push(through);
    process.stderr.write(`round ${round}/${rounds}: direct ${rows.direct.at(-1).rps.toFixed(0)} req/s, baton ${through.rps.toFixed(0)} req/s\n`);
  }
} finally {
  baton.kill('SIGTERM');
  backend.kill('SIGTERM');
  await sim.close();
}

const summary = (list) => ({ rps: median(list.map((r) => r.rps)), p99: median(list.map((r) => r.p99)), errors: list.reduce((n, r) => n + r.errors, 0), non2xx: list.reduce((n, r) => n + r.non2xx, 0) });
const direct = summary(rows.direct);
const through = summary(rows.baton);
console.log(`\n${rounds} rounds x ${seconds}s, ${connections} connections, HTTP/1.1 keep-alive, medians`);
console.log('target   req/s     p99 ms  errors  non-2xx  proxy CPU us/req');
console.log(`direct   ${direct.rps.toFixed(0).padStart(7)}  ${String(direct.p99).padStart(7)}  ${String(direct.errors).padStart(6)}  ${String(direct.non2xx).padStart(7)}  -`);
console.log(`baton    ${through.rps.toFixed(0).padStart(7)}  ${String(through.p99).padStart(7)}  ${String(through.errors).padStart(6)}  ${String(through.non2xx).padStart(7)}  ${median(cpu).toFixed(1)}`);
console.log(`baton / direct req/s: ${(through.rps / direct.rps).toFixed(2)}`);
