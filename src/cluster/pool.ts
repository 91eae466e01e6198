import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import type { LiveBackend, RuntimeStatus } from '../admin/routes-view.js';
import type { Config } from '../config/schema.js';
import type { RoutingTable, TableSource } from '../routing/types.js';
import { isFromWorker, tableMessage, TableSender, workerConfig, type EntryAddresses, type FromWorker, type ToWorker } from './messages.js';

/** One worker process as `/health` shows it. */
export interface WorkerView {
  readonly index: number;
  readonly pid: number | undefined;
  readonly state: 'starting' | 'listening' | 'stopping';
  /** Version of the last table the worker applied. */
  readonly tableVersion: number;
  /** When the worker applied it (its clock): with `/swaps`, how long a table takes to reach the workers. */
  readonly tableAppliedAt: string | undefined;
  readonly startedAt: string;
}

export interface WorkersStatus {
  readonly configured: number;
  readonly running: number;
  /** Workers that died and were replaced since start. */
  readonly replaced: number;
  readonly list: readonly WorkerView[];
}

interface Slot {
  readonly worker: Worker;
  readonly index: number;
  readonly generation: number;
  readonly startedAt: number;
  /** The config this worker was forked with (a reload forks a new generation with a new one). */
  readonly config: Readonly<Config>;
  state: WorkerView['state'];
  tableVersion: number;
  tableAppliedAt: number | undefined;
  ready: boolean;
  listenRequested: boolean;
  listening?: (addresses: EntryAddresses) => void;
  failed?: (error: Error) => void;
}

export interface WorkerPoolOptions {
  readonly config: Readonly<Config>;
  readonly tables: TableSource;
  readonly logger: Logger;
  /** How long the primary waits for a worker's answer (runtime, metrics) before leaving it out. */
  readonly replyTimeoutMs?: number;
}

/** A worker that dies this soon after starting is restarted after a growing pause (crash loop). */
const QUICK_DEATH_MS = 5_000;
const MAX_RESTART_DELAY_MS = 10_000;
/**
 * glibc settings for the workers, unless the operator set their own: a worker's heap is small, so
 * freeing each 64 KiB socket read at its top made glibc hand memory back to the kernel and ask for
 * it again on nearly every read (measured: a third of reads ended in brk, twice the CPU per MiB
 * relayed). Keeping up to 1 GiB of free heap and growing it 64 MiB at a time stops that.
 */
function workerEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  return {
    MALLOC_TRIM_THRESHOLD_: env.MALLOC_TRIM_THRESHOLD_ ?? String(1024 * 1024 * 1024),
    MALLOC_TOP_PAD_: env.MALLOC_TOP_PAD_ ?? String(64 * 1024 * 1024),
  };
}
const BREAKER_RANK: Record<string, number> = { closed: 0, 'half-open': 1, open: 2 };

/**
 * The primary's side of the proxy workers (node:cluster): forks them, sends each the config and
 * every table, replaces one that dies (it gets the current table before it listens), gathers
 * their runtime state and metrics for the admin API, and stops them gracefully. A reload forks a
 * new generation with the new config and stops the old one once the new one listens, so the
 * listening sockets (held by the primary) never close.
 */
export class WorkerPool {
  readonly #slots = new Map<number, Slot>();
  readonly #tables: TableSource;
  readonly #logger: Logger;
  readonly #replyTimeoutMs: number;
  #config: Readonly<Config>;
  #generation = 0;
  #listening = false;
  #stopping = false;
  #replaced = 0;
  #restartDelayMs = 250;
  #nextRequestId = 1;
  readonly #pending = new Map<number, (body: unknown) => void>();
  readonly #sender = new TableSender();

