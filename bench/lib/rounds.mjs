// The measuring loop every benchmark shares: peers interleaved, several rounds, CPU per unit.
import { cpuSeconds, treeCpuTimes } from './cpu.mjs';

/**
 * One recorded run: `scenario.run(peer, seconds)`'s result ({ total, rps, p50, p99, errors,
 * non2xx }) plus the CPU microseconds per unit (request, connection, MiB) that the peer used
 * (every process of it; none for `pid: null`), the part of it spent in the kernel, and the CPU
 * the scenario's backend used per unit.
 */
export async function measure(scenario, peer, seconds) {
  const proxyBefore = peer.pid === null ? null : treeCpuTimes(peer.pid);
  const backendBefore = cpuSeconds(scenario.backendPid);
  const result = await scenario.run(peer, seconds);
  const perUnit = (cpu) => (result.total > 0 ? (cpu * 1e6) / result.total : null);
  const proxyAfter = peer.pid === null ? null : treeCpuTimes(peer.pid);
  const used = (key) => (proxyBefore === null ? null : perUnit(proxyAfter[key] - proxyBefore[key]));
  const system = used('system');
  return {
    ...result,
    cpuUs: system === null ? null : used('user') + system,
    cpuSysUs: system,
    backendCpuUs: perUnit(cpuSeconds(scenario.backendPid) - backendBefore),
  };
}

/**
 * Runs `scenario` for each of `names` (keys of `peers`) `rounds` times, rotating the order each
 * round so no peer always follows the same one. Before its first recorded run a peer gets an
 * unrecorded one of `warmSeconds` (`scenario.warm` if given). A failed run is recorded as
 * { failed } and the others go on. Returns { name: [run, ...] }.
 */
export async function runRounds({ scenario, peers, names, rounds, seconds, warmSeconds, log }) {
  const runs = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const name of names.map((_, i) => names[(i + round) % names.length])) {
      const peer = peers[name];
      const label = `${scenario.id} round ${round + 1}/${rounds} ${name}`;
      try {
        if (round === 0) await (scenario.warm ?? scenario.run)(peer, warmSeconds);
        const run = await measure(scenario, peer, seconds);
        runs[name].push(run);
        log(`${label}: ${run.rps.toFixed(0)} ${scenario.rateLabel}, ${scenario.cpuLabel} ${run.cpuUs?.toFixed(1) ?? '-'}`);
      } catch (err) {
        runs[name].push({ failed: err.message });
        log(`${label}: failed: ${err.message}`);
      }
    }
  }
  return runs;
}
