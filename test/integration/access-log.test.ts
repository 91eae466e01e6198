/**
 * The access log of a DataPath written to a file: one JSON line per HTTP/1.1 and h2c request and
 * per TCP tunnel, with the route, backend, status, bytes and error code; never the query string
 * or a credential; sampled, but every error kept; flushed when the DataPath closes.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exchangeTcp, startDataPath, startEcho, stopAll, tableOf } from './metrics-harness.js';
import { h2Connect, h2Request, route, send, startBackend } from './proxy-harness.js';
import { freeTcpPort, portRoute } from './tcp-harness.js';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'baton-access-'));
});
afterEach(async () => {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});

type Line = Record<string, unknown>;

function lines(file: string): Line[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Line);
}

async function echoBackend() {
  return startBackend((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url?.startsWith('/fail')) res.writeHead(502).end('bad');
      else res.end(Buffer.concat(chunks).length > 0 ? Buffer.concat(chunks) : 'hello');
    });
  });
}

describe('access log', () => {
  it('writes a line per HTTP/1.1 request, h2c request and TCP tunnel, without query strings or credentials', async () => {
    const file = join(dir, 'access.log');
    const backend = await echoBackend();
    const echo = await startEcho();
    const tcpPort = await freeTcpPort();
    const tcp = portRoute('tcp', tcpPort, [echo.address]);
    const { dataPath, port } = await startDataPath(tableOf([route('app.test', [backend.address])], [tcp]), { accessLog: file });

    await send(port, {
      method: 'POST',
      path: '/orders/7?api_key=secret-key',
      headers: { host: 'app.test', authorization: 'Bearer secret', cookie: 'session=secret-cookie' },
      body: 'twelve bytes',
    });
    await send(port, { path: '/x?token=secret', headers: { host: 'nobody.test' } });
    const session = h2Connect(port);
    await h2Request(session, { ':authority': 'app.test', ':path': '/h2?password=secret', authorization: 'Bearer secret' });
    expect((await exchangeTcp(tcpPort, Buffer.alloc(100, 1))).length).toBe(100);
    session.close();
    await dataPath.close();
    await echo.close();

    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('secret');
    const all = lines(file);
    const http1 = all.find((l) => l.protocol === 'http/1.1' && l.status === 200);
    expect(http1).toMatchObject({
      log: 'access',
      route: '/app.test:0',
      app: '/app.test',
      backend: backend.address,
      method: 'POST',
      host: 'app.test',
      path: '/orders/7',
      status: 200,
      bytesIn: 12,
      bytesOut: 12,
      client: '127.0.0.1',
    });
    expect(typeof http1?.time).toBe('number');
    expect(http1?.durationMs).toBeGreaterThan(0);
    expect(http1).not.toHaveProperty('error');

    expect(all.find((l) => l.status === 404)).toMatchObject({ protocol: 'http/1.1', host: 'nobody.test', path: '/x', error: 'no-route' });
    expect(all.find((l) => l.protocol === 'h2c')).toMatchObject({ route: '/app.test:0', method: 'GET', path: '/h2', status: 200, bytesOut: 5 });
    expect(all.find((l) => l.protocol === 'tcp')).toMatchObject({ route: tcp.id, backend: echo.address, bytesIn: 100, bytesOut: 100, client: '127.0.0.1' });
    expect(all).toHaveLength(4);
  });

  it('writes a sample of the requests but every 5xx', async () => {
    const file = join(dir, 'sampled.log');
    const backend = await echoBackend();
    const { dataPath, port } = await startDataPath(tableOf([route('app.test', [backend.address])]), { accessLog: file, accessLogSample: 0.01 });

    for (let i = 0; i < 300; i++) {
      await send(port, { headers: { host: 'app.test' } });
      if (i % 15 === 0) await send(port, { path: '/fail', headers: { host: 'app.test' } });
    }
    await dataPath.close();

    const all = lines(file);
    expect(all.filter((l) => l.status === 502)).toHaveLength(20);
    // 1 % of 300 is 3; 60 would be a fifth of them.
    expect(all.filter((l) => l.status === 200).length).toBeLessThan(60);
  });

  it('refuses to start when the access log file cannot be opened', async () => {
    await expect(startDataPath(tableOf([]), { accessLog: join(dir, 'missing', 'access.log') })).rejects.toThrow(/ENOENT/);
  });
});
