import type { MarathonSim } from './marathon-sim.js';
import { seededRandom } from './seeded-random.js';

export interface EventStormOptions {
  readonly marathon: MarathonSim;
  /** Apps, app n at host `app<n>.storm.example`, each with one health check. Default 1000. */
  readonly apps?: number;
  /** Tasks per app, healthy at the start. Default 2. */
  readonly tasksPerApp?: number;
  /** Seed of the storm's choices: the same seed makes the same storm. Default 1. */
  readonly seed?: number;
}

export interface StormResult {
  /** Events the simulator published during the storm. */
  readonly events: number;
  readonly ms: number;
  /** How many of each change the storm made. */
  readonly ops: Readonly<Record<StormOp, number>>;
}

type StormOp = 'unhealthy' | 'healthy' | 'lost' | 'back' | 'replaced' | 'redeployed';

interface StormTask {
  readonly id: string;
  healthy: boolean;
  lost: boolean;
}

/** Ops by weight: mostly health flips and task replacements, as in a deployment of hundreds of apps. */
const OPS: readonly (readonly [StormOp, number])[] = [
  ['unhealthy', 25],
  ['healthy', 20],
  // Either way: a lost task comes back, another gets lost.
  ['lost', 20],
  ['replaced', 30],
  ['redeployed', 5],
];
const TOTAL_WEIGHT = OPS.reduce((n, [, w]) => n + w, 0);

/** Pace of the storm: one batch of changes per tick. */
const TICK_MS = 10;

/**
 * A storm of Marathon events over many apps, for tests and `bench/storm.mjs`: health checks
 * failing and passing, tasks lost and back, tasks replaced (started, then the old one killed),
 * apps redeployed. It runs at a given rate and ends by making every task healthy and running, so
 * the last event of each task says what a full sync afterwards must show. Task ports are
 * made up: nothing needs to listen on them.
 */
export class EventStorm {
  private readonly apps: { readonly id: string; tasks: StormTask[] }[] = [];
  private nextPort = 20_000;
  private random: () => number;

  constructor(private readonly opts: EventStormOptions) {
    this.random = seededRandom(opts.seed ?? 1);
  }

  /** Host headers of the storm's apps. */
  get hosts(): string[] {
    return this.apps.map((_, n) => `app${n}.storm.example`);
  }

  deploy(): void {
    const marathon = this.opts.marathon;
    for (let n = 0; n < (this.opts.apps ?? 1000); n++) {
      const id = `/storm/app${n}`;
      marathon.deployApp({ id, labels: { BATON_0_VHOST: `app${n}.storm.example` }, healthChecks: 1 });
      const app = { id, tasks: [] as StormTask[] };
      for (let i = 0; i < (this.opts.tasksPerApp ?? 2); i++) app.tasks.push(this.start(id));
      this.apps.push(app);
    }
  }

  /** About `events` events spread evenly over `durationMs`, then a few more that settle every task. */
  async run(events: number, durationMs: number): Promise<StormResult> {
    const marathon = this.opts.marathon;
    const ops: Record<StormOp, number> = { unhealthy: 0, healthy: 0, lost: 0, back: 0, replaced: 0, redeployed: 0 };
    const first = marathon.published;
    const started = Date.now();
    for (let tick = 1; marathon.published - first < events; tick++) {
      // Where the storm should be by the end of this tick, wherever the timers let it be.
      const due = Math.min(events, Math.round((events * tick * TICK_MS) / durationMs));
      while (marathon.published - first < due) ops[this.step()]++;
      const wait = started + tick * TICK_MS - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    this.settle();
    return { events: marathon.published - first, ms: Date.now() - started, ops };
  }

  /** One random change; returns what it was. */
  private step(): StormOp {
    const marathon = this.opts.marathon;
    const app = this.apps[Math.floor(this.random() * this.apps.length)]!;
    const index = Math.floor(this.random() * app.tasks.length);
    const task = app.tasks[index]!;
    const op = this.pick();
    switch (op) {
      case 'unhealthy':
      case 'healthy':
        task.healthy = op === 'healthy';
        marathon.setHealth(task.id, task.healthy);
        break;
      case 'lost':
      case 'back':
        // Lost tasks come back, the others get lost.
        task.lost = !task.lost;
        if (task.lost) marathon.loseTask(task.id);
        else marathon.recoverTask(task.id);
        return task.lost ? 'lost' : 'back';
      case 'replaced':
        app.tasks[index] = this.start(app.id);
        marathon.killTask(task.id);
        break;
      case 'redeployed':
        marathon.updateApp(app.id, {});
        break;
    }
    return op;
  }

  private pick(): StormOp {
    let x = this.random() * TOTAL_WEIGHT;
    for (const [op, weight] of OPS) {
      x -= weight;
      if (x < 0) return op;
    }
    return OPS[0]![0];
  }

  private start(appId: string): StormTask {
    const id = this.opts.marathon.startTask(appId, { host: '127.0.0.1', ports: [this.nextPort++] }, { healthy: true });
    return { id, healthy: true, lost: false };
  }

  /** Every task running and healthy again: the last event of each task. */
  private settle(): void {
    for (const app of this.apps) {
      for (const task of app.tasks) {
        if (task.lost) this.opts.marathon.recoverTask(task.id);
        if (!task.healthy) this.opts.marathon.setHealth(task.id, true);
        task.lost = false;
        task.healthy = true;
      }
    }
  }
}
