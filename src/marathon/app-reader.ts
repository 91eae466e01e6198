import type { AppDef, AppPort, AppSnapshot, TaskDef } from '../state/model.js';
import { instanceKey } from '../state/ids.js';
import { absoluteAppId, isRecord } from './json.js';

/**
 * Checks one app of Marathon's JSON (the 1.4 to 1.10 shapes, plus the pre-1.5 fields) and turns
 * it into an AppSnapshot in the same pass. Hand-written rather than zod: a full snapshot runs it
 * for 10,000 apps and 50,000 tasks, and zod's generic walk was most of the sync's parse time.
 * Only the fields baton reads are checked; unknown fields are ignored, and every optional field
 * may be `null` (Marathon writes `null` for some absent values). The first bad field refuses the
 * app, with a reason naming it (`tasks.1.host: expected a string, got number`).
 */

type Json = Record<string, unknown>;

const RUNNING = 'TASK_RUNNING';

/** The app is refused: `path` names the field (outermost first). */
export class Refused {
  constructor(
    readonly path: (string | number)[],
    readonly message: string,
  ) {}

  get reason(): string {
    return `${this.path.length === 0 ? '(app)' : this.path.join('.')}: ${this.message}`;
  }
}

/** The app as an AppSnapshot; throws Refused for a malformed one. */
export function readApp(raw: unknown): AppSnapshot {
  const app = object(raw);
  const rawId = app.id;
  if (typeof rawId !== 'string' || rawId.length === 0) throw refused('id', rawId === '' ? 'expected a non-empty string' : expected('a string', rawId));
  const version = optionalString(app, 'version');
  const labels = labelsOf(app, 'labels');
  const definitions = optionalList(app, 'portDefinitions', checkPortDefinition);
  const ports = optionalList(app, 'ports', checkPort);
  const container = within('container', optionalObject(app, 'container'), checkContainer);
  const networks = optionalList(app, 'networks', checkNetwork);
  const ipAddress = within('ipAddress', optionalObject(app, 'ipAddress'), checkIpAddress);
  const healthChecks = optionalList(app, 'healthChecks', undefined);
  const readinessChecks = optionalList(app, 'readinessChecks', undefined);
  const deployments = optionalList(app, 'deployments', checkDeployment);
  const readinessResults = optionalList(app, 'readinessCheckResults', checkReadinessResult);
  const rawTasks = optionalList(app, 'tasks', undefined);

  const id = absoluteAppId(rawId);
  const appVersion = version ?? '';
  const def: AppDef = {
    id,
    version: appVersion,
    labels,
    ports: appPorts(container, ipAddress, definitions, ports),
    ipPerTask: isIpPerTask(networks, ipAddress, container),
    healthChecks: healthChecks?.length ?? 0,
    readinessChecks: readinessChecks?.length ?? 0,
    deployments: deployments === undefined ? [] : deployments.map((d) => (d as Json).id as string),
  };
  const ready = readiness(readinessResults);
  const tasks: TaskDef[] = [];
  if (rawTasks !== undefined) {
    for (let i = 0; i < rawTasks.length; i++) {
      try {
        tasks.push(readTask(rawTasks[i], id, appVersion, ready));
      } catch (err) {
        throw nested(err, 'tasks', i);
      }
    }
  }
  return { app: def, tasks };
}

function readTask(raw: unknown, appId: string, appVersion: string, ready: Map<string, boolean> | undefined): TaskDef {
  const task = object(raw);
  const id = task.id;
  if (typeof id !== 'string' || id.length === 0) throw refused('id', id === '' ? 'expected a non-empty string' : expected('a string', id));
  const host = task.host;
  if (typeof host !== 'string') throw refused('host', expected('a string', host));
  const ports = optionalList(task, 'ports', checkPort);
  const ipAddresses = optionalList(task, 'ipAddresses', checkIpAddressEntry);
  const state = optionalString(task, 'state');
  const version = optionalString(task, 'version');
  const slaveId = optionalString(task, 'slaveId');
  const zone = optionalString(task, 'zone');
  const region = optionalString(task, 'region');
  const startedAt = optionalString(task, 'startedAt');
  const results = optionalList(task, 'healthCheckResults', checkHealthResult);

  let healthResults: readonly boolean[] = NONE;
  if (results !== undefined && results.length > 0) {
    const alive: boolean[] = [];
    for (const result of results) if (result !== null) alive.push((result as Json).alive as boolean);
    healthResults = alive;
  }
  const key = keyOf(id);
  const taskPorts = (ports as number[] | undefined) ?? NONE;
  const addresses = ipAddresses === undefined || ipAddresses.length === 0 ? NONE : ipAddresses.map((a) => (a as Json).ipAddress as string);
  // Tasks of old Marathons carry no `state`: a started task is running. The common state shares
  // the literal's copy rather than keeping the one JSON.parse made for each task.
  const taskState = state === undefined ? (startedAt ? RUNNING : 'TASK_STAGING') : state === RUNNING ? RUNNING : state;
  const taskVersion = version === appVersion ? appVersion : version;
  const isReady = ready?.get(id);
  if (taskVersion && slaveId && startedAt && !zone && !region && isReady === undefined) {
    // A running task of Marathon 1.4+ has these fields and no more: one literal, so that all of
    // them are stored in the object (fields added one by one go to a second store, per task).
    return { id, instanceKey: key, appId, host, ports: taskPorts, ipAddresses: addresses, state: taskState, healthResults, version: taskVersion, slaveId, startedAt };
  }
  const out: { -readonly [K in keyof TaskDef]: TaskDef[K] } = { id, instanceKey: key, appId, host, ports: taskPorts, ipAddresses: addresses, state: taskState, healthResults };
  if (taskVersion) out.version = taskVersion;
  if (slaveId) out.slaveId = slaveId;
  if (zone) out.zone = zone;
  if (region) out.region = region;
  if (startedAt) out.startedAt = startedAt;
  if (isReady !== undefined) out.ready = isReady;
  return out;
}

