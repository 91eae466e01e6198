import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { MarathonSim, SimBackend } from '../../src/sim/index.js';
import { after, backend, cleanup, load, startMaintenanceSystem, waitFor } from './maintenance-harness.js';

afterEach(cleanup);

/** /shop/blue and /shop/green share web.example.com (one merged route); tasks in zones a and b. */
async function blueGreen() {
  const blue = [await backend('blue@a'), await backend('blue@b')];
  const green = [await backend('green@a'), await backend('green@b')];
  const ids = new Map<SimBackend, string>();
  const deploy = (sim: MarathonSim) => {
    for (const [appId, backends] of [['/shop/blue', blue], ['/shop/green', green]] as const) {
      sim.deployApp({ id: appId, labels: { BATON_0_VHOST: 'web.example.com' } });
      backends.forEach((b, i) => ids.set(b, sim.startTask(appId, { host: b.ip, ports: [b.port], zone: i === 0 ? 'zone-a' : 'zone-b', region: 'r1' })));
    }
  };
  return { blue, green, ids, deploy, all: [...blue, ...green] };
}

describe('operator marks under load', () => {
  it('a zone mark takes its tasks out at once, with zero failed requests; deleting it brings them back', async () => {
    const c = await blueGreen();
    const s = await startMaintenanceSystem({ before: c.deploy });
    const loop = load(s.proxyUrl, ['web.example.com']);
    await waitFor(() => c.all.every((b) => b.seqs.length > 0), 'load on every task');

    const created = await s.call('POST', '/maintenance', { zones: ['zone-a'], note: 'upgrade' });
    // The 201 comes once the table is swapped: every request sent after it avoids zone-a.
    const marked = loop.seq;
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ id: '1', zones: ['zone-a'], note: 'upgrade', createdAt: expect.any(String) });
    await waitFor(() => loop.seq > marked + 200, 'load after the mark', 10_000);
    const zoneA = [c.blue[0]!, c.green[0]!];
    await waitFor(() => zoneA.every((b) => b.active === 0), 'in-flight requests on zone-a to finish');
    expect(zoneA.map((b) => after(b, marked))).toEqual([[], []]);

    const { json } = await s.system.admin('/maintenance');
    expect(json.marks).toEqual([created.json]);
    expect(json.outOfService).toEqual(
      expect.arrayContaining(zoneA.map((b) => ({ taskId: c.ids.get(b), appId: expect.any(String), host: b.ip, zone: 'zone-a', reason: 'maintenance: mark 1 (zone zone-a, "upgrade")' }))),
    );
    expect(json.outOfService).toHaveLength(2);

    expect((await s.call('DELETE', '/maintenance/1')).status).toBe(200);
    const back = loop.seq;
    await waitFor(() => zoneA.every((b) => after(b, back).length > 0), 'traffic to zone-a again', 10_000);
    await loop.stop();
    expect(loop.failures).toEqual([]);
  });

  it('an app mark moves a blue/green route to the other colour, with zero failed requests', async () => {
    const c = await blueGreen();
    const s = await startMaintenanceSystem({ before: c.deploy });
    const loop = load(s.proxyUrl, ['web.example.com']);
    await waitFor(() => c.all.every((b) => b.seqs.length > 0), 'load on every task');

    expect((await s.call('POST', '/maintenance', { apps: ['shop/blue'] })).json).toMatchObject({ apps: ['/shop/blue'] });
    const marked = loop.seq;
    await waitFor(() => loop.seq > marked + 200, 'load after the mark', 10_000);
    await waitFor(() => c.blue.every((b) => b.active === 0), 'in-flight requests on blue to finish');
    expect(c.blue.map((b) => after(b, marked))).toEqual([[], []]);
    expect(c.green.every((b) => after(b, marked).length > 0)).toBe(true);
    await loop.stop();
    expect(loop.failures).toEqual([]);
  });

  it('a mark with a ttl expires by itself and its tasks return', async () => {
    const c = await blueGreen();
    const s = await startMaintenanceSystem({ before: c.deploy });
    const target = c.green[1]!;
    const created = await s.call('POST', '/maintenance', { tasks: [c.ids.get(target)], ttlSeconds: 1 });
    expect(created.status).toBe(201);
    expect(Date.parse(created.json.expiresAt) - Date.parse(created.json.createdAt)).toBe(1000);
    expect((await s.routes()).get(c.ids.get(target)!)).toBe(false);
    await waitFor(async () => (await s.routes()).get(c.ids.get(target)!) === true, 'the task back after the expiry', 10_000);
    expect((await s.system.admin('/maintenance')).json.marks).toEqual([]);
  });

  it('a sticky cookie naming a task taken out of service falls back to another task', async () => {
    const one = await backend('sticky-1');
    const two = await backend('sticky-2');
    const ids = new Map<string, string>();
    const s = await startMaintenanceSystem({
      before: (sim) => {
        sim.deployApp({ id: '/sticky', labels: { BATON_0_VHOST: 'sticky.example.com', BATON_0_STICKY: 'true' } });
        for (const b of [one, two]) ids.set(b.name, sim.startTask('/sticky', { host: b.ip, ports: [b.port] }));
      },
    });
    const get = async (cookie?: string) => {
      const res = await request(`${s.proxyUrl}/`, { headers: { host: 'sticky.example.com', ...(cookie !== undefined && { cookie }) } });
      const setCookie = res.headers['set-cookie'];
      return { status: res.statusCode, body: await res.body.text(), cookie: typeof setCookie === 'string' ? setCookie.split(';', 1)[0] : undefined };
    };
    const first = await get();
    expect(first.cookie).toMatch(/^baton_sticky=/);
    for (let i = 0; i < 5; i++) expect((await get(first.cookie)).body).toBe(first.body);

    await s.call('POST', '/maintenance', { tasks: [ids.get(first.body)] });
    const moved = await get(first.cookie);
    expect(moved.status).toBe(200);
    expect(moved.body).not.toBe(first.body);
    expect(moved.cookie).toMatch(/^baton_sticky=/);
    expect(moved.cookie).not.toBe(first.cookie);
    expect((await get(moved.cookie)).body).toBe(moved.body);
  });
});
