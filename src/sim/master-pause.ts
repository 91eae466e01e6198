import { LoadLoop, type PhaseCount } from './load-loop.js';
import type { MarathonSim } from './marathon-sim.js';
import { startSimBackend, type SimBackend } from './sim-backend.js';

export interface MasterPauseOptions {
  readonly marathon: MarathonSim;
  /** Apps, app n at host `app<n>.pause.example`. Default 3. */
  readonly apps?: number;
  /** Tasks per app, each its own backend on 127.0.0.1. Default 3. */
  readonly tasksPerApp?: number;
  /**
   * Every n-th task (across apps) really dies as Mesos loses it: its listening socket and
   * connections close, requests in flight unanswered. 3 kills a third of them; 0 (the default) none.
   */
  readonly deadEvery?: number;
  /** Requests let through in each phase. Default 300. */
  readonly requestsPerPhase?: number;
  /** Progress lines. */
  readonly log?: (line: string) => void;
  /** Longest wait for baton to show a change. Default 15000. */
  readonly waitTimeoutMs?: number;
}

export interface MasterPauseResult {
  readonly phases: readonly PhaseCount[];
  readonly requests: number;
  readonly failed: number;
  /** The first failures, described. */
  readonly failures: readonly string[];
  readonly tasks: number;
  readonly dead: number;
}

interface SimTask {
  readonly id: string;
  readonly backend: SimBackend;
  readonly dead: boolean;
}

/** `/routes` as far as the scenario reads it. */
interface RoutesBody {
  routes: { backends: { taskId: string; routable: boolean; health: string }[] }[];
}

/** The pause is spread over this many slices of this long: every task is lost within one second. */
const SLICES = 5;
const SLICE_MS = 100;

/**
 * Twitter's worst Mesos day, against baton under load: the master pauses, every agent's tasks go
 * TASK_UNREACHABLE within one second while (most of) their processes keep answering, then come
 * back TASK_RUNNING. baton should keep routing to them as suspects: no failed request. With
 * `deadEvery`, some processes really die as they are lost: baton's breakers and retries move the
 * traffic off them; when Marathon finally reports them gone, they leave the table. It talks to
 * baton only over HTTP: the proxy, and the admin API to see changes.
 */
export class MasterPause {
  private readonly tasks: SimTask[] = [];
  private readonly log: (line: string) => void;
  private readonly waitTimeoutMs: number;
  private readonly requestsPerPhase: number;

  constructor(private readonly opts: MasterPauseOptions) {
    this.log = opts.log ?? (() => {});
    this.waitTimeoutMs = opts.waitTimeoutMs ?? 15_000;
    this.requestsPerPhase = opts.requestsPerPhase ?? 300;
  }

  /** Host headers of the scenario's apps. */
  get hosts(): string[] {
    return Array.from({ length: this.opts.apps ?? 3 }, (_, n) => `app${n}.pause.example`);
  }

  /** Deploys the apps and starts their tasks, each on a backend of its own. */
  async deploy(): Promise<void> {
    const perApp = this.opts.tasksPerApp ?? 3;
    const deadEvery = this.opts.deadEvery ?? 0;
    for (const [n, host] of this.hosts.entries()) {
      const appId = `/pause/app${n}`;
      this.opts.marathon.deployApp({ id: appId, labels: { BATON_0_VHOST: host } });
      for (let i = 0; i < perApp; i++) {
        const backend = await startSimBackend(`${appId}#${i}`, '127.0.0.1');
        const id = this.opts.marathon.startTask(appId, { host: '127.0.0.1', ports: [backend.port] });
        this.tasks.push({ id, backend, dead: deadEvery > 0 && this.tasks.length % deadEvery === 0 });
      }
    }
  }

  /** Pauses and resumes the master under load through `proxyUrl`, watching `adminUrl`. */
  async run(proxyUrl: string, adminUrl: string): Promise<MasterPauseResult> {
    const marathon = this.opts.marathon;
    await this.until('baton routes every task', async () => {
      const routes = await this.routes(adminUrl);
      return this.tasks.every((t) => routes.get(t.id)?.routable === true);
    });
    const loop = new LoadLoop({ url: proxyUrl, hosts: this.hosts }, 'steady');
    loop.start();
    const dead = this.tasks.filter((t) => t.dead);
    const alive = this.tasks.filter((t) => !t.dead);
    try {
      await this.load(loop);

      loop.phase('unreachable');
      this.log(`the master pauses: ${this.tasks.length} tasks go TASK_UNREACHABLE within one second${dead.length > 0 ? `, ${dead.length} of them really die` : ''}`);
      const dying: Promise<void>[] = [];
      for (let slice = 0; slice < SLICES; slice++) {
        for (const [i, task] of this.tasks.entries()) {
          if (i % SLICES !== slice) continue;
          if (task.dead) dying.push(task.backend.kill());
          marathon.loseTask(task.id);
        }
        await new Promise((resolve) => setTimeout(resolve, SLICE_MS));
      }
      await Promise.all(dying);
      await this.until('baton keeps every task as a suspect', async () => {
        const routes = await this.routes(adminUrl);
        return this.tasks.every((t) => routes.get(t.id)?.health === 'suspect' && routes.get(t.id)?.routable === true);
      });
      await this.load(loop);

      loop.phase('running');
      this.log(`the master is back: ${alive.length} tasks TASK_RUNNING again`);
      for (const task of alive) marathon.recoverTask(task.id);
      await this.until('baton routes the tasks that came back as before', async () => {
        const routes = await this.routes(adminUrl);
        return alive.every((t) => routes.get(t.id)?.routable === true && routes.get(t.id)?.health !== 'suspect');
      });
      await this.load(loop);

      if (dead.length > 0) {
        loop.phase('gone');
        this.log(`Marathon reports the ${dead.length} dead tasks TASK_GONE`);
        for (const task of dead) marathon.killTask(task.id, 'TASK_GONE');
        await this.until('baton forgets the dead tasks', async () => {
          const routes = await this.routes(adminUrl);
          return dead.every((t) => !routes.has(t.id));
        });
        await this.load(loop);
      }
    } finally {
      await loop.stop();
    }
    const phases = loop.summary();
    return {
      phases,
      requests: phases.reduce((n, p) => n + p.requests, 0),
      failed: phases.reduce((n, p) => n + p.failures, 0),
      failures: loop.failures,
      tasks: this.tasks.length,
      dead: dead.length,
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.tasks.filter((t) => !t.dead).map((t) => t.backend.close()));
    this.tasks.length = 0;
  }

  /** Lets `requestsPerPhase` requests through in the current phase. */
  private load(loop: LoadLoop): Promise<void> {
    const target = loop.seq + this.requestsPerPhase;
    return this.until('load to flow', () => loop.seq >= target);
  }

  private async routes(adminUrl: string): Promise<Map<string, { routable: boolean; health: string }>> {
    const body = (await (await fetch(`${adminUrl}/routes`)).json()) as RoutesBody;
    const backends = new Map<string, { routable: boolean; health: string }>();
    for (const route of body.routes) for (const b of route.backends) backends.set(b.taskId, b);
    return backends;
  }

  private async until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
    const deadline = Date.now() + this.waitTimeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`master pause: timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
