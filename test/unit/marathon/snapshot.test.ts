import { describe, expect, it } from 'vitest';
import { parseApp, parseApps } from '../../../src/marathon/snapshot.js';
import type { AppSnapshot } from '../../../src/state/model.js';
import { fixture } from './fixture.js';

function byId(apps: readonly AppSnapshot[], id: string): AppSnapshot {
  const found = apps.find((a) => a.app.id === id);
  if (!found) throw new Error(`no app ${id} in ${apps.map((a) => a.app.id).join(', ')}`);
  return found;
}

describe('parseApps: Marathon 1.8+ embed=apps.tasks&embed=apps.readiness', () => {
  const { apps, rejected } = parseApps(fixture('apps-marathon-1.8plus.json'));

  it('keeps every app', () => {
    expect(rejected).toEqual([]);
    expect(apps.map((a) => a.app.id)).toEqual(['/shop/web', '/shop/api']);
  });

  it('reads a host-networking app: portDefinitions, labels, checks, deployments', () => {
    const { app } = byId(apps, '/shop/web');
    expect(app).toEqual({
      id: '/shop/web',
      version: '2019-05-01T10:00:00.000Z',
      labels: {
        'traefik.enable': 'true',
        'traefik.frontend.rule': 'Host:web.example.com',
        'traefik.backend.circuitbreaker.expression': 'NetworkErrorRatio() > 0.5',
      },
      ports: [{ index: 0, servicePort: 10000, protocol: 'tcp', name: 'http', labels: {} }],
      ipPerTask: false,
      healthChecks: 1,
      readinessChecks: 1,
      deployments: ['97c136bf-5a28-4821-9d94-480d9fbb01c8'],
    });
  });

  it('reads tasks with health results, readiness by task id and instance keys', () => {
    const { tasks } = byId(apps, '/shop/web');
    expect(tasks[0]).toEqual({
      id: 'shop_web.instance-1a2b3c4d-6bf0-11e9-a4a2-0242ac110002._app.1',
      instanceKey: 'shop_web.instance-1a2b3c4d-6bf0-11e9-a4a2-0242ac110002',
      appId: '/shop/web',
      host: 'agent-1.example.com',
      ports: [31001],
      ipAddresses: ['10.0.1.11'],
      state: 'TASK_RUNNING',
      version: '2019-05-01T09:00:50.000Z',
      slaveId: 'e0c42bd1-1f7d-4b4c-8b1a-4c1a1d1a1d1a-S1',
      startedAt: '2019-05-01T09:01:00.000Z',
      healthResults: [true],
    });
    expect(tasks[0]?.ready).toBeUndefined();
    expect(tasks[1]?.ready).toBe(false);
    expect(tasks[1]?.healthResults).toEqual([]);
  });

  it('reads container.portMappings of a bridge app (1.5+) and does not call it IP-per-task', () => {
    const { app, tasks } = byId(apps, '/shop/api');
    expect(app.ports).toEqual([{ index: 0, servicePort: 10001, containerPort: 80, protocol: 'tcp', name: 'http', labels: {} }]);
    expect(app.ipPerTask).toBe(false);
    expect(app.healthChecks).toBe(0);
    expect(tasks.map((t) => t.ports)).toEqual([[31005]]);
  });
});

