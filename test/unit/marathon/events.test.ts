import { describe, expect, it } from 'vitest';
import { eventTypeLabel, parseEvent, type ParsedEvent } from '../../../src/marathon/events.js';
import type { MarathonChange } from '../../../src/state/model.js';
import { eventData } from './fixture.js';

/** Parses a fixture under the event type its file name starts with. */
function parseFixture(name: string): ParsedEvent {
  const eventType = name.replace(/^derived\./, '').split('.')[0] as string;
  return parseEvent(eventType, eventData(name));
}

function changesOf(name: string): MarathonChange[] {
  const parsed = parseFixture(name);
  if (!parsed.ok) throw new Error(`${name} rejected: ${parsed.reason}`);
  return parsed.changes;
}

const INSTANCE = 'my-app.instance-c7c311a4-b669-11e6-a48f-0ea4f4b1778c';

describe('parseEvent: events that matter for routing', () => {
  it('status_update_event 1.8+: task id, instance key, ports, ip address strings, version', () => {
    expect(changesOf('derived.status_update_event.marathon-1.8plus.json')).toEqual([
      {
        type: 'task-status',
        appId: '/my-app',
        taskId: `${INSTANCE}._app.1`,
        instanceKey: INSTANCE,
        state: 'TASK_RUNNING',
        host: 'slave-1234.acme.org',
        ports: [31372],
        ipAddresses: ['10.0.1.12'],
        version: '2014-04-04T06:26:23.051Z',
        at: Date.parse('2014-04-04T06:27:00.001Z'),
      },
    ]);
  });

  it('status_update_event of old Marathons: no ipAddresses field, or an empty list', () => {
    const [failed] = changesOf('status_update_event.TASK_FAILED.marathon-raml-events-txt.json');
    expect(failed).toMatchObject({ state: 'TASK_FAILED', ipAddresses: [], ports: [31776], instanceKey: 'foo.0664256e-6771-11e5-94e1-be5b2935a987' });
    const [running] = changesOf('status_update_event.real-capture-marathon-0.14.marathon-lb-issue35.json');
    expect(running).toMatchObject({ appId: '/prod/talkk/audit', state: 'TASK_RUNNING', ipAddresses: [], ports: [31434] });
    const [docs] = changesOf('status_update_event.marathon-docs-event-bus.json');
    expect(docs).toMatchObject({ taskId: 'my-app_0-1396592784349', instanceKey: 'my-app_0-1396592784349' });
  });

  it('instance_changed_event -> instance-condition; a null host is left out', () => {
    expect(changesOf('derived.instance_changed_event.marathon-1.8plus.json')).toEqual([
      { type: 'instance-condition', appId: '/my-app', instanceKey: INSTANCE, condition: 'Running', host: 'slave-1234.acme.org', at: Date.parse('2014-04-04T06:27:00.002Z') },
    ]);
    const parsed = parseEvent('instance_changed_event', JSON.stringify({ instanceId: INSTANCE, runSpecId: '/my-app', condition: 'Killed', host: null }));
    expect(parsed).toEqual({ ok: true, changes: [{ type: 'instance-condition', appId: '/my-app', instanceKey: INSTANCE, condition: 'Killed' }] });
  });

  it('health_status_changed_event: 1.4+ instanceId and pre-1.4 taskId map to the same key forms', () => {
    expect(changesOf('derived.health_status_changed_event.marathon-1.4plus.json')).toEqual([
      { type: 'health-check', appId: '/my-app', instanceKey: INSTANCE, alive: true, at: Date.parse('2014-04-04T06:27:10.000Z') },
    ]);
    expect(changesOf('derived.health_status_changed_event.marathon-1.3-and-older.json')).toEqual([
      { type: 'health-check', appId: '/my-app', instanceKey: 'my-app.3f80d17a-37e6-11e4-b05e-56847afe9799', alive: true, at: Date.parse('2014-04-04T06:27:10.000Z') },
    ]);
  });

  it('failed_health_check_event: taskId holding an instance id (1.4+) or a task id (older) -> alive false', () => {
    expect(changesOf('derived.failed_health_check_event.marathon-1.4plus.taskId-holds-instanceId.json')).toEqual([
      { type: 'health-check', appId: '/my-app', instanceKey: INSTANCE, alive: false, at: Date.parse('2014-04-04T06:28:00.000Z') },
    ]);
    expect(changesOf('failed_health_check_event.real-capture-marathon-0.14.marathon-lb-issue35.json')).toEqual([
      { type: 'health-check', appId: '/prod/talkk/audit', instanceKey: 'prod_talkk_audit.42256046-a9d2-11e5-8f88-024250c46707', alive: false, at: Date.parse('2015-12-24T00:24:31.253Z') },
    ]);
  });

  it('instance_health_changed_event: null health is kept as unknown; legacy marathon- instance ids are normalised', () => {
    expect(changesOf('derived.instance_health_changed_event.unknown-health.marathon-1.4plus.json')).toEqual([
      { type: 'instance-health', appId: '/my-app', instanceKey: INSTANCE, healthy: null, at: Date.parse('2014-04-04T06:27:00.003Z') },
    ]);
    expect(changesOf('instance_health_changed_event.marathon-changelog-1.4.json')).toEqual([
      { type: 'instance-health', appId: '/some/app', instanceKey: 'some_app.49d976d3-9c6f-11e6-93cb-0242216b9f0d', healthy: true, at: Date.parse('2016-10-27T18:00:50.401Z') },
    ]);
  });

  it('a missing or unreadable timestamp leaves the change without a time (it is then applied in arrival order)', () => {
    const base = { appId: '/a', taskId: 'a.instance-1._app.1', taskStatus: 'TASK_RUNNING' };
    for (const timestamp of [undefined, 'yesterday', 12]) {
      const parsed = parseEvent('status_update_event', JSON.stringify({ ...base, timestamp }));
      expect(parsed.ok && parsed.changes[0]).toMatchObject({ type: 'task-status', state: 'TASK_RUNNING' });
      expect(parsed.ok && parsed.changes[0]).not.toHaveProperty('at');
    }
  });

  it('unhealthy kills: instanceId when present, taskId otherwise', () => {
    expect(changesOf('derived.unhealthy_instance_kill_event.marathon-1.4plus.json')).toEqual([
      { type: 'unhealthy-kill', appId: '/my-app', instanceKey: INSTANCE },
    ]);
    expect(changesOf('unhealthy_task_kill_event.marathon-docs-event-bus.json')).toEqual([
      { type: 'unhealthy-kill', appId: '/my-app', instanceKey: 'my-app_0-1396592784349' },
    ]);
  });

  it('app_terminated_event and api_post_event', () => {
    expect(changesOf('derived.app_terminated_event.json')).toEqual([{ type: 'app-terminated', appId: '/my-app' }]);
    expect(changesOf('api_post_event.marathon-docs-event-bus.json')).toEqual([
      { type: 'apps-changed', appIds: ['/my-app'], reason: 'api_post_event' },
    ]);
  });

  it.each([
    'derived.deployment_info.light-format.json',
    'derived.deployment_step_success.light-format.json',
    'derived.deployment_success.light-format.json',
    'derived.deployment_failed.light-format.json',
    'deployment_info.marathon-docs-event-bus.json',
    'deployment_step_failure.marathon-docs-event-bus.json',
    'deployment_step_success.marathon-docs-event-bus.json',
  ])('%s -> apps-changed for the apps of the plan, once each', (name) => {
    const eventType = name.replace(/^derived\./, '').split('.')[0];
    expect(changesOf(name)).toEqual([{ type: 'apps-changed', appIds: ['/my-app'], reason: eventType }]);
  });

  it('deployment events gather every app of every step and of the current step', () => {
    const data = JSON.stringify({
      plan: {
        id: 'd1',
        steps: [{ actions: [{ action: 'StartApplication', app: '/a' }, { action: 'StartPod', pod: '/p' }] }, { actions: [{ action: 'ScaleApplication', app: '/b' }] }],
      },
      currentStep: { actions: [{ action: 'ScaleApplication', app: '/c' }, { action: 'ScaleApplication', app: '/a' }] },
    });
    expect(parseEvent('deployment_info', data)).toEqual({ ok: true, changes: [{ type: 'apps-changed', appIds: ['/a', '/b', '/c'], reason: 'deployment_info' }] });
    expect(parseEvent('deployment_success', JSON.stringify({ plan: { steps: [{ actions: [{ pod: '/p' }] }] } }))).toEqual({ ok: true, changes: [] });
  });
});

