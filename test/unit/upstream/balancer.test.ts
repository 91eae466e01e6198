import { describe, expect, it } from 'vitest';
import { pick } from '../../../src/upstream/balancer.js';
import { backendsOf, FakeRegistry, routeOf, tally, times } from './balancer-fixtures.js';

const CLIENT = '192.0.2.10';
/** blue/green: 3 blue backends share weight 9, 2 green ones share weight 1. */
const blueGreen = () => [...backendsOf('/blue', 3, 3), ...backendsOf('/green', 2, 0.5)];

describe('pick: common rules', () => {
  it.each(['roundrobin', 'leastconn', 'p2c', 'random', 'source'] as const)('%s: no backends, or none that may take the request: undefined', (balance) => {
    const ctx = new FakeRegistry();
    expect(pick(routeOf([], balance), ctx, CLIENT)).toBeUndefined();
    const backends = backendsOf('/web', 3);
    for (const b of backends) ctx.down.add(b.address);
    expect(pick(routeOf(backends, balance), ctx, CLIENT)).toBeUndefined();
    ctx.down.clear();
    const tried = new Set(backends.map((b) => b.address));
    expect(pick(routeOf(backends, balance), ctx, CLIENT, undefined, tried)).toBeUndefined();
  });

  it.each(['roundrobin', 'leastconn', 'p2c', 'random', 'source'] as const)('%s: never an unavailable or excluded backend, always one of the others', (balance) => {
    const ctx = new FakeRegistry();
    const backends = backendsOf('/web', 5);
    ctx.down.add(backends[1]!.address);
    const exclude = new Set([backends[3]!.address]);
    const route = routeOf(backends, balance);
    const picks = times(300, (i) => pick(route, ctx, `10.9.${i >> 8}.${i & 255}`, undefined, exclude));
    expect(Object.keys(tally(picks)).sort()).toEqual(['web.1', 'web.3', 'web.5']);
  });

  it.each(['roundrobin', 'leastconn', 'p2c', 'random', 'source'] as const)('%s: weight 0 takes no new clients; all weights 0: undefined', (balance) => {
    const ctx = new FakeRegistry();
    const backends = [...backendsOf('/blue', 2, 1), ...backendsOf('/green', 2, 0)];
    const route = routeOf(backends, balance);
    const picks = times(200, (i) => pick(route, ctx, `10.9.0.${i}`));
    expect(Object.keys(tally(picks, (b) => b.appId))).toEqual(['/blue']);
    expect(pick(routeOf(backendsOf('/green', 2, 0), balance), ctx, CLIENT)).toBeUndefined();
  });
});

