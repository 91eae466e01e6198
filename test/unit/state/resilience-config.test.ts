import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { DEFAULT_RESILIENCE, type ResilienceOptions } from '../../../src/state/resilience.js';

const load = (file?: object) => loadConfig(['--marathon', 'http://marathon.mesos:8080'], {}, () => (file === undefined ? undefined : JSON.stringify(file)));

describe('config: resilience', () => {
  it('defaults to what the state and the table builder use when not told otherwise', () => {
    const resilience: ResilienceOptions = load().resilience;
    expect(resilience).toEqual(DEFAULT_RESILIENCE);
  });

  it('takes a partial nested object from the file and refuses nonsense with the field named', () => {
    expect(load({ resilience: { lostTasks: 'remove', removalGuard: { holdMs: 60000 } } }).resilience).toEqual({
      ...DEFAULT_RESILIENCE,
      lostTasks: 'remove',
      removalGuard: { ...DEFAULT_RESILIENCE.removalGuard, holdMs: 60000 },
    });
    expect(() => load({ resilience: { suspectWeight: 0 } })).toThrow(/resilience\.suspectWeight/);
    expect(() => load({ resilience: { panicThreshold: 2 } })).toThrow(/resilience\.panicThreshold/);
    expect(() => load({ resilience: { lostTasks: 'keep' } })).toThrow(/resilience\.lostTasks/);
    expect(() => load({ resilience: { removalGuard: { maxShare: 0.5, window: 1 } } })).toThrow(/unknown setting "window"/);
  });
});
