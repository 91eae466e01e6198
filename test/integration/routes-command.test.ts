import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { routesCommand } from '../../src/routes-command.js';
import { MarathonSim } from '../../src/sim/index.js';

const APPS = fileURLToPath(new URL('../fixtures/marathon/apps-marathon-1.8plus.json', import.meta.url));

async function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number; text: string }> {
  let text = '';
  const code = await routesCommand(args, env, (t) => (text += t));
  return { code, text };
}

let sim: MarathonSim | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

describe('baton routes (dry run)', () => {
  it('prints the table a saved /v2/apps response gives, with routable counts', async () => {
    const { code, text } = await run(['--apps', APPS]);
    expect(code).toBe(0);
    expect(text).toMatch(/^2 apps, 3 tasks from .*apps-marathon-1\.8plus\.json\n/);
    expect(text).toMatch(/http\s+web\.example\.com \/\s+\/shop\/web:0\s+1\/2 routable/);
    expect(text).toMatch(/http\s+api\.shop \/\s+\/shop\/api:0\s+1\/1 routable/);
  });

  it('reads a live Marathon, shows disabled routes with their reasons, and honours --realm', async () => {
    sim = new MarathonSim();
    await sim.listen(0, '127.0.0.1');
    sim.deployApp({ id: '/ok', labels: { HAPROXY_GROUP: 'external', HAPROXY_0_VHOST: 'ok.example.com' } });
    sim.deployApp({ id: '/bad', labels: { HAPROXY_GROUP: 'external', HAPROXY_0_VHOST: 'bad host' } });
    sim.deployApp({ id: '/other', labels: { HAPROXY_GROUP: 'internal' } });
    sim.startTask('/ok', { host: '127.0.0.1', ports: [31000] });
    const { code, text } = await run(['--marathon', sim.url, '--realm', 'external']);
    expect(code).toBe(0);
    expect(text).toContain(`3 apps, 1 tasks from ${sim.url} (realm external)`);
    expect(text).toMatch(/ok\.example\.com \/\s+\/ok:0\s+1\/1 routable/);
    expect(text).not.toContain('/other');
    expect(text).toMatch(/disabled \(1\):\n {2}\/bad:0 {2}label HAPROXY_0_VHOST="bad host"/);

    const json = JSON.parse((await run(['--marathon', sim.url, '--json'])).text);
    expect(json.routes.map((r: { id: string }) => r.id)).toEqual(['/ok:0', '/other:0']);
    expect(json.disabled).toHaveLength(1);
  });

  it('explains bad usage and unreachable sources with a non-zero status', async () => {
    expect(await run([])).toMatchObject({ code: 2, text: expect.stringContaining('give exactly one of --marathon and --apps') });
    expect(await run(['--apps', '/nonexistent/apps.json'])).toMatchObject({ code: 1, text: expect.stringContaining('cannot read the apps') });
    expect(await run(['--marathon', 'http://127.0.0.1:1'])).toMatchObject({ code: 1, text: expect.stringContaining('cannot read the apps') });
  });
});
