import { afterEach, describe, expect, it } from 'vitest';
import { startBackend, type TestBackend } from '../helpers/backends.js';
import { startSystem, type System } from '../helpers/system.js';
import { waitFor } from '../helpers/wait-for.js';

let system: System | undefined;
let backend: TestBackend | undefined;

afterEach(async () => {
  await system?.close();
  await backend?.close();
  system = undefined;
});

const TOKEN = 'a-long-enough-admin-token';

async function start(): Promise<System> {
  backend = await startBackend('a');
  const port = backend.port;
  return (system = await startSystem({
    env: { BATON_ADMIN_TOKEN: TOKEN },
    before: (sim) => {
      sim.deployApp({ id: '/web', labels: { BATON_0_VHOST: 'web.example.com,*.web.example.com' } });
      sim.startTask('/web', { host: '127.0.0.1', ports: [port] });
    },
  }));
}

describe('admin API', () => {
  it('GET /health reports Marathon, the table and the cluster', async () => {
    const s = await start();
    const { status, json } = await s.admin('/health');
    expect(status).toBe(200);
    expect(json).toMatchObject({
      status: 'ok',
      marathon: { connected: true, url: s.sim.url, reconnects: 0 },
      table: { version: 1, routes: 1, backends: 1, disabled: 0 },
      cluster: { apps: 1, tasks: 1 },
    });
    expect(json.table.ageMs).toBeGreaterThanOrEqual(0);
  });

  it('GET /routes shows every route with its policy, backends, health and live breaker state', async () => {
    const s = await start();
    expect((await s.get('web.example.com')).status).toBe(200);
    const { json } = await s.admin('/routes');
    expect(json.routes).toEqual([
      {
        id: '/web:0',
        apps: ['/web'],
        hosts: ['*.web.example.com', 'web.example.com'],
        path: '/',
        policy: { balance: 'roundrobin', sticky: false },
        routable: 1,
        backends: [
          {
            address: `127.0.0.1:${backend!.port}`,
            taskId: expect.stringMatching(/^web\.instance-/),
            appId: '/web',
            health: 'no-checks',
            routable: true,
            weight: 1,
            live: { breaker: 'closed', inFlight: 0, latencyMs: expect.any(Number) },
          },
        ],
      },
    ]);
    expect(json.disabled).toEqual([]);
  });

  it('GET /swaps lists the table swaps newest first, with the routes each one added and removed', async () => {
    const s = await start();
    s.sim.deployApp({ id: '/api', labels: { BATON_0_VHOST: 'api.example.com' } });
    s.sim.startTask('/api', { host: '127.0.0.1', ports: [backend!.port] });
    await waitFor(async () => (await s.admin('/swaps')).json.swaps.length === 2, 'the swap for /api');
    s.sim.removeApp('/web');
    const { status, json } = await waitFor(async () => {
      const res = await s.admin('/swaps');
      return res.json.swaps.length === 3 ? res : undefined;
    }, 'the swap without /web');
    expect(status).toBe(200);
    const at = expect.any(Number);
    const buildMs = expect.any(Number);
    expect(json.swaps).toEqual([
      { version: 3, at, buildMs, routes: 1, backends: 1, disabled: 0, added: [], removed: ['/web:0'] },
      { version: 2, at, buildMs, routes: 2, backends: 2, disabled: 0, added: ['/api:0'], removed: [] },
      { version: 1, at, buildMs, routes: 1, backends: 1, disabled: 0, added: ['/web:0'], removed: [] },
    ]);
    expect(json.swaps[0].at).toBeGreaterThanOrEqual(json.swaps[1].at);
  });

  it('POST /resync needs the bearer token when one is set, and re-syncs with it', async () => {
    const s = await start();
    const snapshots = () => s.sim.requests.filter((r) => r.path.startsWith('/v2/apps?')).length;
    const before = snapshots();
    expect((await s.admin('/resync', { method: 'POST' })).status).toBe(401);
    expect((await s.admin('/resync', { method: 'POST', headers: { authorization: 'Bearer wrong-token-of-same-size!' } })).status).toBe(401);
    expect(snapshots()).toBe(before);
    const ok = await s.admin('/resync', { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok).toMatchObject({ status: 200, json: { resynced: true } });
    expect(snapshots()).toBe(before + 1);
  });

  it('answers 404 for unknown paths and 405 with Allow for wrong methods', async () => {
    const s = await start();
    expect(await s.admin('/nope')).toMatchObject({ status: 404, json: { endpoints: ['/', '/health', '/routes', '/swaps', '/metrics', '/resync', '/maintenance', '/maintenance/{id}'] } });
    const res = await fetch(`${s.adminUrl}/resync`);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });

  it('GET /metrics serves Prometheus text with the Marathon and proxy counters', async () => {
    const s = await start();
    await s.get('nowhere');
    const res = await fetch(`${s.adminUrl}/metrics`);
    const text = await res.text();
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(text).toContain('baton_marathon_stream_connected 1');
    expect(text).toContain('baton_proxy_errors_total{code="no-route"} 1');
    expect(text).toMatch(/baton_table_version 1/);
  });

  it('GET /health turns 503 "draining" while baton stops, and the request in flight still completes', async () => {
    let release: () => void = () => {};
    backend = await startBackend('slow', (req, res) => {
      req.resume();
      res.write('part ');
      release = () => res.end('end');
    });
    const port = backend.port;
    const s = (system = await startSystem({
      file: { shutdownGraceMs: 10_000 },
      before: (sim) => {
        sim.deployApp({ id: '/slow' });
        sim.startTask('/slow', { host: '127.0.0.1', ports: [port] });
      },
    }));
    const pending = s.get('slow');
    await waitFor(() => backend!.requests.length === 1, 'request at the backend');
    const stopped = s.baton.stop();
    const health = await waitFor(async () => {
      const res = await s.admin('/health');
      return res.status === 503 ? res : undefined;
    }, 'health 503 while draining');
    expect(health.json.status).toBe('draining');
    release();
    expect(await pending).toMatchObject({ status: 200, body: 'part end' });
    await stopped;
    system = undefined;
    await s.sim.close();
  });
});

