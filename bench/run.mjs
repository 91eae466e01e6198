#!/usr/bin/env node
// `npm run bench`: baton against nginx, HAProxy, an http-proxy baseline and the backend reached
// directly, every scenario in one run, peers interleaved over several rounds, medians reported.
// Prints a table per scenario and writes bench/results/<date>.json. Peers whose program is missing
// are skipped with a line saying so. Everything listens on 127.0.0.1 and stops by itself.
// The one-worker scenarios run baton --workers 1, nginx worker_processes 1, HAProxy nbthread 1; the
// multi-worker ones (ids multi-*, reported separately) 2 of each.
// Knobs: BENCH_ROUNDS (3), BENCH_SECONDS (5), BENCH_CONNECTIONS (50), BENCH_MB (256, TCP stream),
// BENCH_CONCURRENCY (20, TCP connection rate), BENCH_QUICK=1 (1 round of 2 s, 64 MiB: a smoke run),
// BENCH_SCENARIOS (ids to run, comma-separated, e.g. http1-small,routes-1k; default all),
// BATON_ROOT (the baton build to measure; default this repo).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBaton } from './lib/baton.mjs';
import { Children } from './lib/children.mjs';
import { startHaproxy } from './lib/haproxy.mjs';
import { autocannonLoad, h2loadLoad, wrkLoad } from './lib/http-load.mjs';
import { freePorts, waitForEcho, waitForHttp } from './lib/net.mjs';
import { startNginx } from './lib/nginx.mjs';
import { formatTable, scenarioHeader, summarize } from './lib/report.mjs';
import { batonRoot, importDist } from './lib/root.mjs';
import { runRounds } from './lib/rounds.mjs';
import { deployTcpApp, deployVhostApp } from './lib/sim-apps.mjs';
import { connectionRate, stream } from './lib/tcp-load.mjs';
import { findTool } from './lib/tools.mjs';

const quick = process.env.BENCH_QUICK === '1';
const rounds = Number(process.env.BENCH_ROUNDS ?? (quick ? 1 : 3));
const seconds = Number(process.env.BENCH_SECONDS ?? (quick ? 2 : 5));
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const streamMiB = Number(process.env.BENCH_MB ?? (quick ? 64 : 256));
const tcpClients = Number(process.env.BENCH_CONCURRENCY ?? 20);
const only = process.env.BENCH_SCENARIOS?.split(',').map((id) => id.trim());
/** Each peer's first run of a scenario is preceded by an unrecorded one this long (JIT, pools). */
const WARM_SECONDS = quick ? 0.5 : 2;
const ROUTES = 1000;
const VHOST = 'bench.local';
/** h2load: 10 connections x 5 streams, as many requests in flight as autocannon's 50 connections. */
const H2 = { clients: 10, streams: 5 };

const here = fileURLToPath(new URL('.', import.meta.url));
const log = (line) => process.stderr.write(`${line}\n`);

const loadBefore = os.loadavg();
const children = new Children();
const tmpDir = mkdtempSync(join(os.tmpdir(), 'baton-bench-'));
process.on('exit', () => rmSync(tmpDir, { recursive: true, force: true }));

const INSTALL = { nginx: 'nginx-light', haproxy: 'haproxy', wrk: 'wrk', h2load: 'nghttp2-client' };
const tools = {};
for (const [name, pkg] of Object.entries(INSTALL)) {
  tools[name] = findTool(name);
  if (tools[name] === undefined) log(`${name}: not found (apt-get install ${pkg}); what needs it is skipped`);
}

const [backendPort, sinkPort, echoPort, ...proxyPorts] = await freePorts(26);
const [batonHttp, batonAdmin, batonSink, batonEcho, routesHttp, routesAdmin, nginxHttp, nginxH2, haHttp, haH2, haSink, haEcho, httpProxyPort] = proxyPorts;
const [w2Http, w2Admin, w2Sink, w2Echo, nginx2Http, nginx2H2, ha2Http, ha2H2, ha2Sink, ha2Echo] = proxyPorts.slice(13);
/** Workers (baton), worker processes (nginx) and threads (HAProxy) of the multi-worker peers. */
const MULTI = 2;

const httpBackend = children.fork(join(here, 'tiny-backend.mjs'), [String(backendPort)]);
const tcpBackend = children.fork(join(here, 'tcp-backend.mjs'), [String(sinkPort), String(echoPort)]);

