/**
 * DataPath wires the registry from the config: breaker settings and retries reach the data path,
 * and `runtime()` shows each backend's breaker, in-flight count and latency for `/routes`.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { DataPath } from '../../src/data-path.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { buildTable, closeAll, closedAddress, route, send, startBackend } from './proxy-harness.js';

const paths: DataPath[] = [];
afterEach(async () => {
  await Promise.all(paths.splice(0).map((path) => path.close()));
  await closeAll();
});

async function startDataPath(file: Record<string, unknown>, addresses: string[]) {
  const config = loadConfig(['--marathon', 'http://127.0.0.1:1', '--http', '127.0.0.1:0'], {}, (path) =>
    path === 'config/baton.json' ? JSON.stringify({ shutdownGraceMs: 100, ...file }) : undefined,
  );
  const tables = { current: buildTable([route('app.test', addresses)]) };
  const dataPath = new DataPath(config, tables, pino({ level: 'silent' }), createMetrics());
  paths.push(dataPath);
  dataPath.onSwap(tables.current);
  const { http } = await dataPath.listen();
  return { dataPath, port: http.port };
}

describe('DataPath and the backend registry', () => {
  it("applies the config's breaker settings and shows backend state in runtime()", async () => {
    const bad = await startBackend((req, res) => {
      req.resume();
      res.writeHead(500).end();
    });
    const good = await startBackend((req, res) => {
      req.resume();
      res.end('good');
    });
    const { dataPath, port } = await startDataPath({ breaker: { volumeThreshold: 2, resetTimeoutMs: 60_000 } }, [bad.address, good.address]);

    for (let i = 0; i < 8; i++) await send(port, { headers: { host: 'app.test' } });
    const backends = dataPath.runtime().backends ?? {};
    expect(backends[bad.address]).toMatchObject({ breaker: 'open', inFlight: 0 });
    expect(backends[good.address]).toMatchObject({ breaker: 'closed', inFlight: 0 });
    expect(backends[good.address]?.latencyMs).toBeGreaterThan(0);
  });

  it("applies the config's retries", async () => {
    const refused = [await closedAddress(), await closedAddress()];
    const good = await startBackend((req, res) => {
      req.resume();
      res.end('good');
    });
    // Round robin offers the two refusing backends first: one retry is not enough, two are.
    const once = await startDataPath({ retries: 1 }, [...refused, good.address]);
    expect((await send(once.port, { headers: { host: 'app.test' } })).headers['x-baton-error']).toBe('upstream-connect');
    const twice = await startDataPath({ retries: 2 }, [...refused, good.address]);
    expect((await send(twice.port, { headers: { host: 'app.test' } })).body.toString()).toBe('good');
  });
});
