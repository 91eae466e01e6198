import { describe, expect, it } from 'vitest';
import { readApp, Refused } from '../../../src/marathon/app-reader.js';
import { parseApps } from '../../../src/marathon/snapshot.js';
import { fixture } from './fixture.js';
import { oracle } from './zod-oracle.js';

/** Every app of the fixtures: Marathon 1.4 to 1.10 shapes, pre-1.5 fields, docker bridge. */
const APPS: unknown[] = [
  ...(fixture('apps-marathon-1.8plus.json') as { apps: unknown[] }).apps,
  ...(fixture('apps-older-shapes.json') as { apps: unknown[] }).apps,
  ...(fixture('apps-raml-app-list-pre-1.5.json') as { apps: unknown[] }).apps,
  fixture('app-definition-raml-docker-bridge.json'),
];

/** Values of the wrong type (or range) somewhere, right elsewhere. */
const REPLACEMENTS: unknown[] = [null, 42, -1, 70_000, 1.5, 'x', '', true, [], {}, [null], [{}], ['x'], [{ alive: 'yes' }]];

/** Every path to a value inside `value`, outermost first. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (typeof value !== 'object' || value === null) return [];
  const out: (string | number)[][] = [];
  for (const [key, child] of Object.entries(value)) {
    const path = [...prefix, Array.isArray(value) ? Number(key) : key];
    out.push(path, ...paths(child, path));
  }
  return out;
}

/** A copy of `app` with the value at `path` replaced, or removed when `replacement` is undefined. */
function mutated(app: unknown, path: (string | number)[], replacement: unknown): unknown {
  const copy = structuredClone(app) as Record<string | number, unknown>;
  let at = copy;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string | number, unknown>;
  const last = path.at(-1)!;
  if (replacement === undefined && !Array.isArray(at)) delete at[last];
  else at[last] = replacement;
  return copy;
}

function read(raw: unknown): { ok: true; app: unknown } | { ok: false; path: string } {
  try {
    return { ok: true, app: readApp(raw) };
  } catch (err) {
    if (!(err instanceof Refused)) throw err;
    return { ok: false, path: err.path.join('.') };
  }
}

describe('readApp: the same verdicts and snapshots as the zod schema it replaced', () => {
  it('on every fixture app, and on each with any one field set to a wrong type, missing, or out of range', () => {
    let refused = 0;
    let cases = 0;
    for (const app of APPS) {
      const variants = [app, ...paths(app).flatMap((path) => [undefined, ...REPLACEMENTS].map((replacement) => mutated(app, path, replacement)))];
      for (const variant of variants) {
        const mine = read(variant);
        const theirs = oracle(variant);
        cases++;
        expect(mine.ok, JSON.stringify(variant)).toBe(theirs.ok);
        if (mine.ok && theirs.ok) expect(mine.app).toStrictEqual(theirs.app);
        if (!mine.ok && !theirs.ok) {
          refused++;
          expect(mine.path, JSON.stringify(variant)).toBe(theirs.path);
        }
      }
    }
    // The mutations did reach both sides of every check.
    expect(refused).toBeGreaterThan(500);
    expect(cases - refused).toBeGreaterThan(500);
  });

  it.each([
    [{ id: '/a', tasks: [{ id: 't1', host: 'h' }, { id: 't2', host: 42 }] }, 'tasks.1.host: expected a string, got number'],
    [{ id: '/a', container: { docker: { portMappings: [{ hostPort: 70_000 }] } } }, 'container.docker.portMappings.0.hostPort: expected a port number from 0 to 65535, got 70000'],
    [{ id: '/a', labels: ['x'] }, 'labels: expected an object, got a list'],
    [{ id: '' }, 'id: expected a non-empty string'],
    ['/a', '(app): expected an object, got string'],
  ])('refuses %j with a reason naming the field', (raw, reason) => {
    expect(() => readApp(raw)).toThrow(Refused);
    try {
      readApp(raw);
    } catch (err) {
      expect((err as Refused).reason).toBe(reason);
    }
  });
});

describe('parseApps: bad apps refused one by one, good ones kept', () => {
  it('keeps every good app in order and names each bad one', () => {
    const [web, api] = APPS as Record<string, unknown>[];
    const body = {
      apps: [
        { ...web, id: '/bad/host', tasks: [{ id: 'x', host: null }] },
        web,
        { ...api, id: '/bad/port', ports: ['80'] },
        'not an app',
        api,
        { ...api, id: '/bad/deployments', deployments: [{}] },
      ],
    };
    const { apps, rejected } = parseApps(body);
    expect(apps.map((a) => a.app.id)).toEqual([web!.id, api!.id]);
    expect(rejected).toEqual([
      { appId: '/bad/host', reason: 'tasks.0.host: expected a string, got null' },
      { appId: '/bad/port', reason: 'ports.0: expected a port number, got string' },
      { reason: '(app): expected an object, got string' },
      { appId: '/bad/deployments', reason: 'deployments.0.id: expected a string, got nothing' },
    ]);
  });
});
