#!/usr/bin/env node
// Circuit breakers under load. Needs a build; everything listens on 127.0.0.1 and stops by itself.
//
// 1. Cost: baton's HTTP data path (bench/breaker-proxy.mjs) with breakers on and off, autocannon
//    against each in turn over several rounds (interleaved), one tiny backend; medians, and
//    baton's CPU per request.
// 2. Cost per request in-process, below the noise of (1): what the registry does for one request
//    (pick check, in flight, outcome, latency) with breakers on and stubbed out, and, for
//    comparison, one opossum `fire()` per request (with the promise the proxy would have to settle).
// 3. Failover: two backends, load through baton (breakers on, config defaults: volume 20,
//    retries 2); one backend stops listening and resets its connections mid-run. Reported per
//    round: the time from that moment until its breaker opened (from then on the picker no longer
//    offers it), and the requests the clients saw fail.
//
// Knobs: BENCH_ROUNDS (5), BENCH_SECONDS (5), BENCH_CONNECTIONS (50), FAILOVER_ROUNDS (5),
// FAILOVER_SECONDS (4), BATON_ROOT.
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Children } from './lib/children.mjs';
import { autocannonLoad } from './lib/http-load.mjs';
import { freePorts, waitForHttp } from './lib/net.mjs';
import { formatTable, scenarioHeader, summarize } from './lib/report.mjs';
import { importDist } from './lib/root.mjs';
import { runRounds } from './lib/rounds.mjs';
import { median } from './lib/stats.mjs';

const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const failoverRounds = Number(process.env.FAILOVER_ROUNDS ?? 5);
const failoverSeconds = Number(process.env.FAILOVER_SECONDS ?? 4);
const VHOST = 'bench.local';
const here = fileURLToPath(new URL('.', import.meta.url));
const log = (line) => process.stderr.write(`${line}\n`);
const children = new Children();

function proxy(port, mode, backends) {
  return children.fork(join(here, 'breaker-proxy.mjs'), [String(port), mode, backends.map((p) => `127.0.0.1:${p}`).join(',')]);
}

async function request(child, message) {
  const reply = once(child, 'message');
  child.send(message);
  return (await reply)[0];
}

// 1. Cost.
{
  const [backendPort, onPort, offPort] = await freePorts(3);
  const backend = children.fork(join(here, 'tiny-backend.mjs'), [String(backendPort)]);
  await waitForHttp(`http://127.0.0.1:${backendPort}/`);
  const on = proxy(onPort, 'on', [backendPort]);
  const off = proxy(offPort, 'off', [backendPort]);
  await waitForHttp(`http://127.0.0.1:${onPort}/`, { host: VHOST });
  await waitForHttp(`http://127.0.0.1:${offPort}/`, { host: VHOST });
  const scenario = {
    id: 'breakers-cost',
    title: 'HTTP/1.1 keep-alive, small response, breakers on vs off',
    how: `autocannon -c ${connections}, one backend`,
    rateLabel: 'req/s',
    cpuLabel: 'CPU us/req',
    backendPid: backend.pid,
    run: (peer, s) => autocannonLoad({ url: `http://127.0.0.1:${peer.http}/`, connections, seconds: s, headers: { host: VHOST } }),
  };
  const peers = { off: { pid: off.pid, http: offPort }, on: { pid: on.pid, http: onPort } };
  const runs = await runRounds({ scenario, peers, names: ['off', 'on'], rounds, seconds, warmSeconds: 2, log });
  console.log(`${scenarioHeader(scenario, rounds, seconds)}\n${formatTable(scenario, summarize(runs, ['off']), ['off'])}\n`);
  await Promise.all([children.stop(on), children.stop(off), children.stop(backend)]);
}