describe('parseEvent: events with nothing to route', () => {
  it.each([
    'event_stream_attached.real-capture-marathon-0.14.marathon-lb-issue35.json',
    'event_stream_detached.marathon-docs-event-bus.INACCURATE-fields.json',
    'group_change_success.real-capture-marathon-0.14.marathon-lb-issue35.json',
    'group_change_failed.marathon-docs-event-bus.json',
    'subscribe_event.marathon-docs-event-bus.json',
    'unsubscribe_event.marathon-docs-event-bus.json',
    'add_health_check_event.marathon-docs-event-bus.json',
    'remove_health_check_event.marathon-docs-event-bus.json',
    'framework_message_event.marathon-docs-event-bus.json',
    'pod_created_event.marathon-docs-event-bus.json',
    'pod_updated_event.marathon-docs-event-bus.json',
    'pod_deleted_event.marathon-docs-event-bus.json',
    'unknown_instance_terminated_event.marathon-docs-event-bus.json',
  ])('%s -> ok, no changes', (name) => {
    expect(parseFixture(name)).toEqual({ ok: true, changes: [] });
  });

  it('an unknown event type is fine even with garbage data', () => {
    expect(parseEvent('some_future_event', '{not json')).toEqual({ ok: true, changes: [] });
  });
});

describe('parseEvent: malformed events', () => {
  it('invalid JSON or a non-object', () => {
    expect(parseEvent('status_update_event', '{"appId": "/a",')).toEqual({ ok: false, reason: 'data is not valid JSON' });
    expect(parseEvent('app_terminated_event', '["/a"]')).toEqual({ ok: false, reason: 'data is not a JSON object' });
  });

  it.each([
    ['status_update_event', { taskId: 't', taskStatus: 'TASK_RUNNING' }, /^appId: /],
    ['status_update_event', { appId: '/a', taskStatus: 'TASK_RUNNING' }, /^taskId: /],
    ['status_update_event', { appId: '/a', taskId: 't' }, /^taskStatus: /],
    ['status_update_event', { appId: '/a', taskId: 't', taskStatus: 'TASK_RUNNING', ports: ['31000'] }, /^ports: /],
    ['status_update_event', { appId: '/a', taskId: 't', taskStatus: 'TASK_RUNNING', ipAddresses: '10.0.0.1' }, /^ipAddresses: /],
    ['instance_changed_event', { instanceId: 'i', condition: 'Running' }, /^runSpecId: /],
    ['instance_changed_event', { instanceId: 'i', runSpecId: '/a' }, /^condition: /],
    ['health_status_changed_event', { appId: '/a', alive: true }, /^instanceId or taskId: /],
    ['health_status_changed_event', { appId: '/a', instanceId: 'i', alive: 'yes' }, /^alive: /],
    ['failed_health_check_event', { appId: '/a' }, /^taskId: /],
    ['instance_health_changed_event', { instanceId: 'i', runSpecId: '/a' }, /^healthy: /],
    ['unhealthy_instance_kill_event', { appId: '/a' }, /^instanceId or taskId: /],
    ['app_terminated_event', {}, /^appId: /],
    ['api_post_event', { uri: '/v2/apps/a' }, /^appDefinition\.id: /],
    ['deployment_success', { id: '867ed450' }, /^plan\.steps: /],
  ])('%s %j is rejected with a reason naming the field', (eventType, body, reason) => {
    const parsed = parseEvent(eventType, JSON.stringify(body));
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.reason).toMatch(reason);
  });
});

describe('eventTypeLabel', () => {
  it('keeps Marathon event types and folds anything else into "other"', () => {
    expect(eventTypeLabel('status_update_event')).toBe('status_update_event');
    expect(eventTypeLabel('event_stream_attached')).toBe('event_stream_attached');
    expect(eventTypeLabel('x'.repeat(500))).toBe('other');
  });
});