// Two simulators: one route (plus the TCP app's service ports), and 1,000 routes for the lookup cost.
const { MarathonSim } = await importDist('sim/index.js');
const sim = new MarathonSim();
const marathon = await sim.listen(0, '127.0.0.1');
deployVhostApp(sim, { id: '/bench/app', vhost: VHOST, port: backendPort });
deployTcpApp(sim, { id: '/bench/tcp', servicePorts: [batonSink, batonEcho], ports: [sinkPort, echoPort] });

// baton --workers 2 has its own simulator: its TCP app needs service ports of its own.
const multiSim = new MarathonSim();
const multiMarathon = await multiSim.listen(0, '127.0.0.1');
deployVhostApp(multiSim, { id: '/bench/app', vhost: VHOST, port: backendPort });
deployTcpApp(multiSim, { id: '/bench/tcp', servicePorts: [w2Sink, w2Echo], ports: [sinkPort, echoPort] });

const routesSim = new MarathonSim();
const routesMarathon = await routesSim.listen(0, '127.0.0.1');
const routeHosts = Array.from({ length: ROUTES }, (_, i) => `app-${String(i).padStart(4, '0')}.${VHOST}`);
// Every route reaches the same backend, so only the lookup differs from the one-route baton.
routeHosts.forEach((host, i) => deployVhostApp(routesSim, { id: `/bench/routes/app-${String(i).padStart(4, '0')}`, vhost: host, port: backendPort }));

/** Every peer: the process tree whose CPU is counted, and the ports of what it serves. */
const peers = {
  direct: { pid: null, http: backendPort, tcp: { sink: sinkPort, echo: echoPort } },
};
const configs = {};
const batonChild = startBaton(children, { marathon, httpPort: batonHttp, adminPort: batonAdmin, stateDir: tmpDir, workers: 1 });
peers.baton = { pid: batonChild.pid, child: batonChild, http: batonHttp, h2: batonHttp, tcp: { sink: batonSink, echo: batonEcho } };
const routesStateDir = join(tmpDir, 'routes');
mkdirSync(routesStateDir);
const routesChild = startBaton(children, { marathon: routesMarathon, httpPort: routesHttp, adminPort: routesAdmin, stateDir: routesStateDir, workers: 1 });
peers['baton-1k'] = { pid: routesChild.pid, child: routesChild, http: routesHttp };
const multiStateDir = join(tmpDir, 'multi');
mkdirSync(multiStateDir);
const multiChild = startBaton(children, { marathon: multiMarathon, httpPort: w2Http, adminPort: w2Admin, stateDir: multiStateDir, workers: MULTI });
peers[`baton-w${MULTI}`] = { pid: multiChild.pid, child: multiChild, http: w2Http, tcp: { sink: w2Sink, echo: w2Echo } };
if (tools.nginx) {
  const { child, config } = startNginx(children, tools.nginx, { dir: tmpDir, httpPort: nginxHttp, h2Port: nginxH2, backendPort, vhost: VHOST });
  peers.nginx = { pid: child.pid, child, http: nginxHttp, h2: nginxH2 };
  configs.nginx = config;
  const multiDir = join(tmpDir, `nginx-w${MULTI}`);
  mkdirSync(multiDir);
  const multi = startNginx(children, tools.nginx, { dir: multiDir, httpPort: nginx2Http, h2Port: nginx2H2, backendPort, vhost: VHOST, workers: MULTI });
  peers[`nginx-w${MULTI}`] = { pid: multi.child.pid, child: multi.child, http: nginx2Http };
  configs[`nginx-w${MULTI}`] = multi.config;
}
if (tools.haproxy) {
  const tcp = [
    { port: haSink, target: sinkPort },
    { port: haEcho, target: echoPort },
  ];
  const { child, config } = startHaproxy(children, tools.haproxy, { dir: tmpDir, httpPort: haHttp, h2Port: haH2, backendPort, vhost: VHOST, tcp });
  peers.haproxy = { pid: child.pid, child, http: haHttp, h2: haH2, tcp: { sink: haSink, echo: haEcho } };
  configs.haproxy = config;
  const multiDir = join(tmpDir, `haproxy-t${MULTI}`);
  mkdirSync(multiDir);
  const multiTcp = [
    { port: ha2Sink, target: sinkPort },
    { port: ha2Echo, target: echoPort },
  ];
  const multi = startHaproxy(children, tools.haproxy, { dir: multiDir, httpPort: ha2Http, h2Port: ha2H2, backendPort, vhost: VHOST, tcp: multiTcp, threads: MULTI });
  peers[`haproxy-t${MULTI}`] = { pid: multi.child.pid, child: multi.child, http: ha2Http, tcp: { sink: ha2Sink, echo: ha2Echo } };
  configs[`haproxy-t${MULTI}`] = multi.config;
}
const httpProxyChild = children.fork(join(here, 'http-proxy-baseline.mjs'), [String(httpProxyPort), String(backendPort), VHOST]);
peers['http-proxy'] = { pid: httpProxyChild.pid, child: httpProxyChild, http: httpProxyPort };

