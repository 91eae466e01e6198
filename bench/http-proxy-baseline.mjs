// The yardstick the design first named: `http-proxy` with a keep-alive agent, one process.
// `node http-proxy-baseline.mjs PORT BACKEND_PORT VHOST`: proxies requests for VHOST, 404 otherwise.
import http from 'node:http';
import httpProxy from 'http-proxy';

const [port, backendPort, vhost] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: 128 });
const proxy = httpProxy.createProxyServer({ target: `http://127.0.0.1:${backendPort}`, agent });
proxy.on('error', (_err, _req, res) => {
  if (res instanceof http.ServerResponse && !res.headersSent) res.writeHead(502);
  res.end();
});

const server = http.createServer((req, res) => {
  const host = req.headers.host ?? '';
  const colon = host.indexOf(':');
  if ((colon === -1 ? host : host.slice(0, colon)) !== vhost) {
    res.writeHead(404).end();
    return;
  }
  proxy.web(req, res);
});
server.keepAliveTimeout = 60_000;
server.listen(Number(port), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
