/**
 * The control plane's metrics as an operator's dashboard reads them from GET /metrics: the table
 * (routes by kind, backends, build times), Marathon's last event, maintenance.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startBackend, type TestBackend } from '../helpers/backends.js';
import { startSystem, type System } from '../helpers/system.js';
import { waitFor } from '../helpers/wait-for.js';

let system: System | undefined;
const backends: TestBackend[] = [];
afterEach(async () => {
  await system?.close();
  system = undefined;
  await Promise.all(backends.splice(0).map((b) => b.close()));
});

/** One sample of the Prometheus text, by name and exact label text (e.g. `{kind="http"}`). */
function sample(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  if (line === undefined) throw new Error(`no sample ${name}${labels}`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('control-plane metrics', () => {
  it('show the table, the last Marathon event and tasks out of service', async () => {
    const [a, b] = [await startBackend('a'), await startBackend('b')];
    backends.push(a, b);
    const started = Date.now() / 1000;
    system = await startSystem({
      before: (sim) => {
        sim.deployApp({ id: '/web' });
        sim.startTask('/web', { host: '127.0.0.1', ports: [a.port] });
        sim.startTask('/web', { host: '127.0.0.1', ports: [b.port] });
      },
    });
    const s = system;
    const scrape = async () => (await fetch(`${s.adminUrl}/metrics`)).text();
    let text = await scrape();
    expect(sample(text, 'baton_table_routes', '{kind="http"}')).toBe(1);
    expect(sample(text, 'baton_table_routes', '{kind="tcp"}')).toBe(0);
    expect(sample(text, 'baton_table_backends')).toBe(2);
    expect(sample(text, 'baton_table_build_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'baton_maintenance_out_of_service')).toBe(0);

    // An event moves the last-event time; a mark takes a task out of service.
    s.sim.deployApp({ id: '/api' });
    await waitFor(async () => sample(await scrape(), 'baton_marathon_last_event_timestamp_seconds') >= started, 'an event after start');
    const task = (await s.admin('/routes')).json.routes[0].backends[0].taskId as string;
    const mark = await fetch(`${s.adminUrl}/maintenance`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ tasks: [task] }) });
    expect(mark.status).toBe(201);
    text = await scrape();
    expect(sample(text, 'baton_maintenance_out_of_service')).toBe(1);
    expect(sample(text, 'baton_table_backends')).toBe(1);
    expect(sample(text, 'baton_table_swaps_total')).toBe(sample(text, 'baton_table_version'));
  });
});