// A peer that does not come up is dropped with a line; the others still run.
const readiness = {
  direct: [() => waitForHttp(`http://127.0.0.1:${backendPort}/`, { host: VHOST }), () => waitForEcho(echoPort)],
  'baton-1k': [routeHosts[0], routeHosts.at(-1)].map((host) => () => waitForHttp(`http://127.0.0.1:${routesHttp}/`, { host })),
};
for (const [name, peer] of Object.entries(peers)) {
  const checks = readiness[name] ?? [() => waitForHttp(`http://127.0.0.1:${peer.http}/`, { host: VHOST }), ...(peer.tcp ? [() => waitForEcho(peer.tcp.echo)] : [])];
  try {
    for (const check of checks) await check();
  } catch (err) {
    if (name === 'direct') throw err;
    log(`${name}: did not come up (${err.message}); skipped`);
    if (peer.child) await children.stop(peer.child);
    delete peers[name];
  }
}

const url = (port, path = '/') => `http://127.0.0.1:${port}${path}`;
const postBody = Buffer.alloc(16 * 1024, 0x62);
const sameHost = Array.from({ length: ROUTES }, () => ({ method: 'GET', path: '/', headers: { host: VHOST } }));
const spreadHosts = routeHosts.map((host) => ({ method: 'GET', path: '/', headers: { host } }));
const HTTP1_PEERS = ['direct', 'baton', 'nginx', 'haproxy', 'http-proxy'];
const HTTP_UNITS = { rateLabel: 'req/s', cpuLabel: 'CPU us/req', backendPid: httpBackend.pid };

