import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import {
  type AppState,
  type Plan,
  type TaskState,
  nextHealth,
  resolvePorts,
  safePath,
  ServicePortAllocator,
} from './app-state.js';
import { isAuthorized, sendUnauthorized } from './auth.js';
import { EventStreamHub } from './event-stream.js';
import { sendJson, TrackedServer } from './http-util.js';
import { parseLabelFilter } from './label-filter.js';
import {
  appDefinition,
  appInfo,
  failedHealthCheckEvent,
  healthStatusChangedEvent,
  instanceChangedEvent,
  instanceHealthChangedEvent,
  plan,
  statusUpdateEvent,
} from './payloads.js';
import type { SimAppInput, SimCredentials, SimRequestRecord, SimTaskInput } from './types.js';

export interface MarathonSimOptions {
  /** Interval of the `\r` `\n` heartbeat on event streams (default 10000, as Marathon). */
  heartbeatMs?: number;
  /** When set, every endpoint answers 401 without these credentials. */
  credentials?: SimCredentials;
}

const NO_LEADER = { message: 'Could not determine the current leader' };

/**
 * An in-process Marathon leader that speaks only HTTP: `/v2/apps`, `/v2/apps/{id}`, `/v2/leader`
 * and the `/v2/events` stream, with Marathon 1.8+ shapes and framing. The methods below change
 * its state and publish the events Marathon would publish for the same change.
 */
export class MarathonSim {
  /** Every request received, in order. */
  readonly requests: SimRequestRecord[] = [];

  private readonly http: TrackedServer;
  private readonly hub: EventStreamHub;
  private readonly credentials: SimCredentials | undefined;
  private readonly apps = new Map<string, AppState>();
  private readonly taskIndex = new Map<string, { app: AppState; task: TaskState }>();
  private readonly rawApps: unknown[] = [];
  private readonly ports = new ServicePortAllocator();
  private readonly agents = new Map<string, string>();
  private readonly frameworkId = randomUUID();
  private downUntil = 0;
  private publishedCount = 0;

  constructor(opts: MarathonSimOptions = {}) {
    this.credentials = opts.credentials;
    this.hub = new EventStreamHub(opts.heartbeatMs ?? 10_000);
    this.http = new TrackedServer(createServer((req, res) => this.handle(req, res)));
  }

  /** Base URL, e.g. `http://127.0.0.1:4321`; empty until `listen` resolves. */
  get url(): string {
    return this.http.url;
  }

  /** Events published so far (by the control methods and `emit`), whether anyone listens or not. */
  get published(): number {
    return this.publishedCount;
  }

  /** Open event streams right now. */
  get streams(): number {
    return this.hub.count;
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    const url = await this.http.listen(port, host);
    this.hub.start();
    return url;
  }

  async close(): Promise<void> {
    this.hub.stop();
    await this.http.close();
  }

  /** Creates the app (POST) or replaces its definition (PUT; running tasks stay). */
  deployApp(input: SimAppInput): void {
    const existing = this.apps.get(input.id);
    if (existing) this.redefine(existing, input);
    else this.create(input);
  }

  /** Merges `patch` into the app's definition (e.g. new labels) and deploys it. */
  updateApp(id: string, patch: Partial<SimAppInput>): void {
    const app = this.app(id);
    this.redefine(app, { ...app.input, ...patch, id });
  }

  /** Kills every task of the app (with their events), then publishes `app_terminated_event`. */
  removeApp(id: string): void {
    const app = this.app(id);
    app.deployment = undefined;
    for (const taskId of [...app.tasks.keys()]) this.killTask(taskId);
    this.apps.delete(id);
    this.publish('app_terminated_event', { appId: id });
  }

