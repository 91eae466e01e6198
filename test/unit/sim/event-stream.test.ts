import { afterEach, describe, expect, it } from 'vitest';
import { MarathonSim } from '../../../src/sim/index.js';
import { waitFor } from '../../helpers/wait-for.js';
import { eventNames, frames, rawGet, type RawExchange } from './raw-client.js';

const ACCEPT = { Accept: 'text/event-stream' };

describe('MarathonSim /v2/events', () => {
  let sim: MarathonSim;
  const sockets: RawExchange[] = [];

  async function start(opts: ConstructorParameters<typeof MarathonSim>[0] = {}): Promise<string> {
    sim = new MarathonSim(opts);
    return sim.listen();
  }

  async function subscribe(path = '/v2/events'): Promise<RawExchange> {
    const exchange = await rawGet(sim.url, path, ACCEPT);
    sockets.push(exchange);
    return exchange;
  }

  afterEach(async () => {
    for (const exchange of sockets.splice(0)) exchange.socket.destroy();
    await sim.close();
  });

  it('answers 200 with Marathon headers, no chunking and no length, then event_stream_attached', async () => {
    const url = await start();
    const stream = await subscribe();
    await waitFor(() => frames(stream.body() ?? '').length > 0, 'first frame');

    const text = stream.text();
    const head = text.slice(0, text.indexOf('\r\n\r\n')).split('\r\n');
    expect(head[0]).toBe('HTTP/1.1 200 OK');
    const headers = new Map(head.slice(1).map((line) => {
      const colon = line.indexOf(':');
      return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()] as const;
    }));
    expect(headers.get('content-type')).toBe('text/event-stream;charset=utf-8');
    expect(headers.get('connection')).toBe('close');
    expect(headers.get('x-marathon-leader')).toBe(url);
    expect(headers.has('transfer-encoding')).toBe(false);
    expect(headers.has('content-length')).toBe(false);

    expect(stream.body()).toMatch(/^event: event_stream_attached\r\ndata: \{[^\r\n]*\}\r\n\r\n/);
    const [attached] = frames(stream.body() ?? '');
    expect(attached?.data).toMatchObject({ eventType: 'event_stream_attached', remoteAddress: expect.any(String) });
    expect(Date.parse(String(attached?.data['timestamp']))).not.toBeNaN();
    expect(sim.streams).toBe(1);
  });

  it('frames every event as event and one-line data lines ending in CRLF', async () => {
    await start();
    const stream = await subscribe();
    await waitFor(() => sim.streams === 1 && frames(stream.body() ?? '').length === 1, 'attach');
    sim.emit('custom_event', { nested: { text: 'a\nb' } });
    sim.deployApp({ id: '/shop/web' });
    await waitFor(() => eventNames(stream).includes('deployment_success'), 'deployment events');

    const body = stream.body() ?? '';
    // Nothing in the body but whole frames.
    expect(body.replace(/event: [^\r\n]+\r\ndata: [^\r\n]*\r\n\r\n/g, '')).toBe('');
    const all = frames(body);
    expect(all.map((f) => f.event)).toEqual([
      'event_stream_attached',
      'custom_event',
      'api_post_event',
      'group_change_success',
      'deployment_info',
      'deployment_success',
    ]);
    for (const f of all) {
      expect(f.data['eventType']).toBe(f.event);
      expect(typeof f.data['timestamp']).toBe('string');
    }
    expect(all[1]?.data['nested']).toEqual({ text: 'a\nb' });
    expect(all[2]?.data).toMatchObject({ uri: '/v2/apps', appDefinition: { id: '/shop/web' } });
    expect(all[3]?.data).toMatchObject({ groupId: '/shop' });
    expect(all[4]?.data).toMatchObject({
      plan: { steps: [{ actions: [{ action: 'StartApplication', app: '/shop/web' }] }, expect.anything()] },
      currentStep: { actions: [{ action: 'StartApplication', app: '/shop/web' }] },
    });
    const success = all[5]?.data as { id: string; plan: { id: string } };
    expect(success.id).toBe(success.plan.id);
  });

  it('writes the heartbeat as \\r and \\n in two separate chunks', async () => {
    await start({ heartbeatMs: 25 });
    const stream = await subscribe();
    await waitFor(() => {
      const i = stream.chunks.indexOf('\r');
      return i >= 0 && stream.chunks[i + 1] === '\n';
    }, 'a split heartbeat');
  });

  it('refuses any Accept other than exactly text/event-stream with 405', async () => {
    await start();
    for (const accept of ['text/event-stream, */*', 'text/event-stream;charset=utf-8', '*/*']) {
      const res = await fetch(`${sim.url}/v2/events`, { headers: { Accept: accept } });
      expect(res.status, accept).toBe(405);
      await res.body?.cancel();
    }
    expect(sim.streams).toBe(0);
  });

  it('sends only the event types named by repeated event_type filters', async () => {
    await start();
    const stream = await subscribe('/v2/events?event_type=status_update_event&event_type=app_terminated_event');
    await waitFor(() => sim.streams === 1, 'subscription');
    sim.deployApp({ id: '/web' });
    sim.startTask('/web', { host: '127.0.0.1', ports: [31000] });
    sim.removeApp('/web');
    await waitFor(() => eventNames(stream).includes('app_terminated_event'), 'app_terminated_event');
    const all = frames(stream.body() ?? '');
    expect(all.map((f) => f.event)).toEqual([
      'status_update_event',
      'status_update_event',
      'status_update_event',
      'app_terminated_event',
    ]);
    expect(all.map((f) => f.data['taskStatus'])).toEqual(['TASK_RUNNING', 'TASK_KILLING', 'TASK_KILLED', undefined]);
  });

  it('tells other subscribers when a stream attaches and detaches', async () => {
    await start();
    const first = await subscribe();
    await waitFor(() => sim.streams === 1, 'first stream');
    const second = await subscribe();
    await waitFor(() => eventNames(first).length === 2, 'second attach seen by the first');
    second.socket.destroy();
    await waitFor(() => eventNames(first).includes('event_stream_detached'), 'detach');
    expect(eventNames(first)).toEqual(['event_stream_attached', 'event_stream_attached', 'event_stream_detached']);
    expect(sim.streams).toBe(1);
  });

  it('kills a task with TASK_KILLING before TASK_KILLED, then drops it from /v2/apps', async () => {
    await start();
    const stream = await subscribe();
    await waitFor(() => sim.streams === 1, 'subscription');
    sim.deployApp({ id: '/shop/web' });
    const taskId = sim.startTask('/shop/web', { host: 'agent-1.example.com', ports: [31001], ipAddress: '10.0.1.11' });
    sim.killTask(taskId);
    await waitFor(() => eventNames(stream).filter((e) => e === 'instance_changed_event').length === 3, 'kill events');

    const taskEvents = frames(stream.body() ?? '').filter(
      (f) => f.event === 'status_update_event' || f.event === 'instance_changed_event',
    );
    expect(taskEvents.map((f) => `${f.event}:${String(f.data['taskStatus'] ?? f.data['condition'])}`)).toEqual([
      'status_update_event:TASK_RUNNING',
      'instance_changed_event:Running',
      'status_update_event:TASK_KILLING',
      'instance_changed_event:Killing',
      'status_update_event:TASK_KILLED',
      'instance_changed_event:Killed',
    ]);
    const instanceId = taskId.replace(/\._app\.1$/, '');
    expect(taskEvents[0]?.data).toMatchObject({
      slaveId: expect.any(String),
      taskId,
      appId: '/shop/web',
      host: 'agent-1.example.com',
      ipAddresses: [{ ipAddress: '10.0.1.11', protocol: 'IPv4' }],
      ports: [31001],
      version: expect.any(String),
    });
    expect(taskEvents[1]?.data).toMatchObject({
      instanceId,
      runSpecId: '/shop/web',
      agentId: taskEvents[0]?.data['slaveId'],
      host: 'agent-1.example.com',
      runSpecVersion: taskEvents[0]?.data['version'],
    });
    expect(sim.tasks('/shop/web')).toEqual([]);
    const body = (await (await fetch(`${sim.url}/v2/apps/shop/web`)).json()) as { app: { tasks: unknown[] } };
    expect(body.app.tasks).toEqual([]);
  });

  it('kills with the given terminal state and its matching condition', async () => {
    await start();
    const stream = await subscribe();
    await waitFor(() => sim.streams === 1, 'subscription');
    sim.deployApp({ id: '/web' });
    sim.killTask(sim.startTask('/web', { host: '127.0.0.1', ports: [1] }), 'TASK_FAILED');
    await waitFor(() => eventNames(stream).filter((e) => e === 'instance_changed_event').length === 3, 'kill events');
    const last = frames(stream.body() ?? '').filter((f) => f.event === 'instance_changed_event').at(-1);
    expect(last?.data['condition']).toBe('Failed');
  });

  it('loses a task (TASK_UNREACHABLE, condition Unreachable, still listed) and recovers it (TASK_RUNNING)', async () => {
    await start();
    const stream = await subscribe();
    await waitFor(() => sim.streams === 1, 'subscription');
    sim.deployApp({ id: '/web' });
    const taskId = sim.startTask('/web', { host: '127.0.0.1', ports: [31000] });
    const listed = async () => ((await (await fetch(`${sim.url}/v2/apps/web`)).json()) as { app: { tasks: { id: string; state: string }[] } }).app.tasks;
    sim.loseTask(taskId);
    expect(await listed()).toEqual([expect.objectContaining({ id: taskId, state: 'TASK_UNREACHABLE' })]);
    sim.loseTask(taskId, 'TASK_LOST');
    sim.recoverTask(taskId);
    expect(await listed()).toEqual([expect.objectContaining({ id: taskId, state: 'TASK_RUNNING' })]);
    await waitFor(() => eventNames(stream).filter((e) => e === 'instance_changed_event').length === 4, 'condition events');
    const events = frames(stream.body() ?? '');
    expect(events.filter((f) => f.event === 'status_update_event').map((f) => f.data['taskStatus'])).toEqual(['TASK_RUNNING', 'TASK_UNREACHABLE', 'TASK_LOST', 'TASK_RUNNING']);
    expect(events.filter((f) => f.event === 'instance_changed_event').map((f) => f.data['condition'])).toEqual(['Running', 'Unreachable', 'Unreachable', 'Running']);
  });

  it('publishes the 1.4+ health events, failed_health_check_event carrying the instance id', async () => {
    await start();
    const stream = await subscribe();
    await waitFor(() => sim.streams === 1, 'subscription');
    sim.deployApp({ id: '/web', healthChecks: 1 });
    const taskId = sim.startTask('/web', { host: '127.0.0.1', ports: [31000] }, { healthy: true });
    sim.setHealth(taskId, false);
    await waitFor(() => eventNames(stream).includes('failed_health_check_event'), 'failed check');

    const instanceId = taskId.replace(/\._app\.1$/, '');
    const health = frames(stream.body() ?? '').filter((f) => /health/.test(f.event));
    expect(health.map((f) => f.event)).toEqual([
      'health_status_changed_event',
      'instance_health_changed_event',
      'health_status_changed_event',
      'instance_health_changed_event',
      'failed_health_check_event',
    ]);
    expect(health[2]?.data).toMatchObject({ appId: '/web', instanceId, alive: false, version: expect.any(String) });
    expect(health[2]?.data).not.toHaveProperty('taskId');
    expect(health[3]?.data).toMatchObject({ instanceId, runSpecId: '/web', healthy: false });
    expect(health[4]?.data).toMatchObject({ appId: '/web', taskId: instanceId, healthCheck: { protocol: 'HTTP' } });
  });

  it('holds a deployment open while a task is not ready and announces its end', async () => {
    await start();
    sim.deployApp({ id: '/web', readinessChecks: 1 });
    const stream = await subscribe('/v2/events?event_type=deployment_info&event_type=deployment_success');
    await waitFor(() => sim.streams === 1, 'subscription');
    const taskId = sim.startTask('/web', { host: '127.0.0.1', ports: [31000] }, { ready: false });
    sim.setReady(taskId, true);
    await waitFor(() => eventNames(stream).includes('deployment_success'), 'deployment end');
    const [info, success] = frames(stream.body() ?? '');
    expect(info?.event).toBe('deployment_info');
    expect((success?.data['plan'] as { id: string }).id).toBe((info?.data['plan'] as { id: string }).id);
  });

  it('restartLeader closes every stream and forgets every health result', async () => {
    await start();
    const a = await subscribe();
    const b = await subscribe();
    await waitFor(() => sim.streams === 2, 'two streams');
    sim.deployApp({ id: '/web', healthChecks: 2 });
    sim.startTask('/web', { host: '127.0.0.1', ports: [31000] }, { healthy: true });
    type Apps = { apps: { tasks: { healthCheckResults: unknown[] }[] }[] };
    const before = (await (await fetch(`${sim.url}/v2/apps?embed=apps.tasks`)).json()) as Apps;
    expect(before.apps[0]?.tasks[0]?.healthCheckResults).toHaveLength(2);

    sim.restartLeader();
    expect(sim.streams).toBe(0);
    await waitFor(() => a.ended && b.ended, 'both streams to end');
    const after = (await (await fetch(`${sim.url}/v2/apps?embed=apps.tasks`)).json()) as Apps;
    expect(after.apps[0]?.tasks[0]?.healthCheckResults).toEqual([]);
  });

  it('answers 503 on /v2 while the restarted leader is down', async () => {
    await start();
    sim.restartLeader({ downMs: 60_000 });
    for (const path of ['/v2/apps', '/v2/events', '/v2/leader']) {
      const res = await fetch(`${sim.url}${path}`, { headers: ACCEPT });
      expect(res.status, path).toBe(503);
      expect(await res.json()).toEqual({ message: 'Could not determine the current leader' });
    }
  });

  it('sendRaw writes bytes exactly as given', async () => {
    await start();
    const stream = await subscribe();
    await waitFor(() => sim.streams === 1, 'subscription');
    sim.sendRaw('event: broken\r\ndata: {not json\r\n\r\n');
    await waitFor(() => (stream.body() ?? '').endsWith('data: {not json\r\n\r\n'), 'raw bytes');
  });
});
