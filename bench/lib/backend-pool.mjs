// A pool of small HTTP backends in one child process, started and stopped on command over IPC,
// for benchmarks where tasks come and go: `children.fork('bench/lib/backend-pool.mjs')`.
//   { op: 'start', id }      -> { id, port }         a new keep-alive server on 127.0.0.1
//   { op: 'stop', id, port } -> { id }               stops as a task given SIGTERM does: no new
//                                                    connections, requests in flight answered
// Every response carries `x-backend: <port>`; with `stamp` set at start the backend also reports
// the wall-clock time (ms, sub-ms precision) of the first and last request it saw, on stop:
//   { id, first, last, count }
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';

const servers = new Map();
const body = Buffer.from('ok\n');
const now = () => performance.timeOrigin + performance.now();

function start(id) {
  const seen = { first: undefined, last: undefined, count: 0 };
  const server = createServer((req, res) => {
    const t = now();
    seen.first ??= t;
    seen.last = t;
    seen.count++;
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length, 'x-backend': String(server.address().port) }).end(body);
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => {
    servers.set(server.address().port, { server, seen });
    process.send({ id, port: server.address().port });
  });
}

function stop(id, port) {
  const entry = servers.get(port);
  if (entry === undefined) return process.send({ id });
  servers.delete(port);
  entry.server.close(() => process.send({ id, ...entry.seen }));
  // Keep-alive connections with nothing in flight close now; busy ones after their answer.
  entry.server.closeIdleConnections();
  entry.server.on('request', (_req, res) => res.setHeader('connection', 'close'));
}

/** What each backend has seen so far, without stopping it. */
function peek(id, port) {
  process.send({ id, ...(servers.get(port)?.seen ?? {}) });
}

process.on('message', (m) => {
  if (m.op === 'start') start(m.id);
  else if (m.op === 'stop') stop(m.id, m.port);
  else if (m.op === 'peek') peek(m.id, m.port);
});
process.on('SIGTERM', () => process.exit(0));