  startTask(appId: string, input: SimTaskInput, opts: { healthy?: boolean; ready?: boolean } = {}): string {
    const app = this.app(appId);
    const instanceId = `${safePath(appId)}.instance-${randomUUID()}`;
    const now = new Date().toISOString();
    const ip = input.ipAddress ?? (isIP(input.host) ? input.host : undefined);
    const task: TaskState = {
      id: `${instanceId}._app.1`,
      instanceId,
      host: input.host,
      ports: [...input.ports],
      ipAddresses: ip === undefined ? [] : [ip],
      slaveId: this.agentId(input.host),
      stagedAt: now,
      startedAt: now,
      version: app.version,
      state: 'TASK_RUNNING',
      health: undefined,
      ready: app.readinessChecks > 0 ? (opts.ready ?? true) : undefined,
      ...(input.zone === undefined ? {} : { zone: input.zone }),
      ...(input.region === undefined ? {} : { region: input.region }),
    };
    app.tasks.set(task.id, task);
    this.taskIndex.set(task.id, { app, task });
    this.publish('status_update_event', statusUpdateEvent(app, task, 'TASK_RUNNING'));
    this.publish('instance_changed_event', instanceChangedEvent(app, task, 'TASK_RUNNING'));
    if (app.healthChecks > 0 && opts.healthy !== undefined) this.applyHealth(app, task, opts.healthy);
    this.settleDeployment(app, opts.ready === undefined ? undefined : task);
    return task.id;
  }

  /** One health result per declared check, and the 1.4+ health events. */
  setHealth(taskId: string, alive: boolean): void {
    const { app, task } = this.task(taskId);
    if (app.healthChecks === 0) throw new Error(`simulator: app ${app.input.id} declares no health checks`);
    this.applyHealth(app, task, alive);
  }

  setReady(taskId: string, ready: boolean): void {
    const { app, task } = this.task(taskId);
    if (app.readinessChecks === 0) throw new Error(`simulator: app ${app.input.id} declares no readiness checks`);
    task.ready = ready;
    this.settleDeployment(app, task);
  }

  /** TASK_KILLING first, then `state` (default TASK_KILLED), then the task leaves `/v2/apps`. */
  killTask(taskId: string, state = 'TASK_KILLED'): void {
    const { app, task } = this.task(taskId);
    task.state = 'TASK_KILLING';
    this.publish('status_update_event', statusUpdateEvent(app, task, 'TASK_KILLING'));
    this.publish('instance_changed_event', instanceChangedEvent(app, task, 'TASK_KILLING'));
    task.state = state;
    this.publish('status_update_event', statusUpdateEvent(app, task, state));
    this.publish('instance_changed_event', instanceChangedEvent(app, task, state));
    app.tasks.delete(taskId);
    this.taskIndex.delete(taskId);
    this.settleDeployment(app);
  }

  /**
   * Mesos loses contact with the task (its agent partitioned, the master paused): `state`
   * (TASK_UNREACHABLE by default, or TASK_LOST, TASK_UNKNOWN) with its instance condition, and
   * `/v2/apps` lists it in that state. The task's process is not touched.
   */
  loseTask(taskId: string, state = 'TASK_UNREACHABLE'): void {
    const { app, task } = this.task(taskId);
    task.state = state;
    this.publish('status_update_event', statusUpdateEvent(app, task, state));
    this.publish('instance_changed_event', instanceChangedEvent(app, task, state));
  }

  /** Contact with a lost task is back: TASK_RUNNING again. */
  recoverTask(taskId: string): void {
    const { app, task } = this.task(taskId);
    task.state = 'TASK_RUNNING';
    this.publish('status_update_event', statusUpdateEvent(app, task, 'TASK_RUNNING'));
    this.publish('instance_changed_event', instanceChangedEvent(app, task, 'TASK_RUNNING'));
  }

  /**
   * A leader change: every event stream closes, every health result is forgotten (Marathon does
   * not persist them), and for `downMs` every `/v2` call answers 503.
   */
  restartLeader(opts: { downMs?: number } = {}): void {
    this.hub.closeAll();
    for (const { task } of this.taskIndex.values()) task.health = undefined;
    this.downUntil = Date.now() + (opts.downMs ?? 0);
  }

  /** Publishes any event; `eventType` and `timestamp` are added unless `payload` has them. */
  emit(eventType: string, payload: object): void {
    this.publishedCount++;
    this.hub.broadcast(eventType, { eventType, timestamp: new Date().toISOString(), ...payload });
  }

