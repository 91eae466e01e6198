// The quick two-way benches' one scenario: HTTP/1.1 keep-alive, small response, autocannon -c N
// against each peer in turn, rounds interleaved, medians printed as one table against `baseline`.
import { autocannonLoad } from './http-load.mjs';
import { formatTable, scenarioHeader, summarize } from './report.mjs';
import { runRounds } from './rounds.mjs';

/** `peers`: name -> { pid, http }; the first name of `names` is the baseline. Resolves with the runs. */
export async function compareKeepAlive({ id, title, peers, names, backendPid, vhost, connections, rounds, seconds }) {
  const scenario = {
    id,
    title,
    how: `autocannon -c ${connections}`,
    rateLabel: 'req/s',
    cpuLabel: 'CPU us/req',
    backendPid,
    run: (peer, s) => autocannonLoad({ url: `http://127.0.0.1:${peer.http}/`, connections, seconds: s, headers: { host: vhost } }),
  };
  const log = (line) => process.stderr.write(`${line}\n`);
  const runs = await runRounds({ scenario, peers, names, rounds, seconds, warmSeconds: 1, log });
  const baseline = [names[0]];
  console.log(`${scenarioHeader(scenario, rounds, seconds)}\n${formatTable(scenario, summarize(runs, baseline), baseline)}`);
  return runs;
}
