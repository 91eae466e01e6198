// The backend every HTTP benchmark proxies to: a keep-alive node:http server on 127.0.0.1.
// `node tiny-backend.mjs PORT`. GET /64k answers 64 KiB; any POST is read to its end and answered
// like GET /; everything else gets a small response.
import { createServer } from 'node:http';

const small = Buffer.from('hello from the backend\n');
const large = Buffer.alloc(64 * 1024, 0x61);

function answer(res, body) {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length }).end(body);
}

const server = createServer((req, res) => {
  if (req.method === 'POST') {
    req.on('end', () => answer(res, small));
    req.resume();
    return;
  }
  req.resume();
  answer(res, req.url === '/64k' ? large : small);
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.argv[2]), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
