import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from './config/load.js';
import { startBaton } from './main.js';
import { createLogger } from './observability/logger.js';
import { MarathonSim } from './sim/index.js';

/**
 * `npm run demo`: baton against the built-in Marathon simulator and a few tiny backends, all on
 * loopback. Ports come from DEMO_HTTP / DEMO_ADMIN (defaults 127.0.0.1:8080 and 127.0.0.1:9090).
 * Every 20 s one task of /shop/web is replaced, so the routing table visibly changes.
 */
async function backend(name: string): Promise<Server> {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`${name} answered ${req.method} ${req.url} (Host: ${req.headers.host})\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

const portOf = (server: Server) => (server.address() as AddressInfo).port;

async function main(): Promise<void> {
  const sim = new MarathonSim();
  const marathonUrl = await sim.listen(0, '127.0.0.1');
  const servers = await Promise.all(['web-1', 'web-2', 'web-3', 'api-1', 'blog-1', 'echo-1'].map(backend));
  const [web1, web2, web3, api1, blog1, echo1] = servers as [Server, Server, Server, Server, Server, Server];

  sim.deployApp({ id: '/shop/web', labels: { BATON_0_VHOST: 'web.example.com' } });
  sim.deployApp({ id: '/shop/api', labels: { 'traefik.frontend.rule': 'Host:api.example.com;PathPrefix:/v1' } });
  sim.deployApp({ id: '/blog', labels: { subdomain: 'blog' } });
  sim.deployApp({ id: '/tools/echo' });
  const webTasks = [web1, web2].map((s) => sim.startTask('/shop/web', { host: '127.0.0.1', ports: [portOf(s)] }));
  sim.startTask('/shop/api', { host: '127.0.0.1', ports: [portOf(api1)] });
  sim.startTask('/blog', { host: '127.0.0.1', ports: [portOf(blog1)] });
  sim.startTask('/tools/echo', { host: '127.0.0.1', ports: [portOf(echo1)] });

  const config = loadConfig(
    ['--marathon', marathonUrl, '--http', process.env.DEMO_HTTP ?? '127.0.0.1:8080', '--admin', process.env.DEMO_ADMIN ?? '127.0.0.1:9090', '--log-level', process.env.BATON_LOG_LEVEL ?? 'warn'],
    {},
    () => undefined,
  );
  const baton = await startBaton(config, createLogger(config.logLevel));
  const http = await baton.http;
  const proxy = `http://127.0.0.1:${http.port}`;
  const admin = `http://127.0.0.1:${baton.admin.port}`;
  process.stdout.write(`
baton demo: a simulated Marathon at ${marathonUrl} with 4 apps; baton proxies on ${proxy}

  curl -H 'Host: web.example.com' ${proxy}/          # /shop/web, BATON_0_VHOST, round robin over 2 tasks
  curl -H 'Host: api.example.com' ${proxy}/v1/users  # /shop/api, traefik.frontend.rule Host + PathPrefix
  curl -H 'Host: blog.example.org' ${proxy}/         # /blog, nixy subdomain "blog" matches blog.*
  curl -H 'Host: echo.tools' ${proxy}/               # /tools/echo, no label: its id reversed
  curl -H 'Host: nope.example.com' ${proxy}/         # 404, x-baton-error: no-route
  curl ${admin}/routes                                # the live routing table
  curl ${admin}/health

Every 20 s one /shop/web task is killed and replaced (watch ${admin}/routes). Ctrl-C stops.
`);

  const spare = [web3, web1, web2];
  let turn = 0;
  const churn = setInterval(() => {
    const victim = webTasks.shift();
    if (victim) sim.killTask(victim);
    const next = spare[turn++ % spare.length]!;
    webTasks.push(sim.startTask('/shop/web', { host: '127.0.0.1', ports: [portOf(next)] }));
  }, 20_000);

  const stop = async () => {
    clearInterval(churn);
    await baton.stop();
    await sim.close();
    for (const s of servers) s.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((err: unknown) => {
  process.stderr.write(`demo: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
