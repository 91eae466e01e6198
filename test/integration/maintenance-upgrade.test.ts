import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MesosMasterSim, RollingUpgrade } from '../../src/sim/index.js';
import { startSystem, type System } from '../helpers/system.js';

let system: System | undefined;
let mesos: MesosMasterSim | undefined;
let upgrade: RollingUpgrade | undefined;
let dir: string | undefined;

afterEach(async () => {
  await system?.close();
  await upgrade?.close();
  await mesos?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  system = mesos = upgrade = dir = undefined;
});

describe('rolling upgrade of three zones', () => {
  it('drains, moves and brings back every zone under load with zero failed requests', async () => {
    mesos = new MesosMasterSim();
    await mesos.listen();
    dir = mkdtempSync(join(tmpdir(), 'baton-upgrade-'));
    const lines: string[] = [];
    system = await startSystem({
      flags: ['--mesos', mesos.url, '--state-file', join(dir, 'state.json')],
      file: { mesosPollMs: 100 },
      before: async (sim) => {
        upgrade = new RollingUpgrade({ marathon: sim, mesos: mesos!, log: (line) => lines.push(line) });
        await upgrade.deploy();
      },
    });
    const result = await upgrade!.run(`http://127.0.0.1:${system.httpPort}`, system.adminUrl);

    expect(result.failures).toEqual([]);
    expect(result.late).toEqual([]);
    expect(result.phases.map((p) => p.phase)).toEqual(['steady', 'drain a', 'move a', 'up a', 'drain b', 'move b', 'up b', 'drain c', 'move c', 'up c', 'after']);
    for (const phase of result.phases) expect(phase.requests, phase.phase).toBeGreaterThan(0);
    expect(lines).toContain('zone c: UP again');
  });
});
