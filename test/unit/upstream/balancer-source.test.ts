import { describe, expect, it } from 'vitest';
import type { Backend } from '../../../src/routing/types.js';
import { pick } from '../../../src/upstream/balancer.js';
import { backendsOf, FakeRegistry, routeOf, tally, times } from './balancer-fixtures.js';

const CLIENTS = times(1000, (i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);

/** Each client's backend (task id) on a source-hashed route of these backends. */
function assignment(backends: readonly Backend[], ctx = new FakeRegistry()): Map<string, string> {
  const route = routeOf(backends, 'source');
  return new Map(CLIENTS.map((client) => [client, pick(route, ctx, client)!.taskId]));
}

function moved(before: Map<string, string>, after: Map<string, string>): string[] {
  return CLIENTS.filter((client) => before.get(client) !== after.get(client));
}

describe('pick: source (rendezvous hashing of the client address)', () => {
  it('a client keeps its backend, on every pick and in every rebuilt table', () => {
    const ctx = new FakeRegistry();
    const route = routeOf(backendsOf('/web', 5), 'source');
    for (const client of CLIENTS.slice(0, 50)) {
      const first = pick(route, ctx, client)!;
      expect(times(3, () => pick(route, ctx, client))).toEqual([first, first, first]);
    }
    // New Backend objects with the same ids: the same assignment.
    expect(assignment(backendsOf('/web', 5))).toEqual(assignment(backendsOf('/web', 5)));
  });

  it('spreads clients evenly', () => {
    const counts = new Map<string, number>();
    for (const taskId of assignment(backendsOf('/web', 5)).values()) counts.set(taskId, (counts.get(taskId) ?? 0) + 1);
    expect(counts.size).toBe(5);
    for (const n of counts.values()) expect(n).toBeGreaterThan(140);
  });

  it('adding a backend moves fewer than 2/n of the clients, all of them to the new one', () => {
    const before = assignment(backendsOf('/web', 5));
    const after = assignment(backendsOf('/web', 6));
    const movers = moved(before, after);
    expect(movers.length).toBeGreaterThan(0);
    expect(movers.length).toBeLessThan((2 / 6) * CLIENTS.length);
    for (const client of movers) expect(after.get(client)).toBe('web.6');
  });

  it('removing a backend moves only its clients', () => {
    const all = backendsOf('/web', 6);
    const before = assignment(all);
    const after = assignment(all.filter((b) => b.taskId !== 'web.4'));
    const movers = moved(before, after);
    expect(movers.length).toBeLessThan((2 / 6) * CLIENTS.length);
    for (const client of movers) expect(before.get(client)).toBe('web.4');
  });

  it('a backend that is out sends only its own clients elsewhere, and they come back', () => {
    const backends = backendsOf('/web', 5);
    const ctx = new FakeRegistry();
    const before = assignment(backends, ctx);
    ctx.down.add(backends[1]!.address);
    const during = assignment(backends, ctx);
    for (const client of moved(before, during)) expect(before.get(client)).toBe('web.2');
    expect([...during.values()]).not.toContain('web.2');
    ctx.down.clear();
    expect(assignment(backends, ctx)).toEqual(before);
  });

  it('a retry that excludes the first choice goes to the client\'s second choice, the same every time', () => {
    const ctx = new FakeRegistry();
    const route = routeOf(backendsOf('/web', 5), 'source');
    const client = CLIENTS[7]!;
    const first = pick(route, ctx, client)!;
    const second = pick(route, ctx, client, undefined, new Set([first.address]))!;
    expect(second).not.toBe(first);
    expect(pick(route, ctx, client, undefined, new Set([first.address]))).toBe(second);
  });

  it('respects weights: a blue/green route splits clients by weight', () => {
    const backends = [...backendsOf('/blue', 3, 3), ...backendsOf('/green', 2, 0.5)];
    const ctx = new FakeRegistry();
    const route = routeOf(backends, 'source');
    const clients = times(5000, (i) => `172.16.${i >> 8}.${i & 255}`);
    const byApp = tally(clients.map((c) => pick(route, ctx, c)), (b) => b.appId);
    expect(byApp['/green']! / 5000).toBeCloseTo(0.1, 1);
  });

  it('asks the registry about one backend per pick when the winner is up', () => {
    const ctx = new FakeRegistry();
    const route = routeOf(backendsOf('/web', 8), 'source');
    pick(route, ctx, CLIENTS[0]!);
    expect([...ctx.asked.values()]).toEqual([1]);
  });
});
