// baton's HTTP data path alone, for bench/breakers.mjs: `node breaker-proxy.mjs PORT on|off
// BACKEND[,BACKEND...]`. One route (Host bench.local, round robin) over the backends, the
// registry and handlers exactly as DataPath builds them (config defaults: breaker volume 20, 50 %,
// reset 10 s, retries 2). `off` stubs the breakers out: every backend is available and no outcome
// is recorded (in-flight counts and latency stay: the picker needs them). Breaker transitions
// are sent to the parent over IPC with a sub-millisecond wall-clock time; the message 'stats'
// gets the retry and error counters back.
import { Writable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { importDist } from './lib/root.mjs';

const [port, mode, backendList] = process.argv.slice(2);
const { createMetrics } = await importDist('observability/metrics.js');
const { RateLimitedLog } = await importDist('observability/rate-limited-log.js');
const { createHttpHandlers } = await importDist('proxy/http-handlers.js');
const { createPlainHttpEntry } = await importDist('proxy/plain-entry.js');
const { H2cSessions } = await importDist('upstream/h2c-sessions.js');
const { UpstreamRegistry, backendPolicies } = await importDist('upstream/registry.js');
const { BackendBreaker } = await importDist('upstream/breaker.js');

if (mode === 'off') {
  const noop = () => {};
  for (const name of ['answered', 'failed', 'succeeded', 'abandoned']) BackendBreaker.prototype[name] = noop;
  BackendBreaker.prototype.takeProbe = () => false;
  Object.defineProperty(BackendBreaker.prototype, 'available', { get: () => true });
  UpstreamRegistry.prototype.available = () => true;
}

const now = () => performance.timeOrigin + performance.now();
// pino writes each line synchronously: the time taken here is the transition's.
const sink = new Writable({
  write(chunk, _encoding, done) {
    const line = JSON.parse(chunk.toString());
    if (String(line.msg).startsWith('circuit breaker')) process.send?.({ event: line.msg, backend: line.backend, at: now() });
    done();
  },
});
const logger = pino({ level: 'info' }, sink);
const metrics = createMetrics();

const backends = backendList.split(',').map((address, i) => {
  const colon = address.lastIndexOf(':');
  return { address, host: address.slice(0, colon), port: Number(address.slice(colon + 1)), taskId: `t${i}`, appId: '/bench', id: `b${i}`, weight: 1 };
});
const route = {
  id: '/bench:0',
  appIds: ['/bench'],
  hosts: ['bench.local'],
  path: '/',
  redirectToHttps: false,
  hsts: false,
  backendProtocol: 'http1',
  backends,
  policy: { balance: 'roundrobin', sticky: false },
  status: [],
  cursor: 0,
};
const table = {
  version: 1,
  builtAt: Date.now(),
  routes: [route],
  portRoutes: [],
  tlsRoutes: [],
  disabled: [],
  certificates: [],
  lookupHttp: (host) => (host === 'bench.local' ? route : undefined),
  lookupPort: () => undefined,
  lookupTls: () => undefined,
};

const upstreams = new UpstreamRegistry({ logger, metrics });
upstreams.retain(backendPolicies(table));
const handlers = createHttpHandlers({ tables: { current: table }, upstreams, h2cSessions: new H2cSessions(logger), logger, metrics });
const server = createPlainHttpEntry(handlers, {}, { metrics, logger, warnings: new RateLimitedLog(logger) });
server.listen(Number(port), '127.0.0.1');
// 'stats': the retries and error responses so far.
process.on('message', async (message) => {
  if (message !== 'stats') return;
  const values = async (metric) => Object.fromEntries((await metric.get()).values.map((v) => [Object.values(v.labels).join(','), v.value]));
  process.send({ retries: await values(metrics.upstreamRetries), errors: await values(metrics.proxyErrors) });
});
process.on('SIGTERM', () => process.exit(0));
