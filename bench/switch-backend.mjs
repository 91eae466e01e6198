// A backend that dies on command, for bench/breakers.mjs: `node switch-backend.mjs PORT`, a
// keep-alive node:http server answering a small 200. On the IPC message 'refuse' it stops
// listening (new connections are refused) and destroys every open connection (requests on them
// are reset), then answers { refusingAt } with a sub-millisecond wall-clock time.
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';

const body = Buffer.from('hello from the backend\n');
const server = createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length }).end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.argv[2]), '127.0.0.1');
process.on('message', (message) => {
  if (message !== 'refuse') return;
  const refusingAt = performance.timeOrigin + performance.now();
  server.close();
  server.closeAllConnections();
  process.send({ refusingAt });
});
process.on('SIGTERM', () => process.exit(0));
