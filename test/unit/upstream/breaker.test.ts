import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics, type Metrics } from '../../../src/observability/metrics.js';
import { BackendBreaker, type BreakerSettings } from '../../../src/upstream/breaker.js';
import { waitFor } from '../../helpers/wait-for.js';

const breakers: BackendBreaker[] = [];
afterEach(() => {
  for (const breaker of breakers.splice(0)) breaker.shutdown();
});

interface Harness {
  readonly breaker: BackendBreaker;
  readonly logs: Record<string, unknown>[];
  readonly metrics: Metrics;
  readonly rotation: EventEmitter;
}

const SETTINGS: BreakerSettings = { errorThresholdPercentage: 50, volumeThreshold: 4, resetTimeoutMs: 60_000, failOn5xx: true };

function breakerWith(settings: Partial<BreakerSettings> = {}): Harness {
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const metrics = createMetrics();
  const rotation = new EventEmitter();
  const breaker = new BackendBreaker('10.0.0.1:80', { ...SETTINGS, ...settings }, { logger: pino({ level: 'info' }, sink), metrics, rotation, rollingWindowMs: 10_000 });
  breakers.push(breaker);
  return { breaker, logs, metrics, rotation };
}

async function gauge(metrics: Metrics): Promise<number> {
  return (await metrics.backendBreakersOpen.get()).values[0]?.value ?? 0;
}

async function transitions(metrics: Metrics, to: string): Promise<number> {
  return (await metrics.backendBreakerTransitions.get()).values.find((v) => v.labels.to === to)?.value ?? 0;
}