  /** Raw bytes to every open event stream. */
  sendRaw(text: string): void {
    this.hub.sendRaw(text);
  }

  /** An extra entry at the end of every `/v2/apps` list, as given. */
  injectRawApp(app: unknown): void {
    this.rawApps.push(app);
  }

  /** Ids of the app's current tasks ([] for an unknown app). */
  tasks(appId: string): string[] {
    return [...(this.apps.get(appId)?.tasks.keys() ?? [])];
  }

  private publish(eventType: string, fields: Record<string, unknown>): void {
    this.publishedCount++;
    this.hub.broadcast(eventType, { ...fields, eventType, timestamp: new Date().toISOString() });
  }

  private app(id: string): AppState {
    const app = this.apps.get(id);
    if (!app) throw new Error(`simulator: no app ${id}`);
    return app;
  }

  private task(taskId: string): { app: AppState; task: TaskState } {
    const entry = this.taskIndex.get(taskId);
    if (!entry) throw new Error(`simulator: no task ${taskId}`);
    return entry;
  }

  /** Agent ids look like Mesos's: `<framework>-S<n>`, one per host. */
  private agentId(host: string): string {
    let id = this.agents.get(host);
    if (id === undefined) {
      id = `${this.frameworkId}-S${this.agents.size}`;
      this.agents.set(host, id);
    }
    return id;
  }

  private create(input: SimAppInput): void {
    const app: AppState = {
      input,
      network: input.network ?? 'host',
      ports: resolvePorts(input, undefined, this.ports),
      healthChecks: input.healthChecks ?? 0,
      readinessChecks: input.readinessChecks ?? 0,
      version: new Date().toISOString(),
      tasks: new Map(),
      deployment: undefined,
    };
    this.apps.set(input.id, app);
    this.announce(app, '/v2/apps', [[{ action: 'StartApplication', app: input.id }], [{ action: 'ScaleApplication', app: input.id }]]);
  }

  private redefine(app: AppState, input: SimAppInput): void {
    const healthChecks = input.healthChecks ?? 0;
    const readinessChecks = input.readinessChecks ?? 0;
    if (healthChecks !== app.healthChecks) for (const task of app.tasks.values()) task.health = undefined;
    if (readinessChecks !== app.readinessChecks) {
      for (const task of app.tasks.values()) task.ready = readinessChecks > 0 ? true : undefined;
    }
    app.input = input;
    app.network = input.network ?? 'host';
    app.ports = resolvePorts(input, app.ports, this.ports);
    app.healthChecks = healthChecks;
    app.readinessChecks = readinessChecks;
    app.version = new Date().toISOString();
    this.announce(app, `/v2/apps${input.id}`, [[{ action: 'RestartApplication', app: input.id }]]);
    this.settleDeployment(app);
  }

  /** The events of a successful `POST`/`PUT /v2/apps`, deployment in the light plan format. */
  private announce(app: AppState, uri: string, actions: { action: string; app: string }[][]): void {
    this.publish('api_post_event', { clientIp: '127.0.0.1', uri, appDefinition: appDefinition(app) });
    this.publish('group_change_success', { groupId: parentGroup(app.input.id), version: app.version });
    const deployment = plan(randomUUID(), app.version, actions);
    this.publish('deployment_info', { plan: deployment, currentStep: deployment.steps[0] });
    this.publish('deployment_success', { id: deployment.id, plan: deployment });
  }

  /**
   * A deployment stays open while any task of an app with readiness checks is not ready;
   * `checked` is a task whose readiness result that deployment reports.
   */
  private settleDeployment(app: AppState, checked?: TaskState): void {
    const waiting = app.readinessChecks > 0 && [...app.tasks.values()].some((t) => t.ready === false);
    if (waiting && !app.deployment) {
      const deployment: Plan = plan(randomUUID(), app.version, [[{ action: 'ScaleApplication', app: app.input.id }]]);
      app.deployment = { plan: deployment, checked: new Set() };
      this.publish('deployment_info', { plan: deployment, currentStep: deployment.steps[0] });
    } else if (!waiting && app.deployment) {
      const deployment = app.deployment.plan;
      app.deployment = undefined;
      this.publish('deployment_step_success', { plan: deployment, currentStep: deployment.steps[0] });
      this.publish('deployment_success', { id: deployment.id, plan: deployment });
    }
    if (checked && app.deployment) app.deployment.checked.add(checked.id);
  }