  constructor(opts: WorkerPoolOptions) {
    this.#config = opts.config;
    this.#tables = opts.tables;
    this.#logger = opts.logger;
    this.#replyTimeoutMs = opts.replyTimeoutMs ?? 2_000;
    // Workers accept on the shared sockets themselves: the primary (also the control plane) never
    // sits between a client and a worker, so an event storm on the primary cannot delay accepts.
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    for (let index = 0; index < this.#config.workers; index++) this.#fork(index);
  }

  onSwap(table: RoutingTable): void {
    const message = this.#sender.next(table);
    // A worker not yet ready gets the whole current table when it is.
    for (const slot of this.#slots.values()) if (slot.ready) this.#send(slot, message);
  }

  /** Resolves with the entry points' addresses once every worker of the generation listens. */
  async listen(): Promise<EntryAddresses> {
    this.#listening = true;
    const addresses = await Promise.all([...this.#slots.values()].map((slot) => this.#startListening(slot)));
    return addresses[0] as EntryAddresses;
  }

  /** Listeners and certificates as the first worker reports them; backends merged over every worker. */
  async runtime(): Promise<RuntimeStatus> {
    const answers = (await this.#ask('runtime')) as RuntimeStatus[];
    const first = answers[0];
    if (first === undefined) return { listeners: [] };
    return { ...first, backends: mergeBackends(answers) };
  }

  /** Each worker's metrics as prom-client JSON, for `AggregatorRegistry.aggregate`. */
  async metrics(): Promise<object[][]> {
    return (await this.#ask('metrics')) as object[][];
  }

  status(): WorkersStatus {
    const list = [...this.#slots.values()]
      .sort((a, b) => a.index - b.index || a.generation - b.generation)
      .map((s) => ({
        index: s.index,
        pid: s.worker.process.pid,
        state: s.state,
        tableVersion: s.tableVersion,
        tableAppliedAt: s.tableAppliedAt === undefined ? undefined : new Date(s.tableAppliedAt).toISOString(),
        startedAt: new Date(s.startedAt).toISOString(),
      }));
    return { configured: this.#config.workers, running: list.filter((w) => w.state === 'listening').length, replaced: this.#replaced, list };
  }

  /**
   * Replaces every worker with one built from `config`: the new generation listens first, then
   * the old one drains. If the new one cannot listen, it is stopped and the old one stays.
   */
  async reload(config: Readonly<Config>): Promise<void> {
    const old = [...this.#slots.values()];
    const previous = { config: this.#config, generation: this.#generation };
    this.#config = config;
    this.#generation++;
    const fresh: Slot[] = [];
    for (let index = 0; index < config.workers; index++) fresh.push(this.#fork(index));
    try {
      if (this.#listening) await Promise.all(fresh.map((slot) => this.#startListening(slot)));
    } catch (err) {
      this.#config = previous.config;
      this.#generation = previous.generation;
      await Promise.all(fresh.map((slot) => this.#retire(slot)));
      throw err;
    }
    for (const slot of old) this.#retire(slot);
  }

  /** Tells every worker to drain and waits for them (bounded by shutdownGraceMs plus a margin). */
  async close(): Promise<void> {
    this.#stopping = true;
    const exits = [...this.#slots.values()].map((slot) => this.#retire(slot));
    await Promise.all(exits);
  }

  #fork(index: number): Slot {
    const worker = cluster.fork(workerEnv(process.env));
    const slot: Slot = { worker, index, config: this.#config, generation: this.#generation, startedAt: Date.now(), state: 'starting', tableVersion: 0, tableAppliedAt: undefined, ready: false, listenRequested: false };
    this.#slots.set(worker.id, slot);
    worker.on('message', (message: unknown) => {
      if (isFromWorker(message)) this.#onMessage(slot, message);
    });
    worker.on('exit', (code, signal) => this.#onExit(slot, code, signal));
    return slot;
  }

  #startListening(slot: Slot): Promise<EntryAddresses> {
    return new Promise<EntryAddresses>((resolve, reject) => {
      slot.listening = resolve;
      slot.failed = reject;
      slot.listenRequested = true;
      // A worker not yet ready is told to listen with its first messages.
      if (slot.ready) this.#send(slot, { type: 'listen' });
    });
  }

  #onMessage(slot: Slot, message: FromWorker): void {
    switch (message.type) {
      case 'ready':
        slot.ready = true;
        this.#send(slot, { type: 'start', config: workerConfig(slot.config), index: slot.index });
        this.#send(slot, tableMessage(this.#tables.current));
        if (slot.listenRequested) this.#send(slot, { type: 'listen' });
        break;
      case 'listening':
        slot.state = 'listening';
        slot.listening?.(message.addresses);
        break;
      case 'listen-failed':
        slot.failed?.(new Error(message.error));
        break;
      case 'table-applied':
        slot.tableVersion = message.version;
        slot.tableAppliedAt = message.at;
        break;
      case 'table-resync':
        this.#logger.debug({ worker: slot.index, version: message.version }, 'worker asked for the whole table');
        this.#send(slot, tableMessage(this.#tables.current));
        break;
      case 'reply':
        this.#pending.get(message.id)?.(message.body);
        break;
    }
  }

  #onExit(slot: Slot, code: number | null, signal: string | null): void {
    const current = this.#slots.get(slot.worker.id) === slot;
    this.#slots.delete(slot.worker.id);
    slot.failed?.(new Error(`worker ${slot.index} exited (${signal ?? `code ${code}`}) before listening`));
    if (!current || this.#stopping || slot.state === 'stopping') return;
    this.#logger.error({ worker: slot.index, pid: slot.worker.process.pid, code, signal }, 'proxy worker died; starting a replacement');
    this.#replaced++;
    const quick = Date.now() - slot.startedAt < QUICK_DEATH_MS;
    this.#restartDelayMs = quick ? Math.min(this.#restartDelayMs * 2, MAX_RESTART_DELAY_MS) : 250;
    setTimeout(() => {
      if (this.#stopping || slot.generation !== this.#generation) return;
      const replacement = this.#fork(slot.index);
      if (this.#listening) this.#startListening(replacement).catch((err: unknown) => this.#logger.error({ err, worker: slot.index }, 'replacement worker cannot listen'));
    }, quick ? this.#restartDelayMs : 0).unref();
  }

  /** Asks the worker to drain and exit; kills it if it has not exited within the grace period. */
  #retire(slot: Slot): Promise<void> {
    if (slot.worker.isDead()) return Promise.resolve();
    slot.state = 'stopping';
    const exited = new Promise<void>((resolve) => slot.worker.once('exit', () => resolve()));
    this.#send(slot, { type: 'stop' });
    const kill = setTimeout(() => slot.worker.process.kill('SIGKILL'), this.#config.shutdownGraceMs + 5_000);
    return exited.finally(() => clearTimeout(kill));
  }

  #send(slot: Slot, message: ToWorker): void {
    if (!slot.worker.isConnected()) return;
    slot.worker.send(message, (err: Error | null) => {
      // A worker that died between the check and the write: its exit handler deals with it.
      if (err) this.#logger.debug({ err, worker: slot.index }, 'message to a worker not delivered');
    });
  }

  /** Asks every listening worker; an answer that does not come within the timeout is left out. */
  async #ask(what: 'runtime' | 'metrics'): Promise<unknown[]> {
    const asked = [...this.#slots.values()].filter((s) => s.state === 'listening').sort((a, b) => a.index - b.index);
    const answers = await Promise.all(
      asked.map(
        (slot) =>
          new Promise<unknown>((resolve) => {
            const id = this.#nextRequestId++;
            const timer = setTimeout(() => done(undefined), this.#replyTimeoutMs);
            const done = (body: unknown) => {
              clearTimeout(timer);
              this.#pending.delete(id);
              resolve(body);
            };
            this.#pending.set(id, done);
            this.#send(slot, { type: 'request', id, what });
          }),
      ),
    );
    return answers.filter((a) => a !== undefined);
  }
}

/** One view of a backend over every worker: in-flight counts add up, the worst breaker and latency show. */
function mergeBackends(answers: readonly RuntimeStatus[]): Record<string, LiveBackend> {
  const merged: Record<string, LiveBackend> = {};
  for (const answer of answers) {
    for (const [address, live] of Object.entries(answer.backends ?? {})) {
      const seen = merged[address];
      merged[address] = seen
        ? {
            breaker: (BREAKER_RANK[live.breaker] ?? 0) > (BREAKER_RANK[seen.breaker] ?? 0) ? live.breaker : seen.breaker,
            inFlight: seen.inFlight + live.inFlight,
            latencyMs: Math.max(seen.latencyMs, live.latencyMs),
          }
        : live;
    }
  }
  return merged;
}
