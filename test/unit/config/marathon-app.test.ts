import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { parseApp } from '../../../src/marathon/snapshot.js';
import { routeSpecs } from '../../../src/routing/route-spec.js';

const definition = JSON.parse(readFileSync(new URL('../../../config/marathon/baton.json', import.meta.url), 'utf8')) as Record<string, unknown>;

describe('config/marathon/baton.json (baton deployed by the Marathon it balances)', () => {
  it('is an app definition baton itself reads, and routes nothing to itself', () => {
    const parsed = parseApp({ app: { ...definition, tasks: [] } });
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.app.app.ports.map((p) => p.servicePort)).toEqual([80, 443, 9090]);
    expect(routeSpecs(parsed.app.app, {}).specs).toEqual([]);
    expect(routeSpecs(parsed.app.app, { realm: 'external' }).specs).toEqual([]);
  });

  it('configures baton through its environment with values baton accepts', () => {
    const config = loadConfig([], definition.env as Record<string, string>, () => undefined);
    expect(config.realm).toBe('external');
    expect(config.https).toEqual({ host: '0.0.0.0', port: 443 });
    expect(config.admin).toEqual({ host: '127.0.0.1', port: 9090 });
  });
});
