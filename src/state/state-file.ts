import { open, rename, unlink } from 'node:fs/promises';
import { readFileSync, renameSync } from 'node:fs';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Mark, MesosMachines } from './maintenance-types.js';

/** What baton keeps across restarts: the operator's marks, and the last maintenance Mesos reported. */
export interface PersistedState {
  /** The id the next mark gets: ids are never reused, even after a restart. */
  readonly nextId: number;
  readonly marks: readonly Mark[];
  /** Last known Mesos maintenance, used until a master answers (never "unknown = all up"). */
  readonly mesos?: { readonly machines: MesosMachines; readonly at: string };
}

export interface StateFileStatus {
  readonly path: string;
  /** Why the file found at start was not used (it was moved aside to `movedTo`). */
  readonly loadError?: string;
  readonly movedTo?: string;
  readonly lastWriteAt?: string;
  readonly lastWriteError?: string;
}

const strings = z.array(z.string().min(1)).optional();
const machine = z.strictObject({ hostname: z.string().min(1).optional(), ip: z.string().min(1).optional() });
const fileSchema = z.strictObject({
  version: z.literal(1),
  nextId: z.number().int().positive(),
  marks: z.array(
    z.strictObject({
      id: z.string().regex(/^\d+$/),
      hosts: strings,
      zones: strings,
      apps: strings,
      tasks: strings,
      note: z.string().optional(),
      createdAt: z.iso.datetime({ offset: true }),
      expiresAt: z.iso.datetime({ offset: true }).optional(),
    }),
  ),
  mesos: z
    .strictObject({
      machines: z.strictObject({ draining: z.array(machine), down: z.array(machine) }),
      at: z.iso.datetime({ offset: true }),
    })
    .optional(),
});

export const EMPTY_STATE: PersistedState = { nextId: 1, marks: [] };

/**
 * The state file: read once at start, written atomically (a temporary file in the same directory,
 * flushed, then renamed over the old one), so a crash leaves either the old or the new content.
 * A file that cannot be read or parsed is reported and moved aside, never fatal. Writes are
 * serialised; a save while one is running waits for it and then writes the latest state.
 */
export class StateFile {
  private status_: StateFileStatus;
  private writing: Promise<void> = Promise.resolve();
  private sequence = 0;

  constructor(
    readonly path: string,
    private readonly logger: Logger,
  ) {
    this.status_ = { path };
  }

  load(): PersistedState {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY_STATE;
      return this.unusable(`cannot read: ${(err as Error).message}`, false);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      return this.unusable(`not JSON: ${(err as Error).message}`, true);
    }
    const parsed = fileSchema.safeParse(json);
    if (!parsed.success) return this.unusable(`unexpected content: ${z.prettifyError(parsed.error).replaceAll('\n', ' ')}`, true);
    const { nextId, marks, mesos } = parsed.data;
    // Ids below nextId only: a hand-edited file must not make a new mark reuse an id.
    const highest = marks.reduce((n, m) => Math.max(n, Number(m.id)), 0);
    return { nextId: Math.max(nextId, highest + 1), marks, ...(mesos && { mesos }) };
  }

  /** Writes `state` atomically; rejects when it could not (the error also shows in `status()`). */
  save(state: PersistedState): Promise<void> {
    const text = `${JSON.stringify({ version: 1, ...state }, null, 2)}\n`;
    const run = this.writing.then(() => this.write(text));
    this.writing = run.catch(() => undefined);
    return run;
  }

  /** Resolves once every save asked for so far has finished (failed ones included). */
  idle(): Promise<void> {
    return this.writing;
  }

  status(): StateFileStatus {
    return this.status_;
  }

  private async write(text: string): Promise<void> {
    const temporary = `${this.path}.${process.pid}.${++this.sequence}.tmp`;
    try {
      const file = await open(temporary, 'w', 0o644);
      try {
        await file.writeFile(text, 'utf8');
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temporary, this.path);
      const { lastWriteError: _, ...rest } = this.status_;
      this.status_ = { ...rest, lastWriteAt: new Date().toISOString() };
    } catch (err) {
      await unlink(temporary).catch(() => undefined);
      const message = (err as Error).message;
      this.status_ = { ...this.status_, lastWriteError: message };
      this.logger.error({ path: this.path, err: message }, 'cannot write the state file; maintenance marks will not survive a restart');
      throw err;
    }
  }

  /** A file baton cannot use: reported, moved aside when possible (so the next save does not destroy it), ignored. */
  private unusable(reason: string, moveAside: boolean): PersistedState {
    let movedTo: string | undefined;
    if (moveAside) {
      const target = `${this.path}.corrupt-${Date.now()}`;
      try {
        renameSync(this.path, target);
        movedTo = target;
      } catch {
        // Left where it is: the first save replaces it.
      }
    }
    this.status_ = { ...this.status_, loadError: reason, ...(movedTo !== undefined && { movedTo }) };
    this.logger.error({ path: this.path, reason, movedTo }, 'state file ignored: starting without maintenance marks');
    return EMPTY_STATE;
  }
}
