import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import { MaintenanceIndex } from './maintenance-index.js';
import type { MachineId, Mark, MarkInput, MesosMachines } from './maintenance-types.js';
import type { TaskDef } from './model.js';
import type { PersistedState, StateFile } from './state-file.js';

/** setTimeout's longest delay; a later expiry re-arms the timer when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const NO_MACHINES: MesosMachines = { draining: [], down: [] };

export interface MaintenanceOptions {
  readonly logger: Logger;
  readonly store: StateFile;
  /** What the state file held at start (marks; last Mesos maintenance when Mesos is polled). */
  readonly initial: PersistedState;
  /** Called once after every change of what is out of service: the state re-judges its apps. */
  readonly onChange: () => void;
  readonly now?: () => number;
}

/** The outcome of a change the admin API asked for; `warning` when it could not be persisted. */
export interface MarkResult {
  readonly mark: Mark;
  readonly warning?: string;
}

/**
 * What is in maintenance: the machines Mesos reports DRAINING or DOWN and the operator's marks.
 * Every change is persisted, compiled into a new lookup index and announced once through
 * `onChange`. Marks with an expiry share one timer, set for the earliest.
 */
export class Maintenance {
  private mesos: MesosMachines;
  private mesosAt: string | undefined;
  private readonly marks = new Map<string, Mark>();
  private nextId: number;
  private index: MaintenanceIndex;
  private expiryTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: MaintenanceOptions) {
    this.now = opts.now ?? Date.now;
    this.nextId = opts.initial.nextId;
    this.mesos = opts.initial.mesos?.machines ?? NO_MACHINES;
    this.mesosAt = opts.initial.mesos?.at;
    const now = this.now();
    for (const mark of opts.initial.marks) if (!expired(mark, now)) this.marks.set(mark.id, mark);
    this.index = new MaintenanceIndex(this.mesos, this.markList());
    this.armExpiry();
  }

  /** Why the task is out of service, or undefined. */
  reasonFor(task: TaskDef): string | undefined {
    return this.index.reasonFor(task);
  }

  /** The latest report of the leading Mesos master; a report equal to the last one changes nothing. */
  setMesos(machines: MesosMachines): void {
    const next = normalise(machines);
    this.mesosAt = new Date(this.now()).toISOString();
    if (isDeepStrictEqual(next, this.mesos)) return;
    this.opts.logger.info({ draining: next.draining.map(label), down: next.down.map(label) }, 'Mesos maintenance changed');
    this.mesos = next;
    this.changed();
    this.persist().catch(() => undefined);
  }

  async addMark(input: MarkInput): Promise<MarkResult> {
    const now = this.now();
    const expiresAt = input.expiresAt ?? (input.ttlMs === undefined ? undefined : now + input.ttlMs);
    const mark: Mark = {
      id: String(this.nextId++),
      ...(input.hosts && { hosts: [...input.hosts] }),
      ...(input.zones && { zones: [...input.zones] }),
      ...(input.apps && { apps: [...input.apps] }),
      ...(input.tasks && { tasks: [...input.tasks] }),
      ...(input.note !== undefined && { note: input.note }),
      createdAt: new Date(now).toISOString(),
      ...(expiresAt !== undefined && { expiresAt: new Date(expiresAt).toISOString() }),
    };
    this.marks.set(mark.id, mark);
    this.opts.logger.info({ mark }, 'maintenance mark added');
    this.changed();
    this.armExpiry();
    const warning = await this.persistOrWarn();
    return warning === undefined ? { mark } : { mark, warning };
  }

  /** Deletes a mark; undefined when there is none with this id. */
  async deleteMark(id: string): Promise<MarkResult | undefined> {
    const mark = this.marks.get(id);
    if (mark === undefined) return undefined;
    this.marks.delete(id);
    this.opts.logger.info({ mark }, 'maintenance mark deleted');
    this.changed();
    this.armExpiry();
    const warning = await this.persistOrWarn();
    return warning === undefined ? { mark } : { mark, warning };
  }

  listMarks(): Mark[] {
    return this.markList();
  }

  mesosMachines(): MesosMachines & { readonly at?: string } {
    return this.mesosAt === undefined ? this.mesos : { ...this.mesos, at: this.mesosAt };
  }

  close(): void {
    clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
  }

  private markList(): Mark[] {
    return [...this.marks.values()].sort((a, b) => Number(a.id) - Number(b.id));
  }

  private changed(): void {
    this.index = new MaintenanceIndex(this.mesos, this.markList());
    this.opts.onChange();
  }

  private persist(): Promise<void> {
    return this.opts.store.save({
      nextId: this.nextId,
      marks: this.markList(),
      ...(this.mesosAt !== undefined && { mesos: { machines: this.mesos, at: this.mesosAt } }),
    });
  }

  private async persistOrWarn(): Promise<string | undefined> {
    try {
      await this.persist();
      return undefined;
    } catch (err) {
      return `in effect, but not saved to the state file (${(err as Error).message}): it will not survive a restart`;
    }
  }

  /** One timer for the earliest expiry; it drops every mark due and re-arms for the next. */
  private armExpiry(): void {
    clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    let earliest = Infinity;
    for (const mark of this.marks.values()) if (mark.expiresAt !== undefined) earliest = Math.min(earliest, Date.parse(mark.expiresAt));
    if (earliest === Infinity) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, earliest - this.now()));
    this.expiryTimer = setTimeout(() => this.expire(), delay);
    // The servers keep the process alive; a mark due next month need not.
    this.expiryTimer.unref();
  }

  private expire(): void {
    const now = this.now();
    const gone = [...this.marks.values()].filter((mark) => expired(mark, now));
    for (const mark of gone) this.marks.delete(mark.id);
    if (gone.length > 0) {
      this.opts.logger.info({ marks: gone.map((m) => m.id) }, 'maintenance marks expired');
      this.changed();
      this.persist().catch(() => undefined);
    }
    this.armExpiry();
  }
}

function expired(mark: Mark, now: number): boolean {
  return mark.expiresAt !== undefined && Date.parse(mark.expiresAt) <= now;
}

/** Sorted and free of duplicates, so that an unchanged report compares equal whatever its order. */
function normalise(machines: MesosMachines): MesosMachines {
  const sort = (list: readonly MachineId[]) => {
    const seen = new Map<string, MachineId>();
    for (const m of list) {
      const id: MachineId = { ...(m.hostname !== undefined && { hostname: m.hostname }), ...(m.ip !== undefined && { ip: m.ip }) };
      seen.set(label(id), id);
    }
    return [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, m]) => m);
  };
  return { draining: sort(machines.draining), down: sort(machines.down) };
}

function label(machine: MachineId): string {
  return `${machine.hostname ?? ''}/${machine.ip ?? ''}`;
}
