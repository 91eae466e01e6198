import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import type { Counter } from 'prom-client';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { MarathonClient, type MarathonClientOptions, type MarathonSink } from '../../../src/marathon/client.js';
import { createMetrics, type Metrics } from '../../../src/observability/metrics.js';
import type { AppSnapshot, MarathonChange } from '../../../src/state/model.js';
import { FakeMarathon, type FakeMarathonOptions } from './fake-marathon.js';
import { fixture } from './fixture.js';

type SinkCall =
  | { kind: 'snapshot'; apps: AppSnapshot[] }
  | { kind: 'apps'; fetched: AppSnapshot[]; gone: string[] }
  | { kind: 'changes'; changes: MarathonChange[] };

class RecordingSink implements MarathonSink {
  readonly calls: SinkCall[] = [];
  snapshot(apps: AppSnapshot[]): void {
    this.calls.push({ kind: 'snapshot', apps });
  }
  apps(fetched: AppSnapshot[], gone: string[]): void {
    this.calls.push({ kind: 'apps', fetched, gone });
  }
  changes(changes: MarathonChange[]): void {
    this.calls.push({ kind: 'changes', changes });
  }
  count(kind: SinkCall['kind']): number {
    return this.calls.filter((c) => c.kind === kind).length;
  }
  allChanges(): MarathonChange[] {
    return this.calls.flatMap((c) => (c.kind === 'changes' ? c.changes : []));
  }
}

async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 8_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function counter(metric: Counter<string>, labels: Record<string, string> = {}): Promise<number> {
  const { values } = await metric.get();
  const match = values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return match?.value ?? 0;
}

const APPS = (fixture('apps-marathon-1.8plus.json') as { apps: unknown[] }).apps;
const WEB_TASK = 'shop_web.instance-1a2b3c4d-6bf0-11e9-a4a2-0242ac110002._app.1';

function statusUpdate(taskStatus: string, taskId = WEB_TASK): unknown {
  return { eventType: 'status_update_event', appId: '/shop/web', taskId, taskStatus, host: 'agent-1.example.com', ports: [31001], ipAddresses: [{ ipAddress: '10.0.1.11', protocol: 'IPv4' }], version: '2019-05-01T09:00:50.000Z' };
}

const clients: MarathonClient[] = [];
const fakes: FakeMarathon[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.stop()));
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});

async function fake(opts: FakeMarathonOptions = { apps: APPS }): Promise<FakeMarathon> {
  const started = await FakeMarathon.start(opts);
  fakes.push(started);
  return started;
}

interface Harness {
  client: MarathonClient;
  sink: RecordingSink;
  metrics: Metrics;
  /** Every log line the client wrote, at debug level and up. */
  logs: string[];
}

function harness(urls: string[], extra: Partial<MarathonClientOptions> = {}, sink = new RecordingSink()): Harness & { sink: RecordingSink } {
  const logs: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) });
  const metrics = createMetrics();
  const client = new MarathonClient(
    { urls, logger, metrics, idleTimeoutMs: 5_000, backoff: { initialMs: 10, maxMs: 100 }, resyncIntervalMs: 600_000, refetchCoalesceMs: 20, ...extra },
    sink,
  );
  clients.push(client);
  return { client, sink, metrics, logs };
}

