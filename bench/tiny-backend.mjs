// The backend every benchmark proxies to: a keep-alive node:http server with a small response.
import { createServer } from 'node:http';

const body = Buffer.from('hello from the backend\n');
const server = createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length }).end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.argv[2]), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