describe('BackendBreaker', () => {
  it('opens once the window holds the volume and the failure rate passes the threshold', async () => {
    const { breaker, metrics, logs } = breakerWith();
    breaker.failed(false);
    breaker.failed(false);
    breaker.answered(200, false);
    // 2 of 3 failed, but 3 < volume 4.
    expect(breaker.state).toBe('closed');
    breaker.failed(false);
    expect(breaker.state).toBe('open');
    expect(breaker.available).toBe(false);
    expect(breaker.counts()).toEqual({ requests: 4, failures: 3 });
    expect(await gauge(metrics)).toBe(1);
    expect(await transitions(metrics, 'open')).toBe(1);
    expect(logs).toEqual([expect.objectContaining({ level: 30, backend: '10.0.0.1:80', from: 'closed', requests: 4, failures: 3, msg: 'circuit breaker opened' })]);
  });

  it('opens after volumeThreshold failures in a row, however many successes the window holds', () => {
    const { breaker } = breakerWith({ volumeThreshold: 5 });
    for (let i = 0; i < 1000; i++) breaker.answered(200, false);
    for (let i = 0; i < 4; i++) breaker.failed(false);
    breaker.answered(200, false);
    for (let i = 0; i < 4; i++) breaker.failed(false);
    // Two runs of 4, broken by a success: still closed (8 of 1009 failed).
    expect(breaker.state).toBe('closed');
    breaker.failed(false);
    expect(breaker.state).toBe('open');
  });

  it('stays closed at or under the threshold', () => {
    const { breaker } = breakerWith();
    for (let i = 0; i < 10; i++) {
      breaker.answered(200, false);
      breaker.failed(false);
    }
    // Exactly 50%: opossum opens only above the threshold.
    expect(breaker.state).toBe('closed');
  });

  it('forgets failures that rotated out of the window', () => {
    const { breaker, rotation } = breakerWith();
    breaker.failed(false);
    breaker.failed(false);
    breaker.failed(false);
    for (let i = 0; i < 10; i++) rotation.emit('rotate');
    breaker.answered(200, false);
    breaker.failed(false);
    expect(breaker.counts()).toEqual({ requests: 2, failures: 1 });
    expect(breaker.state).toBe('closed');
  });

  it('counts 5xx as failures only with failOn5xx', () => {
    const on = breakerWith().breaker;
    const off = breakerWith({ failOn5xx: false }).breaker;
    for (let i = 0; i < 4; i++) {
      on.answered(503, false);
      off.answered(503, false);
    }
    expect(on.state).toBe('open');
    expect(off.state).toBe('closed');
    expect(off.counts()).toEqual({ requests: 4, failures: 0 });
  });

  it('with a response code ratio, counts only answers in its range and fails those in its failure range', () => {
    // traefik: ResponseCodeRatio(500, 600, 0, 600) > 0.5
    const { breaker } = breakerWith({ responseCodeRatio: [500, 600, 0, 600] as const, failOn5xx: false });
    breaker.answered(404, false);
    breaker.answered(700, false);
    breaker.answered(502, false);
    expect(breaker.counts()).toEqual({ requests: 2, failures: 1 });
    breaker.answered(500, false);
    breaker.answered(500, false);
    expect(breaker.state).toBe('open');
  });

  it('goes half-open after resetTimeout, lets exactly one probe through, and closes when it succeeds', async () => {
    const { breaker, metrics, logs } = breakerWith({ volumeThreshold: 1, resetTimeoutMs: 50 });
    breaker.failed(false);
    expect(breaker.state).toBe('open');
    expect(breaker.takeProbe()).toBe(false);
    await waitFor(() => breaker.state === 'half-open');
    expect(breaker.available).toBe(true);
    expect(breaker.takeProbe()).toBe(true);
    // The probe is out: nothing else gets through until it is judged.
    expect(breaker.available).toBe(false);
    expect(breaker.takeProbe()).toBe(false);
    breaker.answered(200, true);
    await waitFor(() => breaker.state === 'closed');
    expect(breaker.available).toBe(true);
    expect(await gauge(metrics)).toBe(0);
    expect(logs.map((l) => l.msg)).toEqual(['circuit breaker opened', 'circuit breaker half-open: one probe allowed', 'circuit breaker closed: probe succeeded']);
  });

  it('opens again when the probe fails or is abandoned, and probes again after resetTimeout', async () => {
    const { breaker, metrics } = breakerWith({ volumeThreshold: 1, resetTimeoutMs: 50 });
    breaker.failed(false);
    await waitFor(() => breaker.state === 'half-open');
    expect(breaker.takeProbe()).toBe(true);
    breaker.answered(500, true);
    await waitFor(() => breaker.state === 'open');
    await waitFor(() => breaker.state === 'half-open');
    expect(breaker.takeProbe()).toBe(true);
    breaker.abandoned(true);
    await waitFor(() => breaker.state === 'open');
    expect(await gauge(metrics)).toBe(1);
    expect(await transitions(metrics, 'open')).toBe(3);
    expect(await transitions(metrics, 'half-open')).toBe(2);
  });

  it('does not count outcomes of requests that were in flight when it opened', async () => {
    const { breaker } = breakerWith({ volumeThreshold: 1, resetTimeoutMs: 50 });
    breaker.failed(false);
    await waitFor(() => breaker.state === 'half-open');
    // A late success of an old request does not close it; a late failure does not re-open it.
    breaker.answered(200, false);
    breaker.failed(false);
    expect(breaker.state).toBe('half-open');
    expect(breaker.available).toBe(true);
  });

  it('takes new settings without losing its state', () => {
    const { breaker } = breakerWith({ volumeThreshold: 100 });
    for (let i = 0; i < 5; i++) breaker.failed(false);
    expect(breaker.state).toBe('closed');
    breaker.configure({ ...SETTINGS, volumeThreshold: 5 });
    breaker.failed(false);
    expect(breaker.state).toBe('open');
    expect(breaker.settings.volumeThreshold).toBe(5);
  });

  it('takes an open breaker off the gauge when shut down', async () => {
    const { breaker, metrics } = breakerWith({ volumeThreshold: 1 });
    breaker.failed(false);
    expect(await gauge(metrics)).toBe(1);
    breaker.shutdown();
    expect(await gauge(metrics)).toBe(0);
  });
});