describe('MarathonClient: connect, snapshot, events', () => {
  it('opens the stream with exactly "Accept: text/event-stream", re-syncs, then delivers events as changes', async () => {
    const marathon = await fake();
    const { client, sink, metrics } = harness([marathon.url]);
    client.start();
    await waitFor('snapshot', () => sink.count('snapshot') === 1);
    expect(marathon.streamRequests[0]?.accept).toBe('text/event-stream');
    expect(sink.calls[0]).toMatchObject({ kind: 'snapshot', apps: [{ app: { id: '/shop/web' } }, { app: { id: '/shop/api' } }] });
    expect(client.status()).toMatchObject({ connected: true, url: marathon.url, leader: marathon.url, reconnects: 0 });
    expect(client.status().lastSyncAt).toBeGreaterThan(0);
    expect((await metrics.marathonConnected.get()).values[0]?.value).toBe(1);

    marathon.send('status_update_event', statusUpdate('TASK_KILLING'));
    await waitFor('change', () => sink.count('changes') === 1);
    expect(sink.allChanges()).toEqual([expect.objectContaining({ type: 'task-status', taskId: WEB_TASK, state: 'TASK_KILLING' })]);
    expect(await counter(metrics.marathonEvents, { type: 'status_update_event' })).toBe(1);
    expect(await counter(metrics.marathonEvents, { type: 'event_stream_attached' })).toBe(1);
    expect(await counter(metrics.marathonResyncs, { reason: 'connect' })).toBe(1);

    await client.stop();
    expect(client.status().connected).toBe(false);
    expect((await metrics.marathonConnected.get()).values[0]?.value).toBe(0);
  });

  it('the fake is as strict as Marathon: any other Accept value gets 405', async () => {
    const marathon = await fake();
    for (const accept of ['text/event-stream, */*', 'text/event-stream;charset=utf-8', '*/*']) {
      const res = await request(`${marathon.url}/v2/events`, { headers: { accept } });
      await res.body.dump();
      expect(res.statusCode).toBe(405);
    }
    const { client, sink } = harness([marathon.url]);
    client.start();
    await waitFor('snapshot', () => sink.count('snapshot') === 1);
    expect(client.status().connected).toBe(true);
  });
});