// 2. Cost per request, in-process.
{
  const { createMetrics } = await importDist('observability/metrics.js');
  const { UpstreamRegistry } = await importDist('upstream/registry.js');
  const { BackendBreaker } = await importDist('upstream/breaker.js');
  const { default: CircuitBreaker } = await import('opossum');
  const N = 1_000_000;
  const nsPer = (start) => Number(process.hrtime.bigint() - start) / N;
  const registry = new UpstreamRegistry({ logger: pino({ level: 'silent' }), metrics: createMetrics() });
  const backend = { address: '127.0.0.1:1' };
  // What UpstreamExchange asks of the registry for one request, without the network.
  const accounting = () => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < N; i++) {
      registry.available(backend);
      const state = registry.backend(backend.address);
      const probe = state.begin();
      const t = performance.now();
      state.breaker.answered(200, probe);
      state.sample(performance.now() - t);
      state.end();
    }
    return nsPer(start);
  };
  const viaFire = async () => {
    const breaker = new CircuitBreaker((outcome) => outcome, { timeout: false, rollingPercentilesEnabled: false, enableSnapshots: false });
    const start = process.hrtime.bigint();
    for (let i = 0; i < N; i += 100) {
      const calls = [];
      for (let j = 0; j < 100; j++) {
        let settle;
        const outcome = new Promise((resolve) => (settle = resolve));
        calls.push(breaker.fire(outcome));
        settle();
      }
      await Promise.all(calls);
    }
    const ns = nsPer(start);
    breaker.shutdown();
    return ns;
  };
  const on = [];
  const fire = [];
  for (let round = 0; round < 5; round++) {
    on.push(accounting());
    fire.push(await viaFire());
  }
  const descriptors = {};
  for (const name of ['answered', 'failed', 'succeeded', 'abandoned', 'takeProbe']) descriptors[name] = Object.getOwnPropertyDescriptor(BackendBreaker.prototype, name);
  descriptors.available = Object.getOwnPropertyDescriptor(BackendBreaker.prototype, 'available');
  for (const name of ['answered', 'failed', 'succeeded', 'abandoned']) BackendBreaker.prototype[name] = () => {};
  BackendBreaker.prototype.takeProbe = () => false;
  Object.defineProperty(BackendBreaker.prototype, 'available', { get: () => true, configurable: true });
  const off = [];
  for (let round = 0; round < 5; round++) off.push(accounting());
  Object.defineProperties(BackendBreaker.prototype, descriptors);
  await registry.close();
  console.log('## cost per request in-process (1M requests x 5 rounds, medians)');
  console.log(`registry accounting, breakers on:  ${median(on).toFixed(0)} ns`);
  console.log(`registry accounting, breakers off: ${median(off).toFixed(0)} ns`);
  console.log(`opossum fire() per request:        ${median(fire).toFixed(0)} ns (instead of the outcome-driven breaker)\n`);
}

// 3. Failover.
{
  const results = [];
  for (let round = 1; round <= failoverRounds; round++) {
    const [aPort, bPort, proxyPort] = await freePorts(3);
    const a = children.fork(join(here, 'switch-backend.mjs'), [String(aPort)]);
    const b = children.fork(join(here, 'switch-backend.mjs'), [String(bPort)]);
    await waitForHttp(`http://127.0.0.1:${aPort}/`);
    await waitForHttp(`http://127.0.0.1:${bPort}/`);
    const baton = proxy(proxyPort, 'on', [aPort, bPort]);
    await waitForHttp(`http://127.0.0.1:${proxyPort}/`, { host: VHOST });
    const opened = new Promise((resolve) => {
      baton.on('message', (m) => {
        if (m.event === 'circuit breaker opened' && m.backend === `127.0.0.1:${bPort}`) resolve(m.at);
      });
    });
    const load = autocannonLoad({ url: `http://127.0.0.1:${proxyPort}/`, connections, seconds: failoverSeconds, headers: { host: VHOST } });
    await sleep((failoverSeconds * 1000) / 3);
    const { refusingAt } = await request(b, 'refuse');
    const openedAt = await Promise.race([opened, sleep(failoverSeconds * 1000, null)]);
    const result = await load;
    const stats = await request(baton, 'stats');
    const failed = result.non2xx + result.errors;
    const moveMs = openedAt === null ? null : openedAt - refusingAt;
    results.push({ moveMs, failed, total: result.total, stats });
    log(
      `failover round ${round}/${failoverRounds}: breaker open ${moveMs === null ? 'never' : `${moveMs.toFixed(1)} ms`} after the backend died; ` +
        `${failed} of ${result.total} requests failed; retries ${JSON.stringify(stats.retries)}, errors ${JSON.stringify(stats.errors)}`,
    );
    await Promise.all([children.stop(baton), children.stop(a), children.stop(b)]);
  }
  const moves = results.map((r) => r.moveMs).filter((m) => m !== null);
  const failed = results.reduce((n, r) => n + r.failed, 0);
  const total = results.reduce((n, r) => n + r.total, 0);
  console.log(`## failover: a backend stops listening and resets its connections under load (autocannon -c ${connections}, ${failoverRounds} rounds x ${failoverSeconds} s)`);
  console.log('round  breaker open after (ms)  failed/total');
  results.forEach((r, i) => console.log(`${String(i + 1).padStart(5)}  ${(r.moveMs === null ? 'never' : r.moveMs.toFixed(1)).padStart(23)}  ${r.failed}/${r.total}`));
  console.log(
    `median ${median(moves)?.toFixed(1) ?? '-'} ms, max ${moves.length ? Math.max(...moves).toFixed(1) : '-'} ms; ` +
      `failed ${failed} of ${total} (${total ? ((100 * failed) / total).toFixed(4) : '-'} %)`,
  );
}
process.exit(0);
