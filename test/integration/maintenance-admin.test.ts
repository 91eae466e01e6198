import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { MarathonSim } from '../../src/sim/index.js';
import { cleanup, startMaintenanceSystem, tempDir, TOKEN, waitFor } from './maintenance-harness.js';

afterEach(cleanup);

/** Two tasks of /web in zones a and b, on agents that are never dialled (nothing is proxied here). */
function deploy(sim: MarathonSim): void {
  sim.deployApp({ id: '/web', labels: { BATON_0_VHOST: 'web.example.com' } });
  sim.startTask('/web', { host: '127.78.250.1', ports: [1], zone: 'a' });
  sim.startTask('/web', { host: '127.78.250.2', ports: [2], zone: 'b' });
}

async function routableCount(s: Awaited<ReturnType<typeof startMaintenanceSystem>>): Promise<number> {
  return [...(await s.routes()).values()].filter(Boolean).length;
}

describe('admin API: maintenance', () => {
  it('refuses bad bodies with 400 and the reason, and changes nothing', async () => {
    const s = await startMaintenanceSystem({ before: deploy });
    const cases: [unknown, RegExp][] = [
      [{}, /at least one of hosts, zones, apps, tasks/],
      [{ hosts: [] }, /hosts: expected at least one entry/],
      [{ hosts: 'agent-1' }, /hosts: /],
      [{ zones: [''] }, /zones.0: expected a non-empty string/],
      [{ zones: ['a'], expiresAt: 'tomorrow' }, /expiresAt: expected an ISO 8601 time/],
      [{ zones: ['a'], expiresAt: '2001-01-01T00:00:00Z' }, /expiresAt: is in the past/],
      [{ zones: ['a'], ttlSeconds: -5 }, /ttlSeconds: /],
      [{ zones: ['a'], ttlSeconds: 60, expiresAt: '2999-01-01T00:00:00Z' }, /not both/],
      [{ zones: ['a'], zone: 'a' }, /Unrecognized key: "zone"/],
      [[{ zones: ['a'] }], /expected object/],
    ];
    for (const [body, reason] of cases) {
      const { status, json } = await s.call('POST', '/maintenance', body);
      expect(status, JSON.stringify(body)).toBe(400);
      expect(json.reasons.join('; '), JSON.stringify(body)).toMatch(reason);
    }
    const notJson = await s.call('POST', '/maintenance', '{"zones": [');
    expect(notJson.status).toBe(400);
    expect(notJson.json.error).toMatch(/not JSON/);
    expect((await s.system.admin('/maintenance')).json.marks).toEqual([]);
    expect(await routableCount(s)).toBe(2);
    expect(existsSync(s.stateFile)).toBe(false);
  });

  it('needs the bearer token for POST and DELETE (401), while GET stays open', async () => {
    const s = await startMaintenanceSystem({ before: deploy });
    const post = (headers: Record<string, string>) =>
      fetch(`${s.system.adminUrl}/maintenance`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ zones: ['a'] }) });
    expect((await post({})).status).toBe(401);
    const wrong = await post({ authorization: `Bearer ${TOKEN.slice(0, -1)}x` });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toBe('Bearer');
    expect(await routableCount(s)).toBe(2);

    expect((await s.call('POST', '/maintenance', { zones: ['a'] })).status).toBe(201);
    expect((await fetch(`${s.system.adminUrl}/maintenance/1`, { method: 'DELETE' })).status).toBe(401);
    const { status, json } = await s.system.admin('/maintenance');
    expect(status).toBe(200);
    expect(json.marks.map((m: { id: string }) => m.id)).toEqual(['1']);
  });

  it('lists, adds and deletes marks; 404 for an unknown mark, 405 with Allow for a wrong method', async () => {
    const s = await startMaintenanceSystem({ before: deploy });
    s.mesos.drain({ hostname: 'agent-x', ip: '127.78.250.2' });
    await waitFor(async () => (await s.routes()).size === 2 && (await routableCount(s)) === 1, 'the Mesos drain');
    const created = await s.call('POST', '/maintenance', { hosts: ['127.78.250.1'], note: 'disk', expiresAt: '2999-01-01T00:00:00.000Z' });
    expect(created.status).toBe(201);
    expect(created.json).toEqual({ id: '1', hosts: ['127.78.250.1'], note: 'disk', createdAt: expect.any(String), expiresAt: '2999-01-01T00:00:00.000Z' });
    expect(await routableCount(s)).toBe(0);

    const { json } = await s.system.admin('/maintenance');
    expect(json.mesos).toMatchObject({ enabled: true, reachable: true, draining: [{ hostname: 'agent-x', ip: '127.78.250.2' }], down: [] });
    expect(json.marks).toEqual([created.json]);
    expect(json.outOfService.map((t: { reason: string }) => t.reason).sort()).toEqual(['maintenance: mark 1 (host 127.78.250.1, "disk")', 'maintenance: mesos draining agent-x']);
    expect(json.stateFile).toEqual({ path: s.stateFile, lastWriteAt: expect.any(String) });

    expect((await s.call('DELETE', '/maintenance/7')).status).toBe(404);
    const deleted = await s.call('DELETE', '/maintenance/1');
    expect(deleted).toEqual({ status: 200, json: { deleted: created.json } });
    expect(await routableCount(s)).toBe(1);
    expect((await s.call('DELETE', '/maintenance/1')).status).toBe(404);

    const put = await fetch(`${s.system.adminUrl}/maintenance`, { method: 'PUT' });
    expect([put.status, put.headers.get('allow')]).toEqual([405, 'GET, POST']);
    const get = await fetch(`${s.system.adminUrl}/maintenance/1`);
    expect([get.status, get.headers.get('allow')]).toEqual([405, 'DELETE']);
  });

  it('keeps marks across a restart of baton (state file), with ids never reused', async () => {
    const stateFile = join(tempDir(), 'state.json');
    const first = await startMaintenanceSystem({ stateFile, before: deploy });
    await first.call('POST', '/maintenance', { zones: ['a'], note: 'upgrade' });
    await first.call('POST', '/maintenance', { zones: ['b'] });
    await first.call('DELETE', '/maintenance/2');
    await first.system.close();
    expect(JSON.parse(readFileSync(stateFile, 'utf8'))).toMatchObject({ version: 1, nextId: 3, marks: [{ id: '1', zones: ['a'], note: 'upgrade' }] });

    const second = await startMaintenanceSystem({ stateFile, before: deploy });
    const { json } = await second.system.admin('/maintenance');
    expect(json.marks).toEqual([expect.objectContaining({ id: '1', zones: ['a'] })]);
    // The first table already leaves zone a out: not one request reached it after the restart.
    expect(await routableCount(second)).toBe(1);
    expect((await second.call('POST', '/maintenance', { apps: ['/web'] })).json.id).toBe('3');
  });

  it('reports a corrupt state file in /health and starts without marks', async () => {
    const stateFile = join(tempDir(), 'state.json');
    writeFileSync(stateFile, 'this is not json');
    const s = await startMaintenanceSystem({ stateFile, before: deploy });
    const { status, json } = await s.system.admin('/health');
    expect(status).toBe(200);
    expect(json.maintenance).toMatchObject({ marks: 0, stateFile: { path: stateFile, loadError: expect.stringMatching(/^not JSON/), movedTo: expect.stringContaining('state.json.corrupt-') } });
    expect(readFileSync(json.maintenance.stateFile.movedTo, 'utf8')).toBe('this is not json');
    expect(await routableCount(s)).toBe(2);
  });
});
