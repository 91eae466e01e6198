import { instanceKey } from './ids.js';
import type { MachineId, Mark, MesosMachines } from './maintenance-types.js';
import type { TaskDef } from './model.js';

/**
 * Maintenance compiled into lookups: which reason, if any, takes a task out of service. Built
 * once per maintenance change, then asked for every task of every app view that is rebuilt.
 * Mesos comes first (DOWN before DRAINING), then the marks in id order; the first match names
 * the reason.
 */
export class MaintenanceIndex {
  /** Hostnames and IPs, lower case (a hostname never looks like an IP, so one map holds both). */
  private readonly mesos = new Map<string, string>();
  private readonly hosts = new Map<string, string>();
  private readonly zones = new Map<string, string>();
  private readonly apps = new Map<string, string>();
  private readonly tasks = new Map<string, string>();
  readonly empty: boolean;

  constructor(mesos: MesosMachines, marks: readonly Mark[]) {
    for (const machine of mesos.down) this.addMachine(machine, 'down');
    for (const machine of mesos.draining) this.addMachine(machine, 'draining');
    for (const mark of [...marks].sort((a, b) => Number(a.id) - Number(b.id))) {
      for (const host of mark.hosts ?? []) setFirst(this.hosts, host.toLowerCase(), markReason(mark, `host ${host}`));
      for (const zone of mark.zones ?? []) setFirst(this.zones, zone.toLowerCase(), markReason(mark, `zone ${zone}`));
      for (const app of mark.apps ?? []) setFirst(this.apps, app, markReason(mark, `app ${app}`));
      for (const task of mark.tasks ?? []) setFirst(this.tasks, instanceKey(task), markReason(mark, `task ${task}`));
    }
    this.empty = mesos.down.length === 0 && mesos.draining.length === 0 && marks.length === 0;
  }

  /** Why the task is out of service (`maintenance: ...`), or undefined when it is not. */
  reasonFor(task: TaskDef): string | undefined {
    if (this.empty) return undefined;
    return (
      onHost(this.mesos, task) ??
      onHost(this.hosts, task) ??
      (task.zone === undefined ? undefined : this.zones.get(task.zone.toLowerCase())) ??
      this.apps.get(task.appId) ??
      this.tasks.get(task.instanceKey)
    );
  }

  private addMachine(machine: MachineId, mode: 'down' | 'draining'): void {
    const reason = `maintenance: mesos ${mode} ${machine.hostname ?? machine.ip}`;
    if (machine.hostname !== undefined) setFirst(this.mesos, machine.hostname.toLowerCase(), reason);
    if (machine.ip !== undefined) setFirst(this.mesos, machine.ip.toLowerCase(), reason);
  }
}

function markReason(mark: Mark, what: string): string {
  return `maintenance: mark ${mark.id} (${what}${mark.note === undefined || mark.note === '' ? '' : `, ${JSON.stringify(mark.note)}`})`;
}

function setFirst(map: Map<string, string>, key: string, value: string): void {
  if (!map.has(key)) map.set(key, value);
}

/** The agent is the task's `host` (a name or an IP); host-networked tasks also list the agent's IP in `ipAddresses`. */
function onHost(map: ReadonlyMap<string, string>, task: TaskDef): string | undefined {
  if (map.size === 0) return undefined;
  const byHost = map.get(task.host.toLowerCase());
  if (byHost !== undefined) return byHost;
  for (const ip of task.ipAddresses) {
    const byIp = map.get(ip.toLowerCase());
    if (byIp !== undefined) return byIp;
  }
  return undefined;
}