describe('pick: roundrobin', () => {
  it('equal weights: in order, the cursor kept on the route', () => {
    const ctx = new FakeRegistry();
    const route = routeOf(backendsOf('/web', 3), 'roundrobin');
    expect(times(7, () => pick(route, ctx, CLIENT)!.taskId)).toEqual(['web.1', 'web.2', 'web.3', 'web.1', 'web.2', 'web.3', 'web.1']);
    const fresh = routeOf(route.backends, 'roundrobin');
    expect(pick(fresh, ctx, CLIENT)!.taskId).toBe('web.1');
  });

  it('a backend that is out hands its turn on without giving anyone two turns', () => {
    const ctx = new FakeRegistry();
    const route = routeOf(backendsOf('/web', 3), 'roundrobin');
    ctx.down.add(route.backends[1]!.address);
    expect(times(6, () => pick(route, ctx, CLIENT)!.taskId)).toEqual(['web.1', 'web.3', 'web.1', 'web.3', 'web.1', 'web.3']);
  });

  it('asks the registry about one backend per pick when all are up', () => {
    const ctx = new FakeRegistry();
    const route = routeOf(backendsOf('/web', 10), 'roundrobin');
    times(10, () => pick(route, ctx, CLIENT));
    expect([...ctx.asked.values()]).toEqual(times(10, () => 1));
  });

  it('different weights: the exact split, smoothly interleaved', () => {
    const ctx = new FakeRegistry();
    const route = routeOf(blueGreen(), 'roundrobin');
    const picks = times(1000, () => pick(route, ctx, CLIENT));
    const byApp = tally(picks, (b) => b.appId);
    expect(byApp['/green']).toBeGreaterThanOrEqual(98);
    expect(byApp['/green']).toBeLessThanOrEqual(102);
    const byTask = tally(picks);
    for (const task of ['blue.1', 'blue.2', 'blue.3']) expect(Math.abs(byTask[task]! - 300)).toBeLessThanOrEqual(3);
    // Smooth: green's turns are spread out, never bunched.
    const greens = picks.flatMap((b, i) => (b!.appId === '/green' ? [i] : []));
    const gaps = greens.slice(1).map((at, k) => at - greens[k]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(5);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(15);
  });

  it('different weights: the share of a backend that is out goes to the others by weight', () => {
    const ctx = new FakeRegistry();
    const backends = blueGreen();
    ctx.down.add(backends[0]!.address);
    const route = routeOf(backends, 'roundrobin');
    const counts = tally(times(7000, () => pick(route, ctx, CLIENT)));
    // Left: blue.2 and blue.3 (3 each) and the greens (0.5 each), out of 7.
    expect(counts['blue.1']).toBeUndefined();
    expect(counts['blue.2']! / 7000).toBeCloseTo(3 / 7, 1);
    expect(counts['blue.3']! / 7000).toBeCloseTo(3 / 7, 1);
    expect(counts['green.1']! / 7000).toBeCloseTo(0.5 / 7, 1);
  });
});

describe('pick: leastconn', () => {
  it('the fewest in flight wins', () => {
    const ctx = new FakeRegistry();
    const backends = backendsOf('/web', 3);
    ctx.loads.set(backends[0]!.address, { inFlight: 4, latencyMs: 1 });
    ctx.loads.set(backends[1]!.address, { inFlight: 1, latencyMs: 50 });
    ctx.loads.set(backends[2]!.address, { inFlight: 2, latencyMs: 1 });
    const route = routeOf(backends, 'leastconn');
    expect(times(5, () => pick(route, ctx, CLIENT)!.taskId)).toEqual(times(5, () => 'web.2'));
  });

  it('counts in flight relative to weight', () => {
    const ctx = new FakeRegistry();
    const [heavy, light] = [...backendsOf('/blue', 1, 2), ...backendsOf('/green', 1, 1)];
    ctx.loads.set(heavy!.address, { inFlight: 3, latencyMs: 0 });
    ctx.loads.set(light!.address, { inFlight: 2, latencyMs: 0 });
    expect(pick(routeOf([heavy!, light!], 'leastconn'), ctx, CLIENT)).toBe(heavy);
    ctx.loads.set(heavy!.address, { inFlight: 5, latencyMs: 0 });
    expect(pick(routeOf([heavy!, light!], 'leastconn'), ctx, CLIENT)).toBe(light);
  });

  it('idle backends of equal weight take turns', () => {
    const ctx = new FakeRegistry();
    const route = routeOf(backendsOf('/web', 4), 'leastconn');
    expect(times(8, () => pick(route, ctx, CLIENT)!.taskId)).toEqual(['web.1', 'web.2', 'web.3', 'web.4', 'web.1', 'web.2', 'web.3', 'web.4']);
  });

  it('idle backends of different weights share by weight', () => {
    const ctx = new FakeRegistry();
    const route = routeOf(blueGreen(), 'leastconn');
    const byApp = tally(times(2000, () => pick(route, ctx, CLIENT)), (b) => b.appId);
    expect(byApp['/green']! / 2000).toBeCloseTo(0.1, 1);
  });

  it('a less loaded backend that is out is skipped for the next least loaded', () => {
    const ctx = new FakeRegistry();
    const backends = backendsOf('/web', 3);
    ctx.loads.set(backends[0]!.address, { inFlight: 9, latencyMs: 0 });
    ctx.loads.set(backends[2]!.address, { inFlight: 3, latencyMs: 0 });
    ctx.down.add(backends[1]!.address);
    expect(pick(routeOf(backends, 'leastconn'), ctx, CLIENT)!.taskId).toBe('web.3');
    expect(pick(routeOf(backends, 'leastconn'), ctx, CLIENT, undefined, new Set([backends[2]!.address]))!.taskId).toBe('web.1');
  });
});

describe('pick: p2c', () => {
  it('a busy backend loses to any idle one', () => {
    const ctx = new FakeRegistry(7);
    const backends = backendsOf('/web', 4);
    ctx.loads.set(backends[2]!.address, { inFlight: 20, latencyMs: 5 });
    const route = routeOf(backends, 'p2c');
    const counts = tally(times(1000, () => pick(route, ctx, CLIENT)));
    expect(counts['web.3']).toBeUndefined();
    for (const task of ['web.1', 'web.2', 'web.4']) expect(counts[task]! / 1000).toBeCloseTo(1 / 3, 1);
  });

  it('a slow backend loses to a fast one when both are idle', () => {
    const ctx = new FakeRegistry(11);
    const backends = backendsOf('/web', 3);
    ctx.loads.set(backends[0]!.address, { inFlight: 0, latencyMs: 400 });
    ctx.loads.set(backends[1]!.address, { inFlight: 0, latencyMs: 4 });
    ctx.loads.set(backends[2]!.address, { inFlight: 0, latencyMs: 5 });
    const counts = tally(times(600, () => pick(routeOf(backends, 'p2c'), ctx, CLIENT)));
    expect(counts['web.1']).toBeUndefined();
    expect(counts['web.2']).toBeGreaterThan(counts['web.3']!);
  });

  it('weighs load against latency: a fast backend with a little more in flight still wins over a slow idle one', () => {
    const ctx = new FakeRegistry(3);
    const [fast, slow] = backendsOf('/web', 2);
    ctx.loads.set(fast!.address, { inFlight: 2, latencyMs: 3 });
    ctx.loads.set(slow!.address, { inFlight: 0, latencyMs: 100 });
    expect(pick(routeOf([fast!, slow!], 'p2c'), ctx, CLIENT)).toBe(fast);
  });

  it('idle backends split by weight', () => {
    const ctx = new FakeRegistry(5);
    const route = routeOf(blueGreen(), 'p2c');
    const byApp = tally(times(4000, () => pick(route, ctx, CLIENT)), (b) => b.appId);
    expect(byApp['/green']! / 4000).toBeCloseTo(0.1, 1);
  });

  it('when a draw is out, the other candidates still get compared', () => {
    const ctx = new FakeRegistry(9);
    const backends = backendsOf('/web', 3);
    ctx.down.add(backends[0]!.address);
    ctx.loads.set(backends[1]!.address, { inFlight: 6, latencyMs: 0 });
    const counts = tally(times(500, () => pick(routeOf(backends, 'p2c'), ctx, CLIENT)));
    expect(counts['web.1']).toBeUndefined();
    expect(counts['web.3']).toBe(500);
  });

  it('one backend: that one', () => {
    const ctx = new FakeRegistry();
    const [only] = backendsOf('/web', 1);
    expect(pick(routeOf([only!], 'p2c'), ctx, CLIENT)).toBe(only);
  });
});

describe('pick: random', () => {
  it('equal weights: an even spread', () => {
    const ctx = new FakeRegistry(21);
    const counts = tally(times(5000, () => pick(routeOf(backendsOf('/web', 5), 'random'), ctx, CLIENT)));
    for (const n of Object.values(counts)) expect(n / 5000).toBeCloseTo(0.2, 1);
  });

  it('different weights: the weight split', () => {
    const ctx = new FakeRegistry(22);
    const route = routeOf(blueGreen(), 'random');
    const byApp = tally(times(5000, () => pick(route, ctx, CLIENT)), (b) => b.appId);
    expect(byApp['/green']! / 5000).toBeCloseTo(0.1, 1);
  });

  it('a draw on a backend that is out draws again among the others by weight', () => {
    const ctx = new FakeRegistry(23);
    const backends = blueGreen();
    ctx.down.add(backends[3]!.address);
    const counts = tally(times(5000, () => pick(routeOf(backends, 'random'), ctx, CLIENT)));
    expect(counts['green.1']).toBeUndefined();
    expect(counts['green.2']! / 5000).toBeCloseTo(0.5 / 9.5, 1);
    expect(counts['blue.1']! / 5000).toBeCloseTo(3 / 9.5, 1);
  });

  it('the injected random source makes it repeatable', () => {
    const route = routeOf(backendsOf('/web', 6), 'random');
    const run = () => {
      const ctx = new FakeRegistry(99);
      return times(50, () => pick(route, ctx, CLIENT)!.taskId);
    };
    expect(run()).toEqual(run());
  });
});

describe('pick: sticky sessions', () => {
  it('the cookie naming a backend of the route that may take the request wins', () => {
    const ctx = new FakeRegistry();
    const route = routeOf(backendsOf('/web', 3), 'roundrobin', true);
    expect(times(4, () => pick(route, ctx, CLIENT, 'web-id-3')!.taskId)).toEqual(times(4, () => 'web.3'));
  });

  it('falls back to the policy when its backend is gone, out or already tried', () => {
    const ctx = new FakeRegistry();
    const backends = backendsOf('/web', 3);
    const route = routeOf(backends, 'leastconn', true);
    expect(backends.map((b) => b.id)).not.toContain('gone-id');
    expect(pick(route, ctx, CLIENT, 'gone-id')).toBeDefined();
    ctx.down.add(backends[2]!.address);
    expect(times(6, () => pick(route, ctx, CLIENT, 'web-id-3')!.taskId)).not.toContain('web.3');
    ctx.down.clear();
    expect(pick(route, ctx, CLIENT, 'web-id-3', new Set([backends[2]!.address]))!.taskId).not.toBe('web.3');
  });

  it('keeps a client on a backend of weight 0 (draining) that may still take requests', () => {
    const ctx = new FakeRegistry();
    const backends = [...backendsOf('/blue', 2, 1), ...backendsOf('/green', 1, 0)];
    expect(pick(routeOf(backends, 'random', true), ctx, CLIENT, 'green-id-1')!.taskId).toBe('green.1');
  });

  it('a route that is not sticky ignores the cookie', () => {
    const ctx = new FakeRegistry();
    const route = routeOf(backendsOf('/web', 3), 'roundrobin', false);
    expect(times(3, () => pick(route, ctx, CLIENT, 'web-id-3')!.taskId)).toEqual(['web.1', 'web.2', 'web.3']);
  });
});
