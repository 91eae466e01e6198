/**
 * What baton does when Marathon misbehaves: restarts, leader changes, bad input, outages.
 * The rule throughout: keep serving the last good table and say so.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MarathonStandby } from '../../src/sim/index.js';
import { startBackend, type TestBackend } from '../helpers/backends.js';
import { startSystem, type System } from '../helpers/system.js';
import { waitFor } from '../helpers/wait-for.js';

let system: System | undefined;
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  await system?.close();
  system = undefined;
  await Promise.all(closers.splice(0).map((c) => c()));
});

async function backend(name: string): Promise<TestBackend> {
  const b = await startBackend(name);
  closers.push(() => b.close());
  return b;
}

const task = (b: TestBackend) => ({ host: '127.0.0.1', ports: [b.port] });
const fastReconnect = { streamIdleTimeoutMs: 2000 };

describe('Marathon trouble', () => {
  it('re-syncs after a leader restart that resets health, without ever emptying the route', async () => {
    const [a, b] = [await backend('a'), await backend('b')];
    const s = (system = await startSystem({
      file: fastReconnect,
      before: (sim) => {
        sim.deployApp({ id: '/web', healthChecks: 1 });
        sim.startTask('/web', task(a), { healthy: true });
        sim.startTask('/web', task(b), { healthy: true });
      },
    }));
    const syncsBefore = await s.metric('baton_marathon_resyncs_total', { reason: 'connect' });
    // Watch the route continuously while Marathon restarts with every health result unknown.
    let watching = true;
    let smallest = Infinity;
    const watcher = (async () => {
      while (watching) {
        smallest = Math.min(smallest, s.baton.tables.current.routes[0]?.backends.length ?? 0);
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    s.sim.restartLeader({ downMs: 300 });
    await waitFor(async () => (await s.metric('baton_marathon_resyncs_total', { reason: 'connect' })) > syncsBefore, 're-sync after reconnect', 10_000);
    await waitFor(() => s.sim.requests.filter((r) => r.path.startsWith('/v2/apps')).length >= 2, 'snapshot fetched again');
    watching = false;
    await watcher;
    expect(smallest).toBe(2);
    const bodies = new Set<string>();
    for (let i = 0; i < 4; i++) bodies.add((await s.get('web')).body);
    expect(bodies).toEqual(new Set(['a', 'b']));
    const route = (await s.admin('/routes')).json.routes[0];
    expect(route.backends.map((x: { health: string }) => x.health)).toEqual(['unknown', 'unknown']);
  });

  it('follows a standby to the leader, credentials and all', async () => {
    const a = await backend('a');
    const credentials = { user: 'ops', password: 's3cret-pass' };
    let standbyUrl = '';
    const s = (system = await startSystem({
      sim: { credentials },
      env: { BATON_MARATHON_CREDENTIALS: 'ops:s3cret-pass' },
      before: async (sim) => {
        sim.deployApp({ id: '/web' });
        sim.startTask('/web', task(a));
        const standby = new MarathonStandby(sim, { credentials });
        standbyUrl = await standby.listen(0, '127.0.0.1');
        closers.push(() => standby.close());
      },
      marathonUrls: () => [standbyUrl],
    }));
    expect((await s.get('web')).body).toBe('a');
    expect(s.sim.requests.some((r) => r.path.startsWith('/v2/events') && r.headers.authorization?.toString().startsWith('Basic '))).toBe(true);
    expect(JSON.stringify(s.logs)).not.toContain('s3cret-pass');
    expect((await s.admin('/health')).json.marathon.leader).toBe(s.sim.url);
  });

  it('skips a malformed event and a malformed app, counts and logs them, and keeps the rest routed', async () => {
    const [a, b] = [await backend('a'), await backend('b')];
    const s = (system = await startSystem({
      before: (sim) => {
        sim.deployApp({ id: '/good' });
        sim.startTask('/good', task(a));
        sim.injectRawApp({ id: '/broken', instances: 'many', tasks: 'not a list' });
      },
    }));
    expect((await s.get('good')).body).toBe('a');
    expect(await s.metric('baton_marathon_rejected_total', { kind: 'app' })).toBe(1);
    expect(s.logs.filter((l) => JSON.stringify(l).includes('/broken'))).toHaveLength(1);

    s.sim.sendRaw('event: status_update_event\r\ndata: {"taskId": "x", "taskStatus": \r\n\r\n');
    s.sim.emit('status_update_event', { appId: '/good' });
    await waitFor(async () => (await s.metric('baton_marathon_rejected_total', { kind: 'event' })) === 2, 'two rejected events');
    expect(s.logs.filter((l) => l.msg === 'malformed marathon event skipped')).toHaveLength(2);

    s.sim.startTask('/good', task(b));
    await waitFor(async () => (await s.get('good')).body === 'b', 'events still applied after the bad ones');
    expect((await s.admin('/health')).json.marathon.connected).toBe(true);
  });

  it('disables only the route with a bad label and says why in /routes', async () => {
    const [a, b] = [await backend('a'), await backend('b')];
    const s = (system = await startSystem({
      before: (sim) => {
        sim.deployApp({ id: '/bad', labels: { HAPROXY_0_VHOST: 'bad host!' } });
        sim.startTask('/bad', task(a));
        sim.deployApp({ id: '/fine', labels: { HAPROXY_0_VHOST: 'fine.example.com' } });
        sim.startTask('/fine', task(b));
      },
    }));
    expect((await s.get('fine.example.com')).body).toBe('b');
    const routes = (await s.admin('/routes')).json;
    expect(routes.disabled).toEqual([{ appId: '/bad', portIndex: 0, reason: expect.stringContaining('HAPROXY_0_VHOST') }]);
    expect(routes.routes.map((r: { id: string }) => r.id)).toEqual(['/fine:0']);
  });

  it('keeps serving the last table while Marathon is unreachable and says so in /health', async () => {
    const a = await backend('a');
    const s = (system = await startSystem({
      file: fastReconnect,
      before: (sim) => {
        sim.deployApp({ id: '/web' });
        sim.startTask('/web', task(a));
      },
    }));
    await s.sim.close();
    await waitFor(async () => (await s.admin('/health')).json.status === 'stale', '/health reports stale');
    const health = await s.admin('/health');
    expect(health.status).toBe(200);
    expect(health.json.marathon.connected).toBe(false);
    expect(health.json.table.backends).toBe(1);
    expect((await s.get('web')).body).toBe('a');
    const resync = await s.admin('/resync', { method: 'POST' });
    expect(resync.status).toBe(502);
    expect((await s.get('web')).body).toBe('a');
  });

  it('answers the documented errors for an unknown host, no backend and a dead backend', async () => {
    const dead = await backend('dead');
    await dead.close();
    const s = (system = await startSystem({
      before: (sim) => {
        sim.deployApp({ id: '/empty' });
        sim.deployApp({ id: '/dead' });
        sim.startTask('/dead', { host: '127.0.0.1', ports: [dead.port] });
      },
    }));
    expect(await s.get('nowhere.example.com')).toMatchObject({ status: 404, error: 'no-route' });
    expect(await s.get('empty')).toMatchObject({ status: 503, error: 'no-healthy-backend' });
    expect(await s.get('dead')).toMatchObject({ status: 502, error: 'upstream-connect' });
    expect(await s.metric('baton_proxy_errors_total', { code: 'upstream-connect' })).toBe(1);
  });
});
