#!/usr/bin/env node
// Where baton's CPU goes per request: baton runs under `node --cpu-prof` while autocannon drives
// one HTTP/1.1 keep-alive scenario through it; prints baton's CPU per request (from /proc) split
// by area of code and by function (self time), and keeps the .cpuprofile in bench/results/ for
// Chrome DevTools. Knobs: PROFILE_SCENARIO (small | 64k | post; small), BENCH_SECONDS (10),
// BENCH_CONNECTIONS (50), PROFILE_TOP (25), BATON_ROOT.
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startVhostBench } from './lib/baton.mjs';
import { Children } from './lib/children.mjs';
import { treeCpuTimes } from './lib/cpu.mjs';
import { summarizeProfile } from './lib/cpu-profile.mjs';
import { autocannonLoad } from './lib/http-load.mjs';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const top = Number(process.env.PROFILE_TOP ?? 25);
const VHOST = 'bench.local';
const SCENARIOS = {
  small: { path: '/' },
  '64k': { path: '/64k' },
  post: { path: '/', method: 'POST', body: Buffer.alloc(16 * 1024, 0x62), headers: { 'content-type': 'application/octet-stream' } },
};
const name = process.env.PROFILE_SCENARIO ?? 'small';
const scenario = SCENARIOS[name];
if (scenario === undefined) throw new Error(`PROFILE_SCENARIO: one of ${Object.keys(SCENARIOS).join(', ')}`);
const here = fileURLToPath(new URL('.', import.meta.url));

const children = new Children();
const tmpDir = mkdtempSync(join(os.tmpdir(), 'baton-profile-'));
process.on('exit', () => rmSync(tmpDir, { recursive: true, force: true }));
const profileDir = join(tmpDir, 'profile');

const { backend, sim, baton, httpPort } = await startVhostBench(children, { vhost: VHOST, stateDir: tmpDir, nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profileDir], workers: Number(process.env.BENCH_WORKERS ?? 0) });

const load = (s) =>
  autocannonLoad({ url: `http://127.0.0.1:${httpPort}${scenario.path}`, connections, seconds: s, method: scenario.method, body: scenario.body, headers: { host: VHOST, ...scenario.headers } });
await load(1); // warm-up: JIT and pools
const before = treeCpuTimes(baton.pid);
const result = await load(seconds);
const after = treeCpuTimes(baton.pid);
const perRequest = (key) => ((after[key] - before[key]) * 1e6) / result.total;
const cpuUsPerRequest = perRequest('user') + perRequest('system');
await children.stop(baton, 15_000); // the profile is written as baton exits
await children.stop(backend);
await sim.close();

// With BENCH_WORKERS, the primary and each worker write a profile: the largest is the busiest worker's.
const file = readdirSync(profileDir)
  .filter((f) => f.endsWith('.cpuprofile'))
  .sort((a, b) => statSync(join(profileDir, b)).size - statSync(join(profileDir, a)).size)[0];
if (file === undefined) throw new Error('baton wrote no .cpuprofile');
const resultsDir = join(here, 'results');
mkdirSync(resultsDir, { recursive: true });
const kept = join(resultsDir, `profile-${name}-${new Date().toISOString().replace(/:/g, '-').replace(/\..*$/, '')}.cpuprofile`);
copyFileSync(join(profileDir, file), kept);

// The profile covers baton's whole life (start, warm-up, load, stop); the load dominates it.
const { functions, areas } = summarizeProfile(JSON.parse(readFileSync(kept, 'utf8')));
const row = (entry) => `${(entry.share * 100).toFixed(1).padStart(5)} %  ${(entry.share * cpuUsPerRequest).toFixed(2).padStart(6)} us  ${entry.name}`;
console.log(`\nbaton under autocannon -c ${connections}, ${name} (${scenario.method ?? 'GET'} ${scenario.path}), ${seconds} s`);
console.log(`${result.rps.toFixed(0)} req/s, ${cpuUsPerRequest.toFixed(1)} us of baton CPU per request (/proc), ${perRequest('system').toFixed(1)} us of it in the kernel.`);
// V8 samples wall time: a native call such as writev also collects the time baton waited for a
// core after its write woke the reader up, so on a busy machine it looks bigger than its CPU.
console.log("Split by the profile's self time (wall time: system calls include waiting for a core):");
console.log('\nby area');
for (const area of areas.slice(0, top)) console.log(row(area));
console.log('\nby function');
for (const fn of functions.slice(0, top)) console.log(row(fn));
console.log(`\nprofile: ${kept}`);
process.exit(0);
