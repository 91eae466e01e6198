// baton as a child process (`node dist/cli.js`) against a simulator running in this process.
import { join } from 'node:path';
import { batonRoot } from './root.mjs';

/**
 * Starts baton on `httpPort` with its service ports on 127.0.0.1, reading `marathon`; `stateDir`
 * holds its state file. Logs at warn. `nodeArgs` go to node itself (e.g. `--cpu-prof`).
 */
export function startBaton(children, { marathon, httpPort, adminPort, stateDir, nodeArgs = [] }) {
  const root = batonRoot();
  const args = [
    ...nodeArgs,
    join(root, 'dist/cli.js'),
    '--marathon', marathon,
    '--http', `127.0.0.1:${httpPort}`,
    '--admin', `127.0.0.1:${adminPort}`,
    '--service-bind', '127.0.0.1',
    '--state-file', join(stateDir, 'baton-state.json'),
    '--log-level', 'warn',
  ];
  return children.spawn(process.execPath, args, { cwd: root });
}
