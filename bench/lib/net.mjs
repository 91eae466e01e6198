// Ports and readiness checks shared by the benchmarks. Everything is on 127.0.0.1.
import { connect, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';

/** `n` distinct ports free right now (all held open together, so no two are the same). */
export async function freePorts(n) {
  const servers = [];
  for (let i = 0; i < n; i++) {
    const server = createServer();
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
  }
  const ports = servers.map((server) => server.address().port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** Polls `url` until it answers 200 (10 s at most). */
export async function waitForHttp(url, headers) {
  for (let i = 0; i < 200; i++) {
    try {
      const res = await request(url, { headers });
      await res.body.dump();
      if (res.statusCode === 200) return;
    } catch {}
    await sleep(50);
  }
  throw new Error(`${url} (host ${headers?.host ?? '-'}) never answered 200`);
}

/** One echo round trip on a fresh connection; rejects on error, close or a wrong answer. */
export function ping(port) {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    socket.on('data', (data) => {
      got += data;
      if (got.length < 4) return;
      socket.destroy();
      if (got === 'ping') resolve();
      else reject(new Error(`echo answered ${JSON.stringify(got)}`));
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error('closed before the echo')));
    socket.write('ping');
  });
}

/** Polls until something echoes on `port` (15 s at most). */
export async function waitForEcho(port) {
  for (let i = 0; i < 300; i++) {
    try {
      return await ping(port);
    } catch {}
    await sleep(50);
  }
  throw new Error(`nothing echoes on port ${port}`);
}