const scenarios = [
  {
    id: 'http1-small',
    title: 'HTTP/1.1 keep-alive, small response',
    how: `autocannon -c ${connections}`,
    peers: HTTP1_PEERS,
    refs: ['nginx', 'direct'],
    ...HTTP_UNITS,
    run: (peer, s) => autocannonLoad({ url: url(peer.http), connections, seconds: s, headers: { host: VHOST } }),
  },
  {
    id: 'http1-64k',
    title: 'HTTP/1.1 keep-alive, 64 KiB response',
    how: `autocannon -c ${connections}`,
    peers: HTTP1_PEERS,
    refs: ['nginx', 'direct'],
    ...HTTP_UNITS,
    run: (peer, s) => autocannonLoad({ url: url(peer.http, '/64k'), connections, seconds: s, headers: { host: VHOST } }),
  },
  {
    id: 'http1-post-16k',
    title: 'HTTP/1.1 keep-alive, POST with a 16 KiB body',
    how: `autocannon -c ${connections}`,
    peers: HTTP1_PEERS,
    refs: ['nginx', 'direct'],
    ...HTTP_UNITS,
    run: (peer, s) =>
      autocannonLoad({ url: url(peer.http), connections, seconds: s, method: 'POST', body: postBody, headers: { host: VHOST, 'content-type': 'application/octet-stream' } }),
  },
  {
    id: 'http1-new-connection',
    title: 'HTTP/1.1, a new connection per request',
    how: `wrk -t1 -c${connections} with "Connection: close" (non-2xx: responses >= 400)`,
    needs: 'wrk',
    peers: HTTP1_PEERS,
    refs: ['nginx', 'direct'],
    ...HTTP_UNITS,
    run: (peer, s) => wrkLoad({ wrk: tools.wrk, tmpDir, url: url(peer.http), connections, seconds: s, headers: { Host: VHOST, Connection: 'close' } }),
  },
  {
    id: 'http2',
    title: 'HTTP/2 front (h2c, prior knowledge), HTTP/1.1 to the backend',
    how: `h2load -c${H2.clients} -m${H2.streams}; the backend speaks HTTP/1.1 only, so no direct row`,
    needs: 'h2load',
    peers: ['baton', 'nginx', 'haproxy'],
    refs: ['nginx'],
    ...HTTP_UNITS,
    run: (peer, s) => h2loadLoad({ h2load: tools.h2load, tmpDir, url: url(peer.h2), ...H2, seconds: s, authority: VHOST }),
  },
  {
    id: 'tcp-stream',
    title: `TCP stream: ${streamMiB} MiB over one connection`,
    how: 'one client writing 1 MiB chunks with backpressure to a sink that confirms the byte count',
    sized: true,
    peers: ['direct', 'baton', 'haproxy'],
    refs: ['haproxy', 'direct'],
    rateLabel: 'MiB/s',
    cpuLabel: 'CPU us/MiB',
    backendPid: tcpBackend.pid,
    run: async (peer) => ({ total: streamMiB, rps: await stream(peer.tcp.sink, streamMiB), p50: null, p99: null, errors: 0, non2xx: null }),
    warm: (peer) => stream(peer.tcp.sink, Math.max(8, streamMiB / 8)),
  },
  {
    id: 'tcp-connect',
    title: 'TCP connection rate: connect, 4 bytes each way, close',
    how: `${tcpClients} clients in this process, latency = one whole connection`,
    peers: ['direct', 'baton', 'haproxy'],
    refs: ['haproxy', 'direct'],
    rateLabel: 'conn/s',
    cpuLabel: 'CPU us/conn',
    backendPid: tcpBackend.pid,
    run: (peer, s) => connectionRate({ port: peer.tcp.echo, seconds: s, maxConns: 200_000, concurrency: tcpClients }),
  },
  {
    id: 'routes-1k',
    title: `${ROUTES.toLocaleString('en')} routes in baton's table vs 1 (lookup cost)`,
    how: `autocannon -c ${connections}, requests cycling over ${ROUTES} hosts (baton-1k) or ${ROUTES} times the one host (baton); one backend behind all`,
    peers: ['baton', 'baton-1k'],
    refs: ['baton'],
    // baton-1k has served nothing before this scenario: a longer warm-up for its JIT.
    warmSeconds: quick ? 3 : 5,
    ...HTTP_UNITS,
    run: (peer, s) => autocannonLoad({ url: url(peer.http), connections, seconds: s, requests: peer === peers.baton ? sameHost : spreadHosts }),
  },
  {
    id: 'multi-http1-small',
    title: `Multi-worker: HTTP/1.1 keep-alive, small response, ${MULTI} workers each (baton --workers ${MULTI}, nginx worker_processes ${MULTI}, HAProxy nbthread ${MULTI})`,
    how: `autocannon -c ${connections}; on this ${os.cpus().length}-core machine the load generator and the backend share the cores with the proxy`,
    peers: ['direct', `baton-w${MULTI}`, `nginx-w${MULTI}`, `haproxy-t${MULTI}`],
    refs: [`nginx-w${MULTI}`, 'direct'],
    ...HTTP_UNITS,
    run: (peer, s) => autocannonLoad({ url: url(peer.http), connections, seconds: s, headers: { host: VHOST } }),
  },
  {
    id: 'multi-tcp-stream',
    title: `Multi-worker: TCP stream, ${streamMiB} MiB over one connection, ${MULTI} workers each (baton --workers ${MULTI}, HAProxy nbthread ${MULTI})`,
    how: `one client writing 1 MiB chunks with backpressure to a sink; on this ${os.cpus().length}-core machine the load generator and the backend share the cores with the proxy`,
    sized: true,
    peers: ['direct', `baton-w${MULTI}`, `haproxy-t${MULTI}`],
    refs: [`haproxy-t${MULTI}`, 'direct'],
    rateLabel: 'MiB/s',
    cpuLabel: 'CPU us/MiB',
    backendPid: tcpBackend.pid,
    run: async (peer) => ({ total: streamMiB, rps: await stream(peer.tcp.sink, streamMiB), p50: null, p99: null, errors: 0, non2xx: null }),
    warm: (peer) => stream(peer.tcp.sink, Math.max(8, streamMiB / 8)),
  },
];

