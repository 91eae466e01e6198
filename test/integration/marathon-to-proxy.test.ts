/**
 * End to end: the Marathon simulator's events reach baton's table and change where real
 * requests go, without waiting for a re-fetch.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startBackend, type TestBackend } from '../helpers/backends.js';
import { startSystem, type System } from '../helpers/system.js';
import { waitFor } from '../helpers/wait-for.js';

let system: System | undefined;
const backends: TestBackend[] = [];

afterEach(async () => {
  await system?.close();
  system = undefined;
  await Promise.all(backends.splice(0).map((b) => b.close()));
});

async function backend(name: string): Promise<TestBackend> {
  const b = await startBackend(name);
  backends.push(b);
  return b;
}

const task = (b: TestBackend) => ({ host: '127.0.0.1', ports: [b.port] });

describe('Marathon events drive the proxy', () => {
  it('routes a new task of a known app within 100 ms of its event', async () => {
    const [a, b] = [await backend('a'), await backend('b')];
    const s = (system = await startSystem({ before: (sim) => sim.deployApp({ id: '/shop/web', labels: { BATON_0_VHOST: 'web.example.com' } }) }));
    s.sim.startTask('/shop/web', task(a));
    await waitFor(async () => (await s.get('web.example.com')).body === 'a', 'first task routable');

    const eventAt = performance.now();
    s.sim.startTask('/shop/web', task(b));
    await waitFor(async () => (await s.get('web.example.com')).body === 'b', 'second task routable', 5000, 1);
    expect(performance.now() - eventAt).toBeLessThan(100);
  });

  it('routes a freshly deployed app within 100 ms of its task event', async () => {
    const a = await backend('a');
    const s = (system = await startSystem());
    s.sim.deployApp({ id: '/fresh' });
    const eventAt = performance.now();
    s.sim.startTask('/fresh', task(a));
    await waitFor(async () => (await s.get('fresh')).body === 'a', 'fresh app routable', 5000, 1);
    expect(performance.now() - eventAt).toBeLessThan(100);
  });

  it('sends a killed task no request once its TASK_KILLING event is in', async () => {
    const [a, b] = [await backend('a'), await backend('b')];
    let victim = '';
    const s = (system = await startSystem({
      before: (sim) => {
        sim.deployApp({ id: '/web' });
        victim = sim.startTask('/web', task(a));
        sim.startTask('/web', task(b));
      },
    }));
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) seen.add((await s.get('web')).body);
    expect(seen).toEqual(new Set(['a', 'b']));

    const before = s.baton.tables.current.version;
    s.sim.killTask(victim);
    // The table changes in the same turn the event is handled: wait for that, then no request may reach a.
    await waitFor(() => s.baton.tables.current.version > before, 'table swap after the kill', 5000, 1);
    const hitsBefore = a.requests.length;
    const bodies = [];
    for (let i = 0; i < 40; i++) bodies.push((await s.get('web')).body);
    expect(new Set(bodies)).toEqual(new Set(['b']));
    expect(a.requests.length).toBe(hitsBefore);
  });

  it('takes a task out when its health check fails and back when it passes', async () => {
    const [a, b] = [await backend('a'), await backend('b')];
    let sick = '';
    const s = (system = await startSystem({
      before: (sim) => {
        sim.deployApp({ id: '/api', healthChecks: 1 });
        sick = sim.startTask('/api', task(a), { healthy: true });
        sim.startTask('/api', task(b), { healthy: true });
      },
    }));
    expect(s.baton.tables.current.routes[0]?.backends).toHaveLength(2);
    s.sim.setHealth(sick, false);
    await waitFor(() => s.baton.tables.current.routes[0]?.backends.length === 1, 'unhealthy task removed');
    const bodies = new Set<string>();
    for (let i = 0; i < 10; i++) bodies.add((await s.get('api')).body);
    expect(bodies).toEqual(new Set(['b']));
    const routes = await s.admin('/routes');
    expect(routes.json.routes[0].backends.find((x: { address: string }) => x.address.endsWith(`:${a.port}`))).toMatchObject({
      health: 'unhealthy',
      routable: false,
      why: 'failing health checks',
    });
    s.sim.setHealth(sick, true);
    await waitFor(() => s.baton.tables.current.routes[0]?.backends.length === 2, 'healthy again');
  });

  it('keeps a task unknown to health checks out until its first passing result', async () => {
    const a = await backend('a');
    const s = (system = await startSystem({ before: (sim) => sim.deployApp({ id: '/api', healthChecks: 1 }) }));
    const id = s.sim.startTask('/api', task(a));
    await waitFor(() => s.baton.tables.current.routes[0]?.status.length === 1, 'task known');
    expect(await s.get('api')).toMatchObject({ status: 503, error: 'no-healthy-backend' });
    s.sim.setHealth(id, true);
    await waitFor(async () => (await s.get('api')).body === 'a', 'routable after passing');
  });

  it('removes an app on app_terminated_event and answers 404 for its host', async () => {
    const a = await backend('a');
    const s = (system = await startSystem({
      before: (sim) => {
        sim.deployApp({ id: '/gone' });
        sim.startTask('/gone', task(a));
      },
    }));
    expect((await s.get('gone')).body).toBe('a');
    s.sim.removeApp('/gone');
    await waitFor(async () => (await s.get('gone')).status === 404, 'route removed');
    expect(await s.get('gone')).toMatchObject({ status: 404, error: 'no-route', body: 'no route for host "gone"\n' });
  });

  it('applies a label change from api_post_event by re-fetching the app', async () => {
    const a = await backend('a');
    const s = (system = await startSystem({
      before: (sim) => {
        sim.deployApp({ id: '/site', labels: { BATON_0_VHOST: 'old.example.com' } });
        sim.startTask('/site', task(a));
      },
    }));
    expect((await s.get('old.example.com')).body).toBe('a');
    s.sim.updateApp('/site', { labels: { BATON_0_VHOST: 'new.example.com' } });
    await waitFor(async () => (await s.get('new.example.com')).body === 'a', 'new host routed');
    expect((await s.get('old.example.com')).status).toBe(404);
  });

  it('holds back tasks that are not ready while a deployment with readiness checks runs', async () => {
    const [a, b] = [await backend('a'), await backend('b')];
    const s = (system = await startSystem({
      before: (sim) => {
        sim.deployApp({ id: '/rolling', readinessChecks: 1 });
        sim.startTask('/rolling', task(a), { ready: true });
      },
    }));
    const late = s.sim.startTask('/rolling', task(b), { ready: false });
    await waitFor(() => s.baton.tables.current.routes[0]?.status.length === 2, 'second task known');
    const bodies = new Set<string>();
    for (let i = 0; i < 6; i++) bodies.add((await s.get('rolling')).body);
    expect(bodies).toEqual(new Set(['a']));
    s.sim.setReady(late, true);
    await waitFor(() => s.baton.tables.current.routes[0]?.backends.length === 2, 'ready task routed');
  });
});
