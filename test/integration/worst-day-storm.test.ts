import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { parseApps } from '../../src/marathon/snapshot.js';
import { TableBuilder } from '../../src/routing/table.js';
import { sameTable } from '../../src/routing/table-equal.js';
import type { RoutingTable } from '../../src/routing/types.js';
import { EventStorm } from '../../src/sim/index.js';
import { ClusterState } from '../../src/state/cluster-state.js';
import { HealthJudge } from '../../src/state/health.js';
import { startBackend, type TestBackend } from '../helpers/backends.js';
import { startSystem, type System } from '../helpers/system.js';
import { waitFor } from '../helpers/wait-for.js';

const SNAPSHOT = '/v2/apps?embed=apps.tasks&embed=apps.readiness';

/** The table a baton that just started would build from Marathon's current snapshot. */
async function freshTable(marathonUrl: string): Promise<RoutingTable> {
  const { apps } = parseApps(await (await fetch(`${marathonUrl}${SNAPSHOT}`)).json());
  const state = new ClusterState({ judge: new HealthJudge(100_000), logger: pino({ level: 'silent' }), onChange: () => {}, onRefetch: () => {} });
  state.replaceAll(apps);
  return new TableBuilder({}).build(state.views(), 0);
}

describe('worst day: event storms and disorder', () => {
  let system: System | undefined;
  const backends: TestBackend[] = [];

  afterEach(async () => {
    await system?.close();
    system = undefined;
    await Promise.all(backends.splice(0).map((b) => b.close()));
  });

  it('takes 2,000 events a second against 1,000 apps with bounded swaps and re-fetches, and ends on the table a fresh full sync builds', async () => {
    let storm: EventStorm | undefined;
    const s = (system = await startSystem({
      before: (sim) => {
        storm = new EventStorm({ marathon: sim, apps: 1000, tasksPerApp: 2, seed: 8 });
        storm.deploy();
      },
    }));
    expect(s.baton.tables.current.routes).toHaveLength(1000);
    const swapsBefore = await s.metric('baton_table_swaps_total');
    const requestsBefore = s.sim.requests.length;
    const started = Date.now();
    const result = await storm!.run(8000, 4000);
    let compared = 0;
    await waitFor(
      async () => {
        compared++;
        return sameTable(s.baton.tables.current, await freshTable(s.sim.url));
      },
      'the table a fresh full sync builds',
      15_000,
      100,
    );
    const seconds = (Date.now() - started) / 1000;
    const swaps = (await s.metric('baton_table_swaps_total')) - swapsBefore;
    // The holder builds at most once per coalesceMs (20 ms by default): at most 50 swaps a second.
    expect(swaps / seconds).toBeLessThanOrEqual(52);
    expect(swaps).toBeGreaterThan(10);
    // Every event reached baton; the storm's own changes did not turn into fetches per event.
    expect(await s.metric('baton_marathon_events_total', { type: 'status_update_event' })).toBeGreaterThan(0);
    expect(result.events).toBeGreaterThanOrEqual(8000);
    const fetches = s.sim.requests.slice(requestsBefore).filter((r) => r.path.startsWith('/v2/apps')).length - compared;
    expect(fetches).toBeLessThanOrEqual(result.ops.redeployed + 5);
  }, 40_000);

  it('never brings a killed task back from a late TASK_RUNNING, whatever its timestamp', async () => {
    const [a, b, c] = [await startBackend('a'), await startBackend('b'), await startBackend('c')];
    backends.push(a, b, c);
    let killed = '';
    const s = (system = await startSystem({
      before: (sim) => {
        sim.deployApp({ id: '/web' });
        killed = sim.startTask('/web', { host: '127.0.0.1', ports: [a.port] });
        sim.startTask('/web', { host: '127.0.0.1', ports: [b.port] });
      },
    }));
    const late = (timestamp: string) =>
      s.sim.emit('status_update_event', { appId: '/web', taskId: killed, taskStatus: 'TASK_RUNNING', host: '127.0.0.1', ports: [a.port], ipAddresses: [], version: 'v', timestamp });
    const killedAt = Date.now();
    s.sim.killTask(killed);
    late(new Date(killedAt - 60_000).toISOString());
    late(new Date(killedAt + 60_000).toISOString());
    s.sim.emit('instance_changed_event', { instanceId: killed.replace(/\._app\.1$/, ''), runSpecId: '/web', condition: 'Running', host: '127.0.0.1' });
    // A task started after the late events shows they have all been read.
    const marker = s.sim.startTask('/web', { host: '127.0.0.1', ports: [c.port] });
    await waitFor(() => s.baton.tables.current.routes[0]?.backends.some((x) => x.taskId === marker), 'the task started after the late events');
    expect(s.baton.tables.current.routes[0]?.status.map((x) => x.taskId)).not.toContain(killed);
    const bodies = new Set<string>();
    for (let i = 0; i < 9; i++) bodies.add((await s.get('web')).body);
    expect(bodies).toEqual(new Set(['b', 'c']));
  });

  it('keeps every route whole across a Marathon restart that resets every health result to unknown', async () => {
    const servers = await Promise.all(['a', 'b', 'c'].map((name) => startBackend(name)));
    backends.push(...servers);
    const s = (system = await startSystem({
      before: (sim) => {
        sim.deployApp({ id: '/api', healthChecks: 1 });
        for (const server of servers) sim.startTask('/api', { host: '127.0.0.1', ports: [server.port] }, { healthy: true });
      },
    }));
    await waitFor(() => s.baton.tables.current.routes[0]?.backends.length === 3, 'three healthy backends');
    const before = s.baton.tables.current.version;
    s.sim.restartLeader({ downMs: 300 });
    const routes = await waitFor(
      async () => {
        const body = (await s.admin('/routes')).json;
        return body.routes[0].backends.every((b: { health: string }) => b.health === 'unknown') && body;
      },
      'the snapshot of the restarted Marathon, every health unknown',
      10_000,
      20,
    );
    expect(routes.routes[0].backends.map((b: { routable: boolean }) => b.routable)).toEqual([true, true, true]);
    // No table in between had fewer backends.
    const swaps = s.baton.tables.recentSwaps().filter((swap) => swap.version > before);
    expect(swaps.length).toBeGreaterThan(0);
    for (const swap of swaps) expect(swap.backends).toBe(3);
  });
});