describe('MarathonClient: dead streams and heartbeats', () => {
  it('a heartbeat split across writes (\\r then \\n) and an event with split CRLFs cause no error and keep the stream alive', async () => {
    const marathon = await fake();
    const idleTimeoutMs = 1_000;
    const { client, sink, metrics } = harness([marathon.url], { idleTimeoutMs });
    client.start();
    await waitFor('snapshot', () => sink.count('snapshot') === 1);

    // Half a heartbeat every 100 ms for longer than the idle timeout (only the bytes keep the
    // stream alive), then an event whose CRLFs are split across writes as well.
    const frame = `event: status_update_event\r\ndata: ${JSON.stringify(statusUpdate('TASK_RUNNING'))}\r\n\r\n`;
    const writes = [...Array.from({ length: 16 }, (_, i) => (i % 2 === 0 ? '\r' : '\n')), ...frame.split(/(?<=\r)/)];
    expect(writes.slice(-4)).toEqual(['event: status_update_event\r', expect.stringMatching(/^\ndata: \{.*\r$/), '\n\r', '\n']);
    const writing = setInterval(() => {
      const next = writes.shift();
      if (next !== undefined) marathon.write(next);
    }, 100);
    try {
      await waitFor('all writes', () => writes.length === 0);
    } finally {
      clearInterval(writing);
    }
    await waitFor('event after the heartbeats', () => sink.count('changes') === 1);

    expect(sink.allChanges()).toEqual([expect.objectContaining({ type: 'task-status', state: 'TASK_RUNNING' })]);
    expect(client.status()).toMatchObject({ connected: true, reconnects: 0 });
    expect(client.status().lastError).toBeUndefined();
    expect(marathon.streamRequests).toHaveLength(1);
    expect(await counter(metrics.marathonRejects, { kind: 'event' })).toBe(0);
  });

  it('detects a stream that sends no bytes, reconnects and re-syncs', async () => {
    const marathon = await fake();
    const { client, sink, metrics } = harness([marathon.url], { idleTimeoutMs: 300 });
    client.start();
    await waitFor('second stream', () => marathon.streamRequests.length >= 2);
    await waitFor('second snapshot', () => sink.count('snapshot') >= 2);
    expect(client.status().reconnects).toBeGreaterThanOrEqual(1);
    expect(client.status().lastError).toMatch(/no data for 300 ms/);
    expect(await counter(metrics.marathonReconnects)).toBeGreaterThanOrEqual(1);
  });

  it('re-syncs after every reconnect', async () => {
    const marathon = await fake();
    const { client, sink, metrics } = harness([marathon.url]);
    client.start();
    for (let n = 1; n <= 3; n++) {
      await waitFor(`snapshot ${n}`, () => sink.count('snapshot') === n && marathon.streams.length === 1);
      if (n < 3) marathon.endStreams();
    }
    expect(marathon.streamRequests).toHaveLength(3);
    expect(marathon.snapshotRequests).toHaveLength(3);
    expect(client.status().reconnects).toBe(2);
    expect(await counter(metrics.marathonResyncs, { reason: 'connect' })).toBe(3);
  });
});

describe('MarathonClient: leaders, URLs and credentials', () => {
  it('follows a standby 302 to the leader and re-sends the Authorization header, for the stream and the snapshot', async () => {
    const authorization = `Basic ${Buffer.from('ops:hunter2').toString('base64')}`;
    const leader = await fake({ apps: APPS, authorization });
    const standby = await fake({ redirectTo: leader.url });
    const { client, sink } = harness([standby.url], { credentials: { user: 'ops', password: 'hunter2' } });
    client.start();
    await waitFor('snapshot from the leader', () => sink.count('snapshot') === 1);
    expect(leader.streamRequests[0]?.authorization).toBe(authorization);
    expect(leader.snapshotRequests[0]?.authorization).toBe(authorization);
    expect(client.status()).toMatchObject({ connected: true, url: standby.url, leader: leader.url });

    leader.send('app_terminated_event', { appId: '/shop/api', eventType: 'app_terminated_event' });
    await waitFor('event from the leader', () => sink.count('changes') === 1);
    expect(sink.allChanges()).toEqual([{ type: 'app-terminated', appId: '/shop/api' }]);
  });

  it('sends DC/OS token credentials as "Authorization: token=<jwt>"', async () => {
    const marathon = await fake({ apps: APPS, authorization: 'token=eyJ.abc.def' });
    const { client, sink } = harness([marathon.url], { credentials: { token: 'eyJ.abc.def' } });
    client.start();
    await waitFor('snapshot', () => sink.count('snapshot') === 1);
    expect(client.status().connected).toBe(true);
  });

  it('sends URL userinfo as Basic auth and never shows it in logs or status', async () => {
    const authorization = `Basic ${Buffer.from('alice:s3cr@t').toString('base64')}`;
    const marathon = await fake({ apps: [...APPS, { id: '/bad', tasks: 'none' }], authorization });
    marathon.streamFailures.push(503);
    const withCredentials = marathon.url.replace('http://', 'http://alice:s3cr%40t@');
    const { client, sink, logs } = harness([withCredentials]);
    client.start();
    await waitFor('snapshot', () => sink.count('snapshot') === 1);
    marathon.send('status_update_event', '{broken');
    marathon.endStreams();
    await waitFor('second snapshot', () => sink.count('snapshot') === 2);

    expect(marathon.streamRequests.map((h) => h.authorization)).toEqual([authorization, authorization, authorization]);
    expect(client.status().url).toBe(marathon.url);
    const everything = logs.join('\n') + JSON.stringify(client.status());
    expect(logs.some((line) => line.includes(marathon.url))).toBe(true);
    for (const secret of ['s3cr', 'alice', authorization.slice('Basic '.length)]) expect(everything).not.toContain(secret);
  });

  it('rotates to the second URL when the first refuses connections', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const marathon = await fake();
    const { client, sink } = harness([deadUrl, marathon.url]);
    client.start();
    await waitFor('snapshot from the second URL', () => sink.count('snapshot') === 1);
    expect(client.status()).toMatchObject({ connected: true, url: marathon.url });
    expect(client.status().reconnects).toBeGreaterThanOrEqual(1);

    // The URL that worked is retried first after the stream drops.
    marathon.endStreams();
    await waitFor('second snapshot', () => sink.count('snapshot') === 2);
    expect(marathon.streamRequests).toHaveLength(2);
  });

  it('a standby without a leader (503) is skipped for the next URL', async () => {
    const standby = await fake();
    const leader = await fake();
    standby.streamFailures.push(503, 503, 503);
    const { client, sink } = harness([standby.url, leader.url]);
    client.start();
    await waitFor('snapshot', () => sink.count('snapshot') === 1);
    expect(client.status().url).toBe(leader.url);
    expect(standby.streamRequests).toHaveLength(1);
  });
});

