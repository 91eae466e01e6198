import { afterEach, describe, expect, it } from 'vitest';
import { MesosMasterSim } from '../../../src/sim/index.js';

const sims: MesosMasterSim[] = [];
afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

async function start(opts?: ConstructorParameters<typeof MesosMasterSim>[0]): Promise<MesosMasterSim> {
  const sim = new MesosMasterSim(opts);
  await sim.listen();
  sims.push(sim);
  return sim;
}

const operatorCall = (url: string, init: RequestInit = {}) =>
  fetch(`${url}/api/v1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'GET_MAINTENANCE_STATUS' }), redirect: 'manual', ...init });

describe('MesosMasterSim', () => {
  it('answers {} with no maintenance, on both endpoints', async () => {
    const sim = await start();
    expect(await (await fetch(`${sim.url}/maintenance/status`)).json()).toEqual({});
    expect(await (await operatorCall(sim.url)).json()).toEqual({ type: 'GET_MAINTENANCE_STATUS', get_maintenance_status: { status: {} } });
  });

  it('drains, downs and brings up machines by hostname (any case) or ip, in the Mesos shapes', async () => {
    const sim = await start();
    sim.drain({ hostname: 'agent-1', ip: '10.0.0.1' }, 'agent-2', '10.0.0.3');
    sim.down('AGENT-2');
    const status = { draining_machines: [{ id: { hostname: 'agent-1', ip: '10.0.0.1' } }, { id: { ip: '10.0.0.3' } }], down_machines: [{ hostname: 'agent-2' }] };
    expect(await (await fetch(`${sim.url}/maintenance/status`)).json()).toEqual(status);
    expect(await (await operatorCall(sim.url)).json()).toEqual({ type: 'GET_MAINTENANCE_STATUS', get_maintenance_status: { status } });
    sim.up('10.0.0.1', 'agent-2');
    expect(sim.status()).toEqual({ draining_machines: [{ id: { ip: '10.0.0.3' } }] });
  });

  it('as a standby answers 307 with a protocol-relative Location to the leader; without a leader 503', async () => {
    const leader = await start();
    const standby = await start();
    standby.follow(leader);
    const res = await fetch(`${standby.url}/maintenance/status`, { redirect: 'manual' });
    expect(res.status).toBe(307);
    expect(res.headers.get('location')).toBe(`//${leader.url.slice('http://'.length)}/maintenance/status`);
    expect((await operatorCall(standby.url)).status).toBe(307);
    standby.loseLeader();
    expect((await fetch(`${standby.url}/maintenance/status`)).status).toBe(503);
    standby.lead();
    expect((await fetch(`${standby.url}/maintenance/status`)).status).toBe(200);
  });

  it('refuses operator calls it cannot serve like Mesos does, and can lack either endpoint', async () => {
    const sim = await start();
    expect((await operatorCall(sim.url, { headers: { 'content-type': 'text/plain' } })).status).toBe(415);
    expect((await operatorCall(sim.url, { body: '{"type":"GET_HEALTH"}' })).status).toBe(400);
    const old = await start({ operatorApi: false });
    expect((await operatorCall(old.url)).status).toBe(404);
    const noLegacy = await start({ legacyStatus: false });
    expect((await fetch(`${noLegacy.url}/maintenance/status`)).status).toBe(404);
  });
});