describe('parseApps: older shapes', () => {
  const { apps, rejected } = parseApps(fixture('apps-older-shapes.json'));

  it('keeps every app', () => {
    expect(rejected).toEqual([]);
    expect(apps).toHaveLength(6);
  });

  it('pre-1.5 docker BRIDGE: container.docker.portMappings win over portDefinitions; no healthCheckResults = []', () => {
    const { app, tasks } = byId(apps, '/legacy/bridge');
    expect(app.ports).toEqual([
      { index: 0, servicePort: 10020, containerPort: 80, protocol: 'tcp', name: 'web', labels: { VIP_0: '1.2.3.4:80' } },
      { index: 1, servicePort: 10021, containerPort: 53, protocol: 'udp,tcp', labels: {} },
    ]);
    expect(app.ipPerTask).toBe(false);
    expect(app.labels).toEqual({ HAPROXY_GROUP: 'external', HAPROXY_0_VHOST: 'bridge.example.com' });
    expect(tasks[0]?.healthResults).toEqual([]);
    expect(tasks[0]?.ports).toEqual([31100, 31101]);
    expect(tasks[0]?.instanceKey).toBe('legacy_bridge.4b5d8c0e-d72f-11e6-9f0a-0242ac110002');
  });

  it('pre-1.5 ipAddress without docker network is IP-per-task and dials the discovery ports', () => {
    const { app, tasks } = byId(apps, '/legacy/ip-per-task');
    expect(app.ipPerTask).toBe(true);
    expect(app.ports).toEqual([{ index: 0, containerPort: 8080, protocol: 'tcp', name: 'http', labels: {} }]);
    expect(tasks[0]?.ipAddresses).toEqual(['9.0.1.5']);
    expect(tasks[0]?.ports).toEqual([]);
  });

  it('pre-1.5 docker USER network with ipAddress is IP-per-task', () => {
    const { app } = byId(apps, '/legacy/user-network');
    expect(app.ipPerTask).toBe(true);
    expect(app.ports).toEqual([{ index: 0, containerPort: 8443, protocol: 'tcp', name: 'https', labels: {} }]);
  });

  it('1.5+ networks [{mode: container}] is IP-per-task; non-string labels are dropped, not rejected', () => {
    const { app, tasks } = byId(apps, '/modern/container-net');
    expect(app.ipPerTask).toBe(true);
    expect(app.labels).toEqual({ 'traefik.enable': 'true' });
    expect(app.ports).toEqual([{ index: 0, containerPort: 9000, protocol: 'tcp', name: 'api', labels: { VIP_0: '/api:9000' } }]);
    expect(tasks[0]).toMatchObject({ region: 'eu-west', zone: 'eu-west-1a' });
  });

  it('a reserved task has no ports, no version, no startedAt', () => {
    const { tasks } = byId(apps, '/stateful/db');
    expect(tasks).toEqual([
      {
        id: 'stateful_db.9f8e7d6c-fe6a-11e6-9f0a-0242ac110002',
        instanceKey: 'stateful_db.9f8e7d6c-fe6a-11e6-9f0a-0242ac110002',
        appId: '/stateful/db',
        host: 'agent-2.example.com',
        ports: [],
        ipAddresses: [],
        state: 'TASK_RESERVED',
        healthResults: [],
      },
    ]);
  });

  it('tasks without state: started = TASK_RUNNING, else TASK_STAGING; null health entries are skipped; ports[] gives service ports', () => {
    const { app, tasks } = byId(apps, '/ancient/app');
    expect(app.ports).toEqual([{ index: 0, servicePort: 10040, protocol: 'tcp', labels: {} }]);
    expect(app.healthChecks).toBe(2);
    expect(app.version).toBe('2015-03-01T09:00:00.000Z');
    expect(tasks.map((t) => t.state)).toEqual(['TASK_RUNNING', 'TASK_STAGING']);
    expect(tasks[0]?.healthResults).toEqual([true]);
  });

  it('reads the RAML app list (pre-1.5 ports[], null fields, no tasks)', () => {
    const list = parseApps(fixture('apps-raml-app-list-pre-1.5.json'));
    expect(list.rejected).toEqual([]);
    const [only] = list.apps;
    expect(only?.app.ports.map((p) => p.servicePort)).toEqual([10013, 10015]);
    expect(only?.app.deployments).toEqual(['9538079c-3898-4e32-aa31-799bf9097f74']);
    expect(only?.tasks).toEqual([]);
  });

  it('reads the RAML app definition: docker BRIDGE port mappings, not the ipAddress block', () => {
    const list = parseApps({ apps: [fixture('app-definition-raml-docker-bridge.json')] });
    expect(list.rejected).toEqual([]);
    const app = list.apps[0]?.app;
    expect(app?.ipPerTask).toBe(false);
    expect(app?.ports).toEqual([
      { index: 0, servicePort: 10019, containerPort: 80, protocol: 'tcp', name: 'http', labels: { vip: '192.168.0.1:80' } },
    ]);
    expect(app?.readinessChecks).toBe(1);
  });
});

describe('parseApps: malformed input', () => {
  it('rejects one malformed app with a reason naming the field and keeps the others', () => {
    const body = fixture('apps-marathon-1.8plus.json') as { apps: unknown[] };
    const broken = structuredClone(body.apps[0]) as { id: string; tasks: { host: unknown }[] };
    broken.id = '/shop/broken';
    broken.tasks[1]!.host = 42;
    const { apps, rejected } = parseApps({ apps: [body.apps[0], broken, body.apps[1]] });
    expect(apps.map((a) => a.app.id)).toEqual(['/shop/web', '/shop/api']);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]?.appId).toBe('/shop/broken');
    expect(rejected[0]?.reason).toMatch(/^tasks\.1\.host: /);
  });

  it('rejects an app without id and one with a wrong-typed port, naming the field', () => {
    const { apps, rejected } = parseApps({
      apps: [{ cmd: 'sleep 1' }, { id: '/x', portDefinitions: [{ port: 'eighty' }] }, { id: '/ok' }],
    });
    expect(apps.map((a) => a.app.id)).toEqual(['/ok']);
    expect(rejected[0]).toEqual({ reason: expect.stringMatching(/^id: /) });
    expect(rejected[1]).toEqual({ appId: '/x', reason: expect.stringMatching(/^portDefinitions\.0\.port: /) });
  });

  it('a minimal app gets empty defaults', () => {
    const { apps } = parseApps({ apps: [{ id: '/bare' }] });
    expect(apps[0]).toEqual({
      app: { id: '/bare', version: '', labels: {}, ports: [], ipPerTask: false, healthChecks: 0, readinessChecks: 0, deployments: [] },
      tasks: [],
    });
  });

  it.each([null, [], 'apps', { apps: {} }, { app: { id: '/x' } }])('throws on a body that is not {apps: [...]}: %j', (body) => {
    expect(() => parseApps(body)).toThrow(/not \{"apps": \[\.\.\.\]\}/);
  });
});

describe('parseApp: GET /v2/apps/{id}', () => {
  it('reads {"app": {...}}', () => {
    const body = fixture('apps-marathon-1.8plus.json') as { apps: unknown[] };
    const parsed = parseApp({ app: body.apps[1] });
    expect(parsed.ok && parsed.app.app.id).toBe('/shop/api');
  });

  it('rejects a malformed app and throws on a wrong body', () => {
    expect(parseApp({ app: { id: '/x', tasks: [{ id: 't' }] } })).toEqual({
      ok: false,
      rejected: { appId: '/x', reason: expect.stringMatching(/^tasks\.0\.host: /) },
    });
    expect(() => parseApp({ apps: [] })).toThrow(/not \{"app": \{\.\.\.\}\}/);
  });
});