describe('MarathonClient: ordering and re-fetches', () => {
  it('delivers events that arrive during a slow snapshot after the snapshot', async () => {
    const marathon = await fake();
    marathon.holdSnapshots = true;
    const { client, sink, metrics } = harness([marathon.url]);
    client.start();
    await waitFor('held snapshot', () => marathon.heldSnapshots === 1);
    marathon.send('status_update_event', statusUpdate('TASK_KILLED'));
    marathon.send('instance_health_changed_event', { instanceId: 'shop_web.instance-1a2b3c4d-6bf0-11e9-a4a2-0242ac110002', runSpecId: '/shop/web', healthy: false });
    await waitFor('events received', async () => (await counter(metrics.marathonEvents, { type: 'instance_health_changed_event' })) === 1);
    expect(sink.calls).toEqual([]);
    marathon.release();
    await waitFor('delivery', () => sink.calls.length === 2);
    expect(sink.calls.map((c) => c.kind)).toEqual(['snapshot', 'changes']);
    expect(sink.allChanges().map((c) => c.type)).toEqual(['task-status', 'instance-health']);
  });

  it('gathers apps-changed ids into one re-fetch: fetched apps and 404s as gone', async () => {
    const marathon = await fake();
    marathon.appBodies.set('/shop/api', APPS[1]);
    const { client, sink } = harness([marathon.url], { refetchCoalesceMs: 100 });
    client.start();
    await waitFor('snapshot', () => sink.count('snapshot') === 1);
    marathon.send('api_post_event', { eventType: 'api_post_event', uri: '/v2/apps/shop/api', appDefinition: { id: '/shop/api' } });
    marathon.send('deployment_info', {
      plan: { id: 'd', steps: [{ actions: [{ action: 'StopApplication', app: '/gone' }, { action: 'ScaleApplication', app: '/shop/api' }] }] },
      currentStep: { actions: [{ action: 'StopApplication', app: '/gone' }] },
    });
    marathon.send('app_terminated_event', { appId: '/gone' });
    await waitFor('re-fetch', () => sink.count('apps') === 1);
    const call = sink.calls.find((c) => c.kind === 'apps');
    expect(call).toMatchObject({ kind: 'apps', fetched: [{ app: { id: '/shop/api' } }], gone: ['/gone'] });
    expect(marathon.appRequests.sort()).toEqual(['/gone', '/shop/api']);
    expect(sink.allChanges()).toEqual([{ type: 'app-terminated', appId: '/gone' }]);
  });

  it('takes one full snapshot instead of re-fetching hundreds of apps one by one (a deployment of many apps)', async () => {
    const marathon = await fake();
    const { client, sink, metrics } = harness([marathon.url], { refetchCoalesceMs: 50 });
    client.start();
    await waitFor('snapshot', () => sink.count('snapshot') === 1);
    const apps = Array.from({ length: 300 }, (_, i) => ({ action: 'ScaleApplication', app: `/many/app-${i}` }));
    marathon.send('deployment_info', { plan: { id: 'd', steps: [{ actions: apps }] }, currentStep: { actions: apps } });
    await waitFor('a second snapshot', () => sink.count('snapshot') === 2);
    expect(marathon.appRequests).toEqual([]);
    expect(sink.count('apps')).toBe(0);
    expect(await counter(metrics.marathonResyncs, { reason: 'many-apps' })).toBe(1);
  });

  it('drops an overflowing buffer and does another full re-sync', async () => {
    const marathon = await fake();
    marathon.holdSnapshots = true;
    const { client, sink, metrics } = harness([marathon.url], { maxBufferedChanges: 2 });
    client.start();
    await waitFor('held snapshot', () => marathon.heldSnapshots === 1);
    for (const state of ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING']) marathon.send('status_update_event', statusUpdate(state));
    await waitFor('overflow', async () => (await counter(metrics.marathonResyncs, { reason: 'overflow' })) === 1);
    marathon.holdSnapshots = false;
    marathon.release();
    await waitFor('second snapshot', () => sink.count('snapshot') === 2);
    expect(sink.allChanges()).toEqual([]);
  });
});

describe('MarathonClient: bad input from Marathon', () => {
  it('a failed snapshot is counted and retried; the sink never sees a partial result', async () => {
    const marathon = await fake();
    marathon.snapshotFailures.push(500, 502);
    const { client, sink, metrics } = harness([marathon.url]);
    client.start();
    await waitFor('snapshot after retries', () => sink.count('snapshot') === 1);
    expect(marathon.snapshotRequests).toHaveLength(3);
    expect(sink.calls).toEqual([{ kind: 'snapshot', apps: expect.arrayContaining([expect.objectContaining({ app: expect.objectContaining({ id: '/shop/web' }) })]) }]);
    expect((sink.calls[0] as { apps: unknown[] }).apps).toHaveLength(2);
    expect(await counter(metrics.marathonRejects, { kind: 'snapshot' })).toBe(2);
    expect(await counter(metrics.marathonResyncs, { reason: 'retry' })).toBe(2);
  });

  it('skips a malformed event with one warning and keeps going; a malformed app is skipped from the snapshot', async () => {
    const marathon = await fake({ apps: [APPS[0], { id: '/broken', tasks: [{ id: 'x' }] }, APPS[1]] });
    const { client, sink, metrics, logs } = harness([marathon.url]);
    client.start();
    await waitFor('snapshot', () => sink.count('snapshot') === 1);
    expect((sink.calls[0] as { apps: AppSnapshot[] }).apps.map((a) => a.app.id)).toEqual(['/shop/web', '/shop/api']);
    expect(await counter(metrics.marathonRejects, { kind: 'app' })).toBe(1);
    expect(logs.filter((l) => l.includes('/broken') && l.includes('tasks.0.host'))).toHaveLength(1);

    marathon.send('status_update_event', { appId: '/shop/web', taskStatus: 'TASK_RUNNING' });
    marathon.send('health_status_changed_event', '{"appId": "/shop/web", "alive": tru');
    marathon.send('app_terminated_event', { appId: '/shop/api' });
    await waitFor('good event', () => sink.count('changes') === 1);
    expect(sink.allChanges()).toEqual([{ type: 'app-terminated', appId: '/shop/api' }]);
    expect(await counter(metrics.marathonRejects, { kind: 'event' })).toBe(2);
    const warnings = logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'malformed marathon event skipped');
    expect(warnings.map((w) => [w.eventType, w.reason])).toEqual([
      ['status_update_event', 'taskId: expected a string'],
      ['health_status_changed_event', 'data is not valid JSON'],
    ]);
    expect(client.status().connected).toBe(true);
  });

  it('malformed apps are counted on every re-sync but logged in one rate-limited line naming them', async () => {
    const broken = [{ id: '/broken/a', tasks: [{ id: 'x' }] }, { id: '/broken/b', ports: ['80'] }];
    const marathon = await fake({ apps: [APPS[0], ...broken, APPS[1]] });
    const { client, sink, metrics, logs } = harness([marathon.url]);
    client.start();
    await waitFor('snapshot', () => sink.count('snapshot') === 1);
    await client.resync('admin');
    await client.resync('admin');
    expect(sink.count('snapshot')).toBe(3);
    expect((sink.calls[2] as { apps: AppSnapshot[] }).apps.map((a) => a.app.id)).toEqual(['/shop/web', '/shop/api']);
    expect(await counter(metrics.marathonRejects, { kind: 'app' })).toBe(6);
    const lines = logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'malformed marathon apps skipped');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      count: 2,
      apps: [
        { appId: '/broken/a', reason: 'tasks.0.host: expected a string, got nothing' },
        { appId: '/broken/b', reason: 'ports.0: expected a port number, got string' },
      ],
    });
  });

  it('a sink that throws does not stop the client', async () => {
    const marathon = await fake();
    const sink = new RecordingSink();
    sink.snapshot = () => {
      throw new Error('sink bug');
    };
    const { client } = harness([marathon.url], {}, sink);
    client.start();
    await waitFor('stream', () => marathon.snapshotRequests.length === 1 && client.status().lastSyncAt !== undefined);
    marathon.send('app_terminated_event', { appId: '/shop/api' });
    await waitFor('change', () => sink.count('changes') === 1);
  });

  it('resync() re-fetches on demand and resolves once the snapshot is applied', async () => {
    const marathon = await fake();
    const { client, sink, metrics } = harness([marathon.url]);
    client.start();
    await waitFor('snapshot', () => sink.count('snapshot') === 1);
    await client.resync('admin');
    expect(sink.count('snapshot')).toBe(2);
    expect(await counter(metrics.marathonResyncs, { reason: 'admin' })).toBe(1);
  });
});
