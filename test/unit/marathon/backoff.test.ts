import { describe, expect, it } from 'vitest';
import { Backoff } from '../../../src/marathon/backoff.js';

describe('Backoff', () => {
  it('doubles the ceiling per attempt up to the cap', () => {
    const top = new Backoff(500, 30_000, () => 0.999999);
    const delays = Array.from({ length: 9 }, () => top.next());
    expect(delays).toEqual([499, 999, 1999, 3999, 7999, 15999, 29999, 29999, 29999]);
  });

  it('uses full jitter: anywhere from 0 to the ceiling', () => {
    expect(new Backoff(500, 30_000, () => 0).next()).toBe(0);
    const half = new Backoff(1_000, 30_000, () => 0.5);
    expect([half.next(), half.next(), half.next()]).toEqual([500, 1_000, 2_000]);
  });

  it('starts over after reset()', () => {
    const backoff = new Backoff(100, 10_000, () => 0.999999);
    for (let i = 0; i < 5; i++) backoff.next();
    backoff.reset();
    expect(backoff.next()).toBe(99);
  });

  it('never overflows after very many attempts', () => {
    const backoff = new Backoff(500, 30_000, () => 0.999999);
    for (let i = 0; i < 5_000; i++) backoff.next();
    expect(backoff.next()).toBe(29999);
  });
});
