#!/usr/bin/env node
// What recording costs on the hot path: the same data path (dist/data-path.js, one HTTP route to
// the tiny backend) in three processes: per-route metrics off, on, and on with the access log
// written to a file (every request), under autocannon, interleaved over several rounds; medians,
// CPU us per request and the ratios to `off`. Needs a build. Everything listens on 127.0.0.1 and
// stops by itself. Knobs: BENCH_ROUNDS (3), BENCH_SECONDS (5), BENCH_CONNECTIONS (50), BATON_ROOT.
//
// `node bench/metrics-cost.mjs serve MODE PORT BACKEND_PORT [ACCESS_LOG]` is one of the three
// processes (MODE `on` or `off`).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Children } from './lib/children.mjs';
import { compareKeepAlive } from './lib/keep-alive-compare.mjs';
import { freePorts, waitForHttp } from './lib/net.mjs';
import { importDist } from './lib/root.mjs';

const VHOST = 'bench.local';

/** One data path with a single route to the backend on `backendPort`, as a worker builds it. */
async function serve(mode, port, backendPort, accessLog = 'off') {
  const [{ loadConfig }, { DataPath }, { createMetrics }, { createRoutingTable }, { pino }] = await Promise.all([
    importDist('config/load.js'),
    importDist('data-path.js'),
    importDist('observability/metrics.js'),
    importDist('routing/routing-table.js'),
    import('pino'),
  ]);
  const config = loadConfig(['--marathon', 'http://127.0.0.1:1', '--http', `127.0.0.1:${port}`, '--access-log', accessLog], {}, () => undefined);
  const backend = { address: `127.0.0.1:${backendPort}`, host: '127.0.0.1', port: backendPort, taskId: 'bench.1', appId: '/bench/app', id: 'b1', weight: 1 };
  const route = {
    id: '/bench/app:0',
    appIds: ['/bench/app'],
    hosts: [VHOST],
    path: '/',
    redirectToHttps: false,
    hsts: false,
    backendProtocol: 'http1',
    backends: [backend],
    policy: { balance: 'roundrobin', sticky: false },
    status: [],
    cursor: 0,
  };
  const table = createRoutingTable(1, { routes: [route], portRoutes: [], tlsRoutes: [], disabled: [], certificates: [] });
  const dataPath = new DataPath(config, { current: table }, pino({ level: 'warn' }), createMetrics(), { recordRouteMetrics: mode === 'on' });
  dataPath.onSwap(table);
  await dataPath.listen();
  process.on('SIGTERM', () => void dataPath.close().then(() => process.exit(0)));
}

if (process.argv[2] === 'serve') {
  const [mode, port, backendPort, accessLog] = process.argv.slice(3);
  await serve(mode, Number(port), Number(backendPort), accessLog);
} else {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const seconds = Number(process.env.BENCH_SECONDS ?? 5);
  const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
  const here = fileURLToPath(new URL('.', import.meta.url));
  const children = new Children();
  const tmpDir = mkdtempSync(join(os.tmpdir(), 'baton-bench-'));
  process.on('exit', () => rmSync(tmpDir, { recursive: true, force: true }));

  const [backendPort, offPort, onPort, logPort] = await freePorts(4);
  const backend = children.fork(join(here, 'tiny-backend.mjs'), [String(backendPort)]);
  const script = fileURLToPath(import.meta.url);
  const start = (mode, port, ...rest) => children.fork(script, ['serve', mode, String(port), String(backendPort), ...rest]);
  const processes = { off: start('off', offPort), on: start('on', onPort), 'on+log': start('on', logPort, join(tmpDir, 'access.log')) };
  const peers = {
    off: { pid: processes.off.pid, http: offPort },
    on: { pid: processes.on.pid, http: onPort },
    'on+log': { pid: processes['on+log'].pid, http: logPort },
  };
  await waitForHttp(`http://127.0.0.1:${backendPort}/`);
  for (const peer of Object.values(peers)) await waitForHttp(`http://127.0.0.1:${peer.http}/`, { host: VHOST });

  await compareKeepAlive({
    id: 'metrics-cost',
    title: 'HTTP/1.1 keep-alive, small response: per-route metrics off, on, on + access log (every request, to a file)',
    peers,
    names: ['off', 'on', 'on+log'],
    backendPid: backend.pid,
    vhost: VHOST,
    connections,
    rounds,
    seconds,
  });

  for (const child of Object.values(processes)) await children.stop(child);
  await children.stop(backend);
  process.exit(0);
}