/** Shared by the tasks without ports, addresses or health results (never written: the model is read-only). */
const NONE: readonly never[] = Object.freeze([]);

/**
 * `instanceKey(id)` as one string: a task id of Marathon 1.8+ is its key plus `._app.<n>`, and a
 * slice of the id (kept anyway) weighs less than the pieces the key is assembled from.
 */
function keyOf(id: string): string {
  const key = instanceKey(id);
  if (key.length === id.length) return id;
  return id.startsWith(key) ? id.slice(0, key.length) : key;
}

/** Ports in the order labels like `HAPROXY_{n}_*` count them; see MARATHON.md for the versions. */
function appPorts(container: Json | undefined, ipAddress: Json | undefined, definitions: unknown[] | undefined, ports: unknown[] | undefined): AppPort[] {
  const docker = container?.docker as Json | null | undefined;
  const mappings = nonEmpty(container?.portMappings) ?? nonEmpty(docker?.portMappings);
  if (mappings) {
    return mappings.map((m, index) => {
      const { protocol, name, labels, servicePort, containerPort } = m as Json;
      return port(index, protocol, name, labels, servicePort, containerPort);
    });
  }
  const discovery = ipAddress ? nonEmpty((ipAddress.discovery as Json | null | undefined)?.ports) : undefined;
  if (discovery) {
    return discovery.map((d, index) => {
      const { protocol, name, labels, number } = d as Json;
      return port(index, protocol, name, labels, undefined, number);
    });
  }
  if (definitions !== undefined && definitions.length > 0) {
    return definitions.map((d, index) => {
      const { protocol, name, labels, port: servicePort } = d as Json;
      return port(index, protocol, name, labels, servicePort, undefined);
    });
  }
  return (ports ?? []).map((p, index) => port(index, undefined, undefined, undefined, p, undefined));
}

/** From fields already checked: strings, ports and labels objects, or null/undefined. */
function port(index: number, protocol: unknown, name: unknown, labels: unknown, servicePort: unknown, containerPort: unknown): AppPort {
  const out: { -readonly [K in keyof AppPort]: AppPort[K] } = {
    index,
    protocol: (protocol as string | null | undefined) || 'tcp',
    labels: stringLabels(labels as Json | null | undefined),
  };
  if (typeof servicePort === 'number') out.servicePort = servicePort;
  if (typeof containerPort === 'number') out.containerPort = containerPort;
  if (name) out.name = name as string;
  return out;
}

/**
 * 1.5+: a `container` network mode means one IP per task (`container/bridge` and `host` do not).
 * Before 1.5: an `ipAddress` block, unless Docker runs the task on the BRIDGE or HOST network.
 */
function isIpPerTask(networks: unknown[] | undefined, ipAddress: Json | undefined, container: Json | undefined): boolean {
  if (networks && networks.length > 0) return networks.some((n) => (n as Json).mode === 'container');
  if (!ipAddress) return false;
  const network = (container?.docker as Json | null | undefined)?.network;
  return network !== 'BRIDGE' && network !== 'HOST';
}

/** taskId -> ready; a task with several readiness checks is ready when all of them say so. */
function readiness(results: unknown[] | undefined): Map<string, boolean> | undefined {
  if (results === undefined || results.length === 0) return undefined;
  const ready = new Map<string, boolean>();
  for (const result of results) {
    const { taskId, ready: isReady } = result as { taskId: string; ready: boolean };
    ready.set(taskId, (ready.get(taskId) ?? true) && isReady);
  }
  return ready;
}

function stringLabels(labels: Json | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!labels) return out;
  for (const key in labels) {
    const value = labels[key];
    if (typeof value === 'string') out[key] = value;
  }
  return out;
}

function nonEmpty(list: unknown): unknown[] | undefined {
  return Array.isArray(list) && list.length > 0 ? list : undefined;
}

