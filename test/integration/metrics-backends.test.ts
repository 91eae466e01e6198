/**
 * Per-backend metrics after real traffic through a DataPath: failed attempts by error code, the
 * breaker state kept current, and the series of backends that left the table removed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { closedAddress, route, send, startBackend, waitFor } from './proxy-harness.js';
import { scrape, startDataPath, stopAll, tableOf, valueIn } from './metrics-harness.js';

afterEach(stopAll);

const APP = '/app.test';
const HOST = { host: 'app.test' };

async function answering(status: number) {
  return startBackend((req, res) => {
    req.resume();
    res.writeHead(status).end('answer');
  });
}

describe('per-backend metrics', () => {
  it('counts failed attempts by error code on the backend that failed', async () => {
    const refused = await closedAddress();
    const good = await answering(200);
    const { metrics, port } = await startDataPath(tableOf([route('app.test', [refused, good.address])]));

    // Round robin: the first request tries the refusing backend, then retries on the good one.
    for (let i = 0; i < 4; i++) expect((await send(port, { headers: HOST })).status).toBe(200);

    const samples = await scrape(metrics.registry);
    expect(valueIn(samples, 'baton_backend_errors_total', { app: APP, backend: refused, code: 'upstream-connect' })).toBeGreaterThanOrEqual(1);
    expect(samples.filter((s) => s.name === 'baton_backend_errors_total' && s.labels.backend === good.address)).toEqual([]);
  });

  it('shows the breaker state of each backend: 2 once it opened, 0 for a healthy one', async () => {
    const bad = await answering(500);
    const good = await answering(200);
    const { metrics, port } = await startDataPath(tableOf([route('app.test', [bad.address, good.address])]), {
      breaker: { volumeThreshold: 2, resetTimeoutMs: 60_000 },
    });
    const state = async (address: string) => valueIn(await scrape(metrics.registry), 'baton_backend_breaker_state', { app: APP, backend: address });
    expect(await state(bad.address)).toBe(0);

    for (let i = 0; i < 8; i++) await send(port, { headers: HOST });

    expect(await state(bad.address)).toBe(2);
    expect(await state(good.address)).toBe(0);
  });

  it('removes the series of backends that left the table', async () => {
    const gone = await answering(200);
    const kept = await answering(200);
    const { metrics, port, swap } = await startDataPath(tableOf([route('app.test', [gone.address, kept.address])]));
    for (let i = 0; i < 2; i++) await send(port, { headers: HOST });
    expect(valueIn(await scrape(metrics.registry), 'baton_backend_breaker_state', { app: APP, backend: gone.address })).toBe(0);

    swap(tableOf([route('app.test', [kept.address])]));

    const samples = await scrape(metrics.registry);
    expect(samples.filter((s) => s.labels.backend === gone.address)).toEqual([]);
    expect(valueIn(samples, 'baton_backend_breaker_state', { app: APP, backend: kept.address })).toBe(0);
  });

  it('shows the open breaker of a backend that left with a request in flight and came back', async () => {
    let release: (() => void) | undefined;
    const bad = await startBackend((req, res) => {
      req.resume();
      if (req.url === '/hold') release = () => res.writeHead(500).end();
      else res.writeHead(500).end();
    });
    const good = await answering(200);
    const both = tableOf([route('app.test', [bad.address, good.address])]);
    const { metrics, port, swap } = await startDataPath(both, { breaker: { volumeThreshold: 2, resetTimeoutMs: 60_000 } });
    const state = async () => valueIn(await scrape(metrics.registry), 'baton_backend_breaker_state', { app: APP, backend: bad.address });

    // Round robin: the held request goes to `bad` and stays in flight; the next ones alternate
    // until two 500s in a row open its breaker.
    const held = send(port, { path: '/hold', headers: HOST });
    await waitFor(() => release !== undefined, 'the held request to reach the backend');
    for (let i = 0; i < 6; i++) await send(port, { headers: HOST });
    expect(await state()).toBe(2);

    swap(tableOf([route('app.test', [good.address])]));
    expect(await state()).toBeUndefined();
    // Still draining its request, the backend keeps its breaker; back in the table, its series says so.
    swap(both);
    expect(await state()).toBe(2);
    release?.();
    await held;
  });
});
