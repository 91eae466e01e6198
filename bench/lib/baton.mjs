// baton as a child process (`node dist/cli.js`) against a simulator running in this process.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts, waitForHttp } from './net.mjs';
import { batonRoot, importDist } from './root.mjs';
import { deployVhostApp } from './sim-apps.mjs';

/**
 * Starts baton on `httpPort` with its service ports on 127.0.0.1, reading `marathon`; `stateDir`
 * holds its state file. Logs at warn. `nodeArgs` go to node itself (e.g. `--cpu-prof`); `workers`
 * is `--workers` (0: proxying in the one process; unset: baton's default, one per core); `file`
 * holds settings that only the config file takes (e.g. `coalesceMs`), written into `stateDir`;
 * `root` is the checkout whose build runs (default: BATON_ROOT or this one).
 */
export function startBaton(children, { marathon, httpPort, adminPort, stateDir, nodeArgs = [], workers, file, root = batonRoot() }) {
  const config = join(stateDir, 'baton.json');
  if (file !== undefined) writeFileSync(config, JSON.stringify(file));
  const args = [
    ...nodeArgs,
    join(root, 'dist/cli.js'),
    ...(file === undefined ? [] : ['--config', config]),
    '--marathon', marathon,
    '--http', `127.0.0.1:${httpPort}`,
    '--admin', `127.0.0.1:${adminPort}`,
    '--service-bind', '127.0.0.1',
    '--state-file', join(stateDir, 'baton-state.json'),
    '--log-level', 'warn',
    ...(workers === undefined ? [] : ['--workers', String(workers)]),
  ];
  return children.spawn(process.execPath, args, { cwd: root });
}

/**
 * The set-up the quick HTTP benchmarks share: the tiny backend, the simulator deploying one app
 * at `vhost` on it, and baton routing to it, each answering before this resolves. baton proxies
 * in its one process by default (`workers: 0`), so a CPU profile is the proxy's own.
 */
export async function startVhostBench(children, { vhost, stateDir, nodeArgs = [], workers = 0 }) {
  const [backendPort, httpPort, adminPort] = await freePorts(3);
  const backend = children.fork(fileURLToPath(new URL('../tiny-backend.mjs', import.meta.url)), [String(backendPort)]);
  await waitForHttp(`http://127.0.0.1:${backendPort}/`);
  const { MarathonSim } = await importDist('sim/index.js');
  const sim = new MarathonSim();
  const marathon = await sim.listen(0, '127.0.0.1');
  deployVhostApp(sim, { id: '/bench/app', vhost, port: backendPort });
  const baton = startBaton(children, { marathon, httpPort, adminPort, stateDir, nodeArgs, workers });
  await waitForHttp(`http://127.0.0.1:${httpPort}/`, { host: vhost });
  return { backend, backendPort, sim, baton, httpPort };
}
