import { afterEach, describe, expect, it } from 'vitest';
import { MarathonSim } from '../../../src/sim/index.js';

// Response bodies are read loosely: the assertions check their shape.
type Json = Record<string, any>;

describe('MarathonSim REST API', () => {
  let sim: MarathonSim;

  afterEach(async () => {
    await sim.close();
  });

  async function start(opts: ConstructorParameters<typeof MarathonSim>[0] = {}): Promise<void> {
    sim = new MarathonSim(opts);
    await sim.listen();
  }

  async function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Json }> {
    const res = await fetch(sim.url + path, { headers });
    return { status: res.status, body: (await res.json()) as Json };
  }

  const FULL = '/v2/apps?embed=apps.tasks&embed=apps.readiness';

  it('lists host-networked apps in the 1.8+ shape with tasks, health and readiness', async () => {
    await start();
    sim.deployApp({
      id: '/shop/web',
      labels: { 'traefik.enable': 'true' },
      portDefinitions: [{ name: 'http' }],
      healthChecks: 1,
      readinessChecks: 1,
    });
    const healthy = sim.startTask('/shop/web', { host: 'agent-1.example.com', ports: [31001], ipAddress: '10.0.1.11', zone: 'a', region: 'r' }, { healthy: true });
    const starting = sim.startTask('/shop/web', { host: 'agent-2.example.com', ports: [31002] }, { ready: false });

    const { status, body } = await get(FULL);
    expect(status).toBe(200);
    expect(body.apps).toHaveLength(1);
    const app = body.apps[0];
    expect(app).toMatchObject({
      id: '/shop/web',
      labels: { 'traefik.enable': 'true' },
      networks: [{ mode: 'host' }],
      portDefinitions: [{ port: 10000, protocol: 'tcp', name: 'http', labels: {} }],
      healthChecks: [{ protocol: 'HTTP', portIndex: 0, path: '/health' }],
      readinessChecks: [{ name: 'readinessCheck', portName: 'http' }],
      version: expect.any(String),
      tasksRunning: 2,
      tasksHealthy: 1,
      tasksUnhealthy: 0,
      deployments: [{ id: expect.any(String) }],
      readinessCheckResults: [{ name: 'readinessCheck', taskId: starting, ready: false }],
    });
    expect(app).not.toHaveProperty('container');
    expect(healthy).toMatch(/^shop_web\.instance-[0-9a-f-]{36}\._app\.1$/);
    const [first, second] = app.tasks;
    expect(first).toMatchObject({
      appId: '/shop/web',
      id: healthy,
      host: 'agent-1.example.com',
      ports: [31001],
      servicePorts: [10000],
      ipAddresses: [{ ipAddress: '10.0.1.11', protocol: 'IPv4' }],
      state: 'TASK_RUNNING',
      slaveId: expect.any(String),
      startedAt: expect.any(String),
      stagedAt: expect.any(String),
      version: app.version,
      zone: 'a',
      region: 'r',
      healthCheckResults: [
        { alive: true, consecutiveFailures: 0, instanceId: healthy.replace(/\._app\.1$/, ''), lastSuccess: expect.any(String) },
      ],
    });
    expect(first.healthCheckResults[0]).not.toHaveProperty('lastFailure');
    expect(second).toMatchObject({ id: starting, healthCheckResults: [], ipAddresses: [] });
    expect(second).not.toHaveProperty('zone');

    const late = sim.startTask('/shop/web', { host: 'agent-3.example.com', ports: [31003] }, { ready: false });
    sim.setReady(starting, true);
    const halfway = (await get(FULL)).body.apps[0];
    expect(halfway.deployments).toEqual(app.deployments);
    expect(halfway.readinessCheckResults).toEqual([
      { name: 'readinessCheck', taskId: starting, ready: true },
      { name: 'readinessCheck', taskId: late, ready: false },
    ]);

    sim.setReady(late, true);
    const done = (await get(FULL)).body.apps[0];
    expect(done.deployments).toEqual([]);
    expect(done.readinessCheckResults).toEqual([]);
  });

  it('omits tasks and readinessCheckResults unless embedded', async () => {
    await start();
    sim.deployApp({ id: '/web', readinessChecks: 1 });
    sim.startTask('/web', { host: '127.0.0.1', ports: [31000] });
    const bare = (await get('/v2/apps')).body.apps[0];
    expect(bare).not.toHaveProperty('tasks');
    expect(bare).not.toHaveProperty('readinessCheckResults');
    expect(bare).toMatchObject({ tasksRunning: 1, deployments: [] });
    const tasksOnly = (await get('/v2/apps?embed=apps.tasks')).body.apps[0];
    expect(tasksOnly.tasks).toHaveLength(1);
    expect(tasksOnly).not.toHaveProperty('readinessCheckResults');
  });

  it('publishes container.portMappings for bridge and container networking', async () => {
    await start();
    sim.deployApp({ id: '/bridge', network: 'bridge', containerPorts: [80, 443], portDefinitions: [{ name: 'http' }, { port: 10443 }] });
    sim.deployApp({ id: '/overlay', network: 'container', containerPorts: [8080] });
    sim.startTask('/overlay', { host: 'agent-3', ports: [], ipAddress: '9.0.0.7' });
    const [bridge, overlay] = (await get('/v2/apps?embed=apps.tasks')).body.apps;

    expect(bridge).not.toHaveProperty('portDefinitions');
    expect(bridge.networks).toEqual([{ mode: 'container/bridge' }]);
    expect(bridge.container.type).toBe('DOCKER');
    expect(bridge.container.portMappings).toEqual([
      { containerPort: 80, hostPort: 0, labels: {}, name: 'http', protocol: 'tcp', servicePort: 10000 },
      { containerPort: 443, hostPort: 0, labels: {}, protocol: 'tcp', servicePort: 10443 },
    ]);
    expect(overlay.networks).toEqual([{ mode: 'container', name: 'dcos' }]);
    expect(overlay.container.portMappings).toEqual([{ containerPort: 8080, labels: {}, protocol: 'tcp', servicePort: 10001 }]);
    expect(overlay.tasks[0]).toMatchObject({ ipAddresses: [{ ipAddress: '9.0.0.7', protocol: 'IPv4' }], ports: [], servicePorts: [10001] });
  });

  it('keeps auto-assigned service ports across updateApp and applies the new labels', async () => {
    await start();
    sim.deployApp({ id: '/a' });
    sim.deployApp({ id: '/b', labels: { x: '1' } });
    const taskId = sim.startTask('/b', { host: '127.0.0.1', ports: [31000] });
    sim.updateApp('/b', { labels: { x: '2' } });
    const { body } = await get('/v2/apps/b');
    expect(body.app.labels).toEqual({ x: '2' });
    expect(body.app.portDefinitions[0].port).toBe(10001);
    expect(body.app.tasks.map((t: Json) => t.id)).toEqual([taskId]);
  });

  it('filters apps by label selector', async () => {
    await start();
    sim.deployApp({ id: '/a', labels: { HAPROXY_GROUP: 'external' } });
    sim.deployApp({ id: '/b', labels: { HAPROXY_GROUP: 'internal' } });
    sim.deployApp({ id: '/c' });
    const ids = async (selector: string): Promise<string[]> =>
      (await get(`/v2/apps?label=${encodeURIComponent(selector)}`)).body.apps.map((a: Json) => a.id);
    expect(await ids('HAPROXY_GROUP==external')).toEqual(['/a']);
    expect(await ids('HAPROXY_GROUP!=external')).toEqual(['/b', '/c']);
    expect(await ids('HAPROXY_GROUP')).toEqual(['/a', '/b']);
  });

  it('shows one app by an id with slashes, tasks and readiness embedded, or 404s', async () => {
    await start();
    sim.deployApp({ id: '/shop/web', readinessChecks: 1 });
    const taskId = sim.startTask('/shop/web', { host: '127.0.0.1', ports: [31000] }, { ready: false });
    const found = await get('/v2/apps/shop/web');
    expect(found.status).toBe(200);
    expect(found.body.app).toMatchObject({
      id: '/shop/web',
      tasks: [{ id: taskId }],
      readinessCheckResults: [{ taskId, ready: false }],
    });
    const missing = await get('/v2/apps/shop/nope');
    expect(missing).toEqual({ status: 404, body: { message: "App '/shop/nope' does not exist" } });
  });

  it('appends injected raw apps to the list as given', async () => {
    await start();
    sim.deployApp({ id: '/ok' });
    sim.injectRawApp({ id: 42, tasks: 'nope' });
    const { body } = await get('/v2/apps?embed=apps.tasks');
    expect(body.apps.map((a: Json) => a.id)).toEqual(['/ok', 42]);
    expect(body.apps[1]).toEqual({ id: 42, tasks: 'nope' });
  });

  it('names itself on /v2/leader and 404s unknown paths with JSON', async () => {
    await start();
    expect(await get('/v2/leader')).toEqual({ status: 200, body: { leader: sim.url.replace('http://', '') } });
    const unknown = await get('/v2/nothing');
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toEqual(expect.any(String));
  });

  it('removes an app: its tasks are killed and it 404s', async () => {
    await start();
    sim.deployApp({ id: '/web' });
    sim.startTask('/web', { host: '127.0.0.1', ports: [1] });
    sim.removeApp('/web');
    expect(sim.tasks('/web')).toEqual([]);
    expect((await get('/v2/apps/web')).status).toBe(404);
    expect((await get('/v2/apps')).body.apps).toEqual([]);
  });

  it('logs every request with its query and headers', async () => {
    await start();
    await get('/v2/apps?embed=apps.tasks', { 'X-Probe': 'yes' });
    expect(sim.requests).toHaveLength(1);
    expect(sim.requests[0]).toMatchObject({ method: 'GET', path: '/v2/apps?embed=apps.tasks', headers: { 'x-probe': 'yes' } });
  });

  describe('credentials', () => {
    it('answers 401 on every endpoint without valid Basic credentials', async () => {
      await start({ credentials: { user: 'ops', password: 's3cret' } });
      const good = `Basic ${Buffer.from('ops:s3cret').toString('base64')}`;
      const bad = `Basic ${Buffer.from('ops:wrong').toString('base64')}`;
      for (const path of ['/v2/apps', '/v2/apps/x', '/v2/leader', '/v2/events', '/nowhere']) {
        expect((await fetch(sim.url + path)).status, path).toBe(401);
        expect((await fetch(sim.url + path, { headers: { Authorization: bad } })).status, path).toBe(401);
      }
      expect((await get('/v2/apps', { Authorization: good })).status).toBe(200);
    });

    it('accepts the DC/OS token header and nothing else', async () => {
      await start({ credentials: { token: 'jwt.abc' } });
      expect((await get('/v2/apps', { Authorization: 'token=jwt.abc' })).status).toBe(200);
      expect((await get('/v2/apps', { Authorization: 'token=other' })).status).toBe(401);
      expect((await get('/v2/apps', { Authorization: 'Bearer jwt.abc' })).status).toBe(401);
    });
  });
});