// Checks of nested objects: they throw Refused with the path inside the object.

function checkPortDefinition(value: unknown): void {
  const definition = object(value);
  optionalPort(definition, 'port');
  optionalString(definition, 'protocol');
  optionalString(definition, 'name');
  labelsOf(definition, 'labels');
}

function checkPortMapping(value: unknown): void {
  const mapping = object(value);
  optionalPort(mapping, 'containerPort');
  optionalPort(mapping, 'hostPort');
  optionalPort(mapping, 'servicePort');
  optionalString(mapping, 'protocol');
  optionalString(mapping, 'name');
  labelsOf(mapping, 'labels');
}

/** Pre-1.5 IP-per-task apps: `ipAddress.discovery.ports[{number, name, protocol}]`. */
function checkDiscoveryPort(value: unknown): void {
  const discovery = object(value);
  const number = discovery.number;
  if (!isPort(number)) throw refused('number', portMessage(number));
  optionalString(discovery, 'name');
  optionalString(discovery, 'protocol');
  labelsOf(discovery, 'labels');
}

function checkContainer(container: Json): void {
  optionalString(container, 'type');
  optionalList(container, 'portMappings', checkPortMapping);
  within('docker', optionalObject(container, 'docker'), (docker) => {
    optionalString(docker, 'network');
    optionalList(docker, 'portMappings', checkPortMapping);
  });
}

function checkIpAddress(ipAddress: Json): void {
  within('discovery', optionalObject(ipAddress, 'discovery'), (discovery) => optionalList(discovery, 'ports', checkDiscoveryPort));
}

function checkNetwork(value: unknown): void {
  optionalString(object(value), 'mode');
}

function checkDeployment(value: unknown): void {
  const deployment = object(value);
  if (typeof deployment.id !== 'string') throw refused('id', expected('a string', deployment.id));
}

function checkReadinessResult(value: unknown): void {
  const result = object(value);
  if (typeof result.taskId !== 'string') throw refused('taskId', expected('a string', result.taskId));
  if (typeof result.ready !== 'boolean') throw refused('ready', expected('a boolean', result.ready));
}

function checkIpAddressEntry(value: unknown): void {
  const entry = object(value);
  if (typeof entry.ipAddress !== 'string') throw refused('ipAddress', expected('a string', entry.ipAddress));
}

/** Very old Marathons put `null` in this list for a check without a result yet. */
function checkHealthResult(value: unknown): void {
  if (value === null) return;
  const result = object(value);
  if (typeof result.alive !== 'boolean') throw refused('alive', expected('a boolean', result.alive));
}

function checkPort(value: unknown): void {
  if (!isPort(value)) throw new Refused([], portMessage(value));
}

// Field readers: `undefined` for an absent or null field; Refused naming the field for a wrong type.

function object(value: unknown): Json {
  if (!isRecord(value)) throw new Refused([], expected('an object', value));
  return value;
}

function optionalString(owner: Json, key: string): string | undefined {
  const value = owner[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw refused(key, expected('a string', value));
  return value;
}

function optionalPort(owner: Json, key: string): void {
  const value = owner[key];
  if (value !== undefined && value !== null && !isPort(value)) throw refused(key, portMessage(value));
}

function optionalObject(owner: Json, key: string): Json | undefined {
  const value = owner[key];
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) throw refused(key, expected('an object', value));
  return value;
}

/** A list whose entries `check` accepts (any entries without one). */
function optionalList(owner: Json, key: string, check: ((entry: unknown) => void) | undefined): unknown[] | undefined {
  const value = owner[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw refused(key, expected('a list', value));
  if (check !== undefined) {
    for (let i = 0; i < value.length; i++) {
      try {
        check(value[i]);
      } catch (err) {
        throw nested(err, key, i);
      }
    }
  }
  return value;
}

/** Labels: any JSON object; only string values are kept (others are dropped, not refused). */
function labelsOf(owner: Json, key: string): Record<string, string> {
  return stringLabels(optionalObject(owner, key));
}

/** Runs `check` on a nested object, naming it in the path of what it refuses. */
function within<T extends Json | undefined>(key: string, value: T, check: (value: Json) => void): T {
  if (value === undefined) return value;
  try {
    check(value);
  } catch (err) {
    throw nested(err, key);
  }
  return value;
}

function nested(err: unknown, ...outer: (string | number)[]): unknown {
  if (err instanceof Refused) err.path.unshift(...outer);
  return err;
}

function refused(key: string, message: string): Refused {
  return new Refused([key], message);
}

function isPort(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 65535;
}

function portMessage(value: unknown): string {
  return typeof value === 'number' ? `expected a port number from 0 to 65535, got ${value}` : expected('a port number', value);
}

function expected(what: string, value: unknown): string {
  const kind = value === null ? 'null' : Array.isArray(value) ? 'a list' : value === undefined ? 'nothing' : typeof value;
  return `expected ${what}, got ${kind}`;
}
