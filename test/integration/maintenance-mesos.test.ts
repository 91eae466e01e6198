import WebSocket, { WebSocketServer } from 'ws';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MesosMasterSim, type SimBackend } from '../../src/sim/index.js';
import { after, backend, cleanup, load, startMaintenanceSystem, waitFor } from './maintenance-harness.js';

afterEach(cleanup);

interface Cluster {
  /** Backends by agent: /web (host networking, the agent is the task's IP) and /api (IP-per-task, the agent is its host name). */
  readonly web: SimBackend[];
  readonly api: SimBackend[];
  readonly taskIds: Map<SimBackend, string>;
}

/** Three agents; agent-2 runs /web at 127.78.x.y (its IP) and /api as `AGENT-2` (its name, in upper case). */
async function cluster(): Promise<{ c: Cluster; deploy: (sim: import('../../src/sim/index.js').MarathonSim) => void }> {
  const web = [await backend('web@agent-1'), await backend('web@agent-2'), await backend('web@agent-3')];
  const first = await backend('api@agent-1');
  const api = [first, await backend('api@agent-2', first.port), await backend('api@agent-3', first.port)];
  const taskIds = new Map<SimBackend, string>();
  return {
    c: { web, api, taskIds },
    deploy: (sim) => {
      sim.deployApp({ id: '/web', labels: { BATON_0_VHOST: 'web.example.com' } });
      sim.deployApp({ id: '/api', labels: { BATON_0_VHOST: 'api.example.com' }, network: 'container', containerPorts: [first.port] });
      web.forEach((b) => taskIds.set(b, sim.startTask('/web', { host: b.ip, ports: [b.port] })));
      api.forEach((b, i) => taskIds.set(b, sim.startTask('/api', { host: `AGENT-${i + 1}`, ports: [], ipAddress: b.ip })));
    },
  };
}

describe('Mesos maintenance under load', () => {
  it('drains a machine: after the poll no new request reaches its tasks, none fails, in-flight ones finish, idle connections close; UP brings traffic back', async () => {
    const { c, deploy } = await cluster();
    const leader = new MesosMasterSim();
    const standby = new MesosMasterSim();
    await leader.listen();
    await standby.listen();
    standby.follow(leader);
    // A down master first, then a standby: baton moves on, and follows the standby's 307.
    // Idle connections would outlive the test unless baton closes them when the tasks leave.
    const file = { upstream: { keepAliveTimeoutMs: 120_000 } };
    const s = await startMaintenanceSystem({ mesos: leader, mesosUrls: () => ['http://127.0.0.1:1', standby.url], before: deploy, file });
    const loop = load(s.proxyUrl, ['web.example.com', 'api.example.com']);
    const onAgent2 = [c.web[1]!, c.api[1]!];
    await waitFor(() => onAgent2.every((b) => b.active > 0), 'slow requests in flight on agent-2', 10_000);

    leader.drain({ hostname: 'agent-2', ip: c.web[1]!.ip });
    await waitFor(async () => {
      const routes = await s.routes();
      return onAgent2.every((b) => routes.get(c.taskIds.get(b)!) === false);
    }, 'agent-2 out of service');
    const drained = loop.seq;
    await waitFor(() => loop.seq > drained + 200, 'load after the drain', 10_000);
    await waitFor(() => onAgent2.every((b) => b.active === 0), 'in-flight requests on agent-2 to finish');
    // baton closed its pools to them: their keep-alive connections go once idle.
    await waitFor(() => onAgent2.every((b) => b.connections === 0), 'keep-alive connections to agent-2 closed');

    expect(onAgent2.map((b) => after(b, drained))).toEqual([[], []]);
    for (const b of [c.web[0]!, c.web[2]!, c.api[0]!, c.api[2]!]) expect(after(b, drained).length, b.name).toBeGreaterThan(0);
    const { json: health } = await s.system.admin('/health');
    expect(health.mesos).toMatchObject({ enabled: true, reachable: true, leader: leader.url, api: 'operator', draining: 1, down: 0 });

    leader.up('agent-2');
    await waitFor(async () => {
      const routes = await s.routes();
      return onAgent2.every((b) => routes.get(c.taskIds.get(b)!) === true);
    }, 'agent-2 back in service');
    const back = loop.seq;
    await waitFor(() => onAgent2.every((b) => after(b, back).length > 0), 'traffic to agent-2 again', 10_000);
    await loop.stop();
    expect(loop.failures).toEqual([]);
    await leader.close();
    await standby.close();
  });

  it('keeps the last known maintenance while Mesos is unreachable, and says so in /health', async () => {
    const { c, deploy } = await cluster();
    const s = await startMaintenanceSystem({ before: deploy });
    s.mesos.down('agent-3');
    await waitFor(async () => (await s.routes()).get(c.taskIds.get(c.api[2]!)!) === false, 'agent-3 down');
    s.mesos.loseLeader();
    await waitFor(async () => (await s.system.admin('/health')).json.mesos.reachable === false, 'Mesos unreachable in /health');
    const { json } = await s.system.admin('/health');
    expect(json.mesos).toMatchObject({ reachable: false, down: 1, lastError: expect.stringContaining('503'), lastSuccessAt: expect.any(String) });
    const routes = await s.routes();
    expect([...c.taskIds.values()].map((id) => routes.get(id))).toEqual([true, true, true, true, true, false]);
  });

  it('closes WebSocket connections to a drained task after drainMs, not before', async () => {
    const server = createServer((_req, res) => res.end('not a websocket request'));
    const wss = new WebSocketServer({ server });
    wss.on('connection', (peer) => peer.on('message', (data) => peer.send(data)));
    await new Promise<void>((resolve) => server.listen(0, '127.78.200.1', resolve));
    const wsPort = (server.address() as AddressInfo).port;
    let taskId = '';
    const s = await startMaintenanceSystem({
      file: { drainMs: 3000 },
      before: (sim) => {
        sim.deployApp({ id: '/ws', labels: { BATON_0_VHOST: 'ws.example.com' } });
        taskId = sim.startTask('/ws', { host: '127.78.200.1', ports: [wsPort] });
      },
    });
    const socket = new WebSocket(`ws://127.0.0.1:${s.system.httpPort}/`, { headers: { host: 'ws.example.com' } });
    socket.on('error', () => undefined);
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));

    s.mesos.drain('127.78.200.1');
    await waitFor(async () => (await s.routes()).get(taskId) === false, 'the task out of service');
    const drainedAt = Date.now();
    const echo = new Promise((resolve) => socket.once('message', (data) => resolve(String(data))));
    socket.send('still here');
    expect(await echo).toBe('still here');
    expect(await closed).toBeGreaterThanOrEqual(drainedAt + 1000);
    wss.close();
    server.closeAllConnections();
    server.close();
  });
});