const unknown = only?.filter((id) => !scenarios.some((scenario) => scenario.id === id)) ?? [];
if (unknown.length > 0) throw new Error(`BENCH_SCENARIOS: no scenario ${unknown.join(', ')}; there are ${scenarios.map(({ id }) => id).join(', ')}`);

// A safety net far above any normal run (twice the planned time, plus slack per run): the bench
// never hangs a terminal or a CI box.
const plannedSeconds = scenarios.reduce((sum, { peers: names }) => sum + names.length * (rounds * (seconds + 5) + 10), 0);
const budgetMs = (2 * plannedSeconds + 120) * 1000;
setTimeout(() => {
  log(`bench: still running after ${Math.round(budgetMs / 1000)} s, giving up`);
  process.exit(1);
}, budgetMs).unref();

const results = [];
let multiAnnounced = false;
for (const scenario of scenarios.filter(({ id }) => only === undefined || only.includes(id))) {
  if (scenario.id.startsWith('multi-') && !multiAnnounced) {
    multiAnnounced = true;
    console.log(`\n=== Multi-worker figures, reported apart from the one-worker tables above: on this ${os.cpus().length}-core machine the load generator and the backend share the cores with the proxy's workers ===`);
  }
  const header = scenarioHeader(scenario, rounds, seconds);
  if (scenario.needs && !tools[scenario.needs]) {
    console.log(`${header}\nskipped: ${scenario.needs} is not installed (apt-get install ${INSTALL[scenario.needs]})`);
    results.push({ id: scenario.id, title: scenario.title, skipped: `${scenario.needs} not installed` });
    continue;
  }
  const names = scenario.peers.filter((name) => peers[name] !== undefined);
  const absent = scenario.peers.filter((name) => peers[name] === undefined);
  const runs = await runRounds({ scenario, peers, names, rounds, seconds, warmSeconds: scenario.warmSeconds ?? WARM_SECONDS, log });
  const summaries = summarize(runs, scenario.refs);
  const missing = absent.length > 0 ? `\n(not in this run: ${absent.join(', ')})` : '';
  console.log(`${header}\n${formatTable(scenario, summaries, scenario.refs)}${missing}`);
  results.push({ id: scenario.id, title: scenario.title, how: scenario.how, rateUnit: scenario.rateLabel, cpuUnit: scenario.cpuLabel, peers: names, absent, runs, summaries });
}

/** First line of a program's version output (some print it on stderr). */
function version(path, args) {
  if (path === undefined) return null;
  const out = spawnSync(path, args, { encoding: 'utf8', timeout: 5000 });
  return `${out.stdout ?? ''}${out.stderr ?? ''}`.split('\n').find((line) => /\d/.test(line))?.trim() ?? null;
}

const resultsDir = join(here, 'results');
mkdirSync(resultsDir, { recursive: true });
const file = join(resultsDir, `${new Date().toISOString().replace(/:/g, '-').replace(/\..*$/, '')}.json`);
const report = {
  date: new Date().toISOString(),
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, kernel: os.release(), node: process.version, loadAverage: { before: loadBefore, after: os.loadavg() } },
  batonRoot: batonRoot(),
  settings: { quick, rounds, seconds, connections, streamMiB, tcpClients, warmSeconds: WARM_SECONDS, routes: ROUTES, h2: H2, batonWorkers: 1, multiWorkers: MULTI },
  versions: {
    nginx: version(tools.nginx, ['-v']),
    haproxy: version(tools.haproxy, ['-v']),
    wrk: version(tools.wrk, ['-v']),
    h2load: version(tools.h2load, ['--version']),
  },
  configs,
  scenarios: results,
};
writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
console.log(`\nwritten: ${file}`);

// baton first, so it does not log the simulators going away.
await Promise.all([peers.baton, peers['baton-1k'], peers[`baton-w${MULTI}`]].filter(Boolean).map((peer) => children.stop(peer.child)));
await Promise.all(Object.values(peers).map((peer) => peer.child && children.stop(peer.child)));
await Promise.all([children.stop(httpBackend), children.stop(tcpBackend)]);
await Promise.all([sim.close(), routesSim.close(), multiSim.close()]);
process.exit(0);
