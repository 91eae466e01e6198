import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createMesosMetrics } from '../../../src/mesos/metrics.js';
import { parseMaintenanceStatus } from '../../../src/mesos/payload.js';
import { MesosPoller } from '../../../src/mesos/poller.js';
import { MesosMasterSim } from '../../../src/sim/index.js';
import type { MesosMachines } from '../../../src/state/maintenance-types.js';
import { waitFor } from '../../helpers/wait-for.js';

function fixture(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`../../fixtures/mesos/${name}`, import.meta.url), 'utf8'));
}

const masters: MesosMasterSim[] = [];
const servers: Server[] = [];
const pollers: MesosPoller[] = [];

afterEach(async () => {
  await Promise.all(pollers.splice(0).map((p) => p.stop()));
  await Promise.all(masters.splice(0).map((m) => m.close()));
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
});

async function master(opts?: ConstructorParameters<typeof MesosMasterSim>[0]): Promise<MesosMasterSim> {
  const sim = new MesosMasterSim(opts);
  await sim.listen();
  masters.push(sim);
  return sim;
}

/** A master answering whatever the test says, for payloads the simulator never sends. */
async function rawMaster(answer: () => { status: number; body: string }): Promise<string> {
  const server = createServer((req, res) => {
    req.resume();
    const { status, body } = answer();
    res.writeHead(status, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A URL nothing listens on: a master that is down. */
async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

function poller(urls: string[], timeoutMs = 2000) {
  const reports: MesosMachines[] = [];
  const registry = new Registry();
  const p = new MesosPoller({ urls, pollMs: 60_000, timeoutMs, logger: pino({ level: 'silent' }), metrics: createMesosMetrics(registry), onMachines: (m) => reports.push(m) });
  pollers.push(p);
  const polls = async (result: string) => (await registry.getSingleMetric('baton_mesos_polls_total')!.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
  return { p, reports, polls, last: () => reports.at(-1) };
}

describe('Mesos maintenance payloads', () => {
  it('reads draining and down machines from both endpoints, and {} as no maintenance', () => {
    const expected = { draining: [{ hostname: 'machine1', ip: '10.0.0.1' }], down: [{ hostname: 'machine3', ip: '10.0.0.3' }] };
    expect(parseMaintenanceStatus('legacy', fixture('mesos.maintenance.status.legacy-endpoint.draining-and-down.json'))).toEqual({
      draining: [...expected.draining, { hostname: 'machine2', ip: '10.0.0.2' }],
      down: expected.down,
    });
    expect(parseMaintenanceStatus('operator', fixture('mesos.operator-api-v1.GET_MAINTENANCE_STATUS.response.draining-and-down.json'))).toEqual(expected);
    expect(parseMaintenanceStatus('operator', fixture('mesos.operator-api-v1.GET_MAINTENANCE_STATUS.response.mesos-docs-operator-http-api.json'))).toEqual({
      draining: [{ ip: '0.0.0.2' }, { hostname: 'myhost' }],
      down: [],
    });
    const none = { draining: [], down: [] };
    expect(parseMaintenanceStatus('legacy', fixture('mesos.maintenance.status.legacy-endpoint.no-maintenance.json'))).toEqual(none);
    expect(parseMaintenanceStatus('operator', fixture('mesos.operator-api-v1.GET_MAINTENANCE_STATUS.response.no-maintenance.json'))).toEqual(none);
  });

  it('refuses a machine without hostname and ip, and the wrong wrapper', () => {
    expect(() => parseMaintenanceStatus('legacy', { down_machines: [{}] })).toThrow(/hostname or an ip/);
    expect(() => parseMaintenanceStatus('operator', { draining_machines: [] })).toThrow(/unexpected maintenance status/);
  });
});

describe('MesosPoller', () => {
  it('asks the operator API of the leader and reports its machines', async () => {
    const sim = await master();
    sim.drain('agent-1', { hostname: 'agent-2', ip: '10.0.0.2' });
    sim.down('10.0.0.3');
    const { p, last } = poller([sim.url]);
    await p.poll();
    expect(last()).toEqual({ draining: [{ hostname: 'agent-1' }, { hostname: 'agent-2', ip: '10.0.0.2' }], down: [{ ip: '10.0.0.3' }] });
    expect(p.status()).toMatchObject({ reachable: true, leader: sim.url, api: 'operator' });
    expect(sim.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /api/v1']);
  });

  it('falls back to GET /maintenance/status on a master without the operator API, and stays there', async () => {
    const sim = await master({ operatorApi: false });
    sim.drain('agent-1');
    const { p, last } = poller([sim.url]);
    await p.poll();
    await p.poll();
    expect(last()).toEqual({ draining: [{ hostname: 'agent-1' }], down: [] });
    expect(p.status().api).toBe('legacy');
    expect(sim.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /api/v1', 'GET /maintenance/status', 'GET /maintenance/status']);
  });

  it("follows a standby's 307 with a protocol-relative Location to the leader", async () => {
    const leader = await master();
    const standby = await master();
    standby.follow(leader);
    leader.down('agent-9');
    const { p, last } = poller([standby.url]);
    await p.poll();
    expect(last()).toEqual({ draining: [], down: [{ hostname: 'agent-9' }] });
    expect(p.status()).toMatchObject({ reachable: true, leader: leader.url });
    expect(standby.requests).toHaveLength(1);
    expect(leader.requests.map((r) => r.method)).toEqual(['POST']);
  });

  it('sends URL credentials as Basic auth, to the leader too, and never shows them', async () => {
    const leader = await master();
    const standby = await master();
    standby.follow(leader);
    const { p } = poller([standby.url.replace('http://', 'http://ops:s%3Acret@')]);
    await p.poll();
    const basic = `Basic ${Buffer.from('ops:s:cret').toString('base64')}`;
    expect([standby.requests[0]?.headers.authorization, leader.requests[0]?.headers.authorization]).toEqual([basic, basic]);
    expect(p.urls).toEqual([standby.url]);
    expect(JSON.stringify(p.status())).not.toContain('cret');
  });

  it('tries the next URL when a master is down, and starts from the one that answered next time', async () => {
    const sim = await master();
    const dead = await deadUrl();
    const { p, reports, polls } = poller([dead, sim.url]);
    await p.poll();
    await p.poll();
    expect(reports).toEqual([
      { draining: [], down: [] },
      { draining: [], down: [] },
    ]);
    expect(await polls('unreachable')).toBe(1);
    expect(await polls('ok')).toBe(2);
  });

  it('reports nothing while no master leads (503), and says so', async () => {
    const sim = await master();
    sim.drain('agent-1');
    const { p, reports, polls } = poller([sim.url]);
    await p.poll();
    sim.loseLeader();
    await p.poll();
    expect(reports).toHaveLength(1);
    const status = p.status();
    expect(status.reachable).toBe(false);
    expect(status.lastError).toContain('no leading master (503)');
    expect(status.lastSuccessAt).toBeDefined();
    expect(await polls('no-leader')).toBe(1);
  });

  it('keeps the last state on a bad payload: counted, not reported', async () => {
    let body = JSON.stringify({ type: 'GET_MAINTENANCE_STATUS', get_maintenance_status: { status: { down_machines: [{ hostname: 'agent-1' }] } } });
    const url = await rawMaster(() => ({ status: 200, body }));
    const { p, reports, polls } = poller([url]);
    await p.poll();
    body = JSON.stringify({ type: 'GET_MAINTENANCE_STATUS', get_maintenance_status: { status: { down_machines: [{ name: 'agent-1' }] } } });
    await p.poll();
    body = '<html>oops';
    await p.poll();
    expect(reports).toEqual([{ draining: [], down: [{ hostname: 'agent-1' }] }]);
    expect(await polls('bad-payload')).toBe(2);
    expect(p.status()).toMatchObject({ reachable: false, lastError: expect.stringContaining('not JSON') });
  });

  it('keeps the last state while every master is unreachable, and says so', async () => {
    const sim = await master();
    sim.drain('agent-1');
    const { p, reports } = poller([sim.url]);
    await p.poll();
    await sim.close();
    await p.poll();
    expect(reports).toHaveLength(1);
    expect(p.status()).toMatchObject({ reachable: false, leader: sim.url, lastError: expect.stringContaining(sim.url) });
  });

  it('polls on its own once started', async () => {
    const sim = await master();
    const reports: MesosMachines[] = [];
    const p = new MesosPoller({ urls: [sim.url], pollMs: 20, logger: pino({ level: 'silent' }), metrics: createMesosMetrics(new Registry()), onMachines: (m) => reports.push(m) });
    pollers.push(p);
    p.start();
    sim.drain('agent-1');
    await waitFor(() => reports.some((r) => r.draining.length === 1));
  });

  it('stops while a master keeps it waiting for an answer', async () => {
    let asked = 0;
    const server = createServer(() => asked++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    // Without the abort, stop() would wait out this timeout (longer than the test's).
    const { p, reports } = poller([`http://127.0.0.1:${(server.address() as AddressInfo).port}`], 60_000);
    p.start();
    await waitFor(() => asked === 1);
    await p.stop();
    expect(reports).toEqual([]);
  });
});