  private applyHealth(app: AppState, task: TaskState, alive: boolean): void {
    task.health = nextHealth(task.health, alive, new Date().toISOString());
    for (let i = 0; i < app.healthChecks; i++) {
      this.publish('health_status_changed_event', healthStatusChangedEvent(app, task, alive));
    }
    this.publish('instance_health_changed_event', instanceHealthChangedEvent(app, task, alive));
    if (!alive) {
      for (let i = 0; i < app.healthChecks; i++) this.publish('failed_health_check_event', failedHealthCheckEvent(app, task));
    }
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = req.url ?? '/';
    this.requests.push({ method: req.method ?? '', path, headers: req.headers });
    if (!isAuthorized(req, this.credentials)) {
      sendUnauthorized(res);
      return;
    }
    const queryAt = path.indexOf('?');
    const pathname = queryAt < 0 ? path : path.slice(0, queryAt);
    const query = new URLSearchParams(queryAt < 0 ? '' : path.slice(queryAt + 1));
    if (pathname.startsWith('/v2/') && Date.now() < this.downUntil) {
      sendJson(res, 503, NO_LEADER);
      return;
    }
    res.setHeader('X-Marathon-Leader', this.url);
    if (pathname.startsWith('/v2/') && req.method !== 'GET') {
      sendJson(res, 405, { message: 'HTTP 405 Method Not Allowed' });
      return;
    }
    if (pathname === '/v2/events') this.events(req, res, query);
    else if (pathname === '/v2/leader') sendJson(res, 200, { leader: this.http.hostPort });
    else if (pathname === '/v2/apps' || pathname === '/v2/apps/') this.listApps(res, query);
    else if (pathname.startsWith('/v2/apps/')) this.showApp(res, pathname.slice('/v2/apps'.length));
    else sendJson(res, 404, { message: 'HTTP 404 Not Found' });
  }

  private events(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): void {
    // Marathon compares the whole header value: `text/event-stream, */*` is refused too.
    if (req.headers.accept !== 'text/event-stream') {
      sendJson(res, 405, { message: 'HTTP 405 Method Not Allowed' });
      return;
    }
    const types = query.getAll('event_type');
    this.hub.attach(res, this.url, types.length > 0 ? new Set(types) : undefined);
  }

  private listApps(res: ServerResponse, query: URLSearchParams): void {
    const embeds = query.getAll('embed');
    const embed = { tasks: embeds.includes('apps.tasks'), readiness: embeds.includes('apps.readiness') };
    const selector = query.get('label');
    const keep = selector === null ? undefined : parseLabelFilter(selector);
    const apps: unknown[] = [];
    for (const app of this.apps.values()) {
      if (!keep || keep(app.input.labels ?? {})) apps.push(appInfo(app, embed));
    }
    sendJson(res, 200, { apps: [...apps, ...this.rawApps] });
  }

  private showApp(res: ServerResponse, encodedId: string): void {
    let id: string;
    try {
      id = decodeURIComponent(encodedId).replace(/\/+$/, '');
    } catch {
      sendJson(res, 400, { message: 'Invalid app id' });
      return;
    }
    const app = this.apps.get(id);
    if (!app) sendJson(res, 404, { message: `App '${id}' does not exist` });
    else sendJson(res, 200, { app: appInfo(app, { tasks: true, readiness: true }) });
  }
}

/** `/shop/web` -> `/shop`; `/web` -> `/`. */
function parentGroup(appId: string): string {
  const cut = appId.lastIndexOf('/');
  return cut <= 0 ? '/' : appId.slice(0, cut);
}
