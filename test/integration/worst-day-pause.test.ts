import { afterEach, describe, expect, it } from 'vitest';
import { MasterPause } from '../../src/sim/index.js';
import { startSystem, type System } from '../helpers/system.js';

/**
 * The master-pause scenario (src/sim/master-pause.ts) against a whole baton with its default
 * settings: every task goes TASK_UNREACHABLE within one second under steady load.
 */
describe('worst day: a paused Mesos master', () => {
  let system: System | undefined;
  let scenario: MasterPause | undefined;

  afterEach(async () => {
    await system?.close();
    await scenario?.close();
    system = undefined;
    scenario = undefined;
  });

  it('keeps every unreachable task routable: not one request fails, then nothing changes when they come back', async () => {
    const s = (system = await startSystem({ before: async (sim) => {
      scenario = new MasterPause({ marathon: sim, apps: 3, tasksPerApp: 3, requestsPerPhase: 300 });
      await scenario.deploy();
    } }));
    const result = await scenario!.run(`http://127.0.0.1:${s.httpPort}`, s.adminUrl);
    expect(result.phases.map((p) => p.phase)).toEqual(['steady', 'unreachable', 'running']);
    for (const phase of result.phases) expect(phase.requests).toBeGreaterThanOrEqual(300);
    expect(result.failures).toEqual([]);
    expect(result.failed).toBe(0);
    // Back to normal: every backend routable with its own health and an equal share.
    const routes = await s.admin('/routes');
    const backends = routes.json.routes.flatMap((r: { backends: unknown[] }) => r.backends);
    expect(backends).toHaveLength(9);
    for (const b of backends) expect(b).toMatchObject({ routable: true, health: 'no-checks', weight: 1 / 3 });
  });

  it('moves traffic off the third of the tasks that really died, under 0.5% failed, and forgets them when Marathon says they are gone', async () => {
    const s = (system = await startSystem({ before: async (sim) => {
      scenario = new MasterPause({ marathon: sim, apps: 3, tasksPerApp: 3, deadEvery: 3, requestsPerPhase: 300 });
      await scenario.deploy();
    } }));
    const result = await scenario!.run(`http://127.0.0.1:${s.httpPort}`, s.adminUrl);
    expect(result.dead).toBe(3);
    expect(result.phases.map((p) => p.phase)).toEqual(['steady', 'unreachable', 'running', 'gone']);
    expect(result.failed / result.requests).toBeLessThan(0.005);
    const routes = await s.admin('/routes');
    expect(routes.json.routes.map((r: { backends: unknown[] }) => r.backends.length)).toEqual([2, 2, 2]);
  });
});
