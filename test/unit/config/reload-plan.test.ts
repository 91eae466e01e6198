import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { planReload, runningConfig } from '../../../src/config/reload-plan.js';

const config = (file: object, argv: string[] = []) => loadConfig(['--marathon', 'http://m:8080', ...argv], {}, (p) => (p === 'config/baton.json' ? JSON.stringify(file) : undefined));

describe('planReload', () => {
  it('sorts changes into applied at once, applied by new workers, and needing a restart', () => {
    const before = config({ workers: 2, realm: 'a', server: { maxHeaderSize: 8192 }, mesos: ['http://mesos:5050'] });
    const after = config({ workers: 4, realm: 'b', logLevel: 'debug', server: { maxHeaderSize: 4096 }, mesos: ['http://other:5050'], retries: 0 });
    expect(planReload(before, after)).toEqual({ live: ['logLevel', 'realm'], dataPath: ['retries', 'server', 'workers'], restart: ['mesos'] });
  });

  it('nothing changed is an empty plan', () => {
    expect(planReload(config({ workers: 1 }), config({ workers: 1 }))).toEqual({ live: [], dataPath: [], restart: [] });
  });

  it('going between one process and workers needs a restart', () => {
    expect(planReload(config({ workers: 0 }), config({ workers: 2 })).restart).toEqual(['workers']);
    expect(planReload(config({ workers: 3 }), config({ workers: 0 })).restart).toEqual(['workers']);
  });

  it('the running config keeps the old value of what was not applied', () => {
    const before = config({ workers: 2, mesos: ['http://mesos:5050'] });
    const after = config({ workers: 2, mesos: [], realm: 'x' }, ['--admin-token', 'a-very-long-admin-token']);
    const running = runningConfig(before, after, ['mesos', 'adminToken']);
    expect(running.mesos).toEqual(['http://mesos:5050']);
    expect(running.realm).toBe('x');
    expect('adminToken' in running).toBe(false);
  });
});
