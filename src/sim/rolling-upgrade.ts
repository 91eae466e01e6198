import { LoadLoop, type PhaseCount } from './load-loop.js';
import type { MarathonSim } from './marathon-sim.js';
import type { MesosMasterSim } from './mesos-master.js';
import { startSimBackend, type SimBackend } from './sim-backend.js';

export interface RollingUpgradeOptions {
  readonly marathon: MarathonSim;
  readonly mesos: MesosMasterSim;
  /** Default a, b, c. */
  readonly zones?: readonly string[];
  /** Agents per zone, named `agent-<zone><n>`. Default 2. */
  readonly agentsPerZone?: number;
  /** Progress lines. */
  readonly log?: (line: string) => void;
  /** Longest wait for baton to show a change. Default 15000. */
  readonly waitTimeoutMs?: number;
}

export interface RollingUpgradeResult {
  readonly phases: readonly PhaseCount[];
  readonly requests: number;
  readonly failures: readonly string[];
  /** Requests that reached a drained task although they were sent after baton took it out of service. */
  readonly late: readonly string[];
}

interface SimTask {
  readonly id: string;
  readonly appId: string;
  readonly agent: string;
  readonly zone: string;
  readonly backend: SimBackend;
}

/** `/routes` as far as the scenario reads it. */
interface RoutesBody {
  routes: { backends: { taskId: string; routable: boolean }[] }[];
}

const APPS = [
  { id: '/shop/web', host: 'web.example.com', perZone: 'every-agent' },
  { id: '/shop/api', host: 'api.example.com', perZone: 'first-agent' },
] as const;

/**
 * The rolling upgrade operators run on a Mesos cluster, zone by zone, against baton under load:
 * drain the zone's agents in Mesos, wait until baton has taken their tasks out of service, start
 * replacements in the other zones, kill the old tasks, take the agents DOWN and back UP. Tasks
 * are IP-per-task (their Marathon `host` is the agent's name, their address a loopback IP of their
 * own), so the agent a task runs on and the address baton dials are different things, as in a
 * real cluster. It talks to baton only over HTTP: the proxy, and the admin API to see changes.
 */
export class RollingUpgrade {
  private readonly zones: readonly string[];
  private readonly agents: ReadonlyMap<string, readonly string[]>;
  private readonly tasks = new Map<string, SimTask>();
  private readonly ports = new Map<string, number>();
  private readonly log: (line: string) => void;
  private readonly waitTimeoutMs: number;
  private nextIp = 0;

  constructor(private readonly opts: RollingUpgradeOptions) {
    this.zones = opts.zones ?? ['a', 'b', 'c'];
    const perZone = opts.agentsPerZone ?? 2;
    this.agents = new Map(this.zones.map((z) => [z, Array.from({ length: perZone }, (_, i) => `agent-${z}${i + 1}`)]));
    this.log = opts.log ?? (() => {});
    this.waitTimeoutMs = opts.waitTimeoutMs ?? 15_000;
  }

  /** Host headers of the scenario's apps. */
  get hosts(): string[] {
    return APPS.map((a) => a.host);
  }

  /** Deploys the apps and starts their tasks: web on every agent, api on the first agent of each zone. */
  async deploy(): Promise<void> {
    for (const app of APPS) {
      const placements = this.zones.flatMap((zone) => {
        const agents = this.agents.get(zone)!;
        return (app.perZone === 'every-agent' ? agents : agents.slice(0, 1)).map((agent) => ({ agent, zone }));
      });
      const backends: SimBackend[] = [];
      for (const { agent } of placements) {
        const backend = await this.backend(app.id, agent);
        // The first one picks the app's container port; the others listen on it at their own IP.
        if (!this.ports.has(app.id)) this.ports.set(app.id, backend.port);
        backends.push(backend);
      }
      this.opts.marathon.deployApp({ id: app.id, labels: { BATON_0_VHOST: app.host }, network: 'container', containerPorts: [this.ports.get(app.id)!] });
      placements.forEach(({ agent, zone }, i) => this.startTask(app.id, agent, zone, backends[i]!));
    }
  }

  /** Runs the upgrade of every zone under load through `proxyUrl`, watching `adminUrl`. */
  async run(proxyUrl: string, adminUrl: string): Promise<RollingUpgradeResult> {
    await this.until('baton routes every task', async () => {
      const routes = await this.routes(adminUrl);
      return [...this.tasks.keys()].every((id) => routes.get(id) === true);
    });
    const loop = new LoadLoop({ url: proxyUrl, hosts: this.hosts }, 'steady');
    const late: string[] = [];
    loop.start();
    try {
      await this.load(loop);
      for (const [index, zone] of this.zones.entries()) {
        const agents = this.agents.get(zone)!;
        // Replacements go to zones already upgraded; the first zone's go to the ones after it.
        const upgraded = this.zones.slice(0, index);
        const others = (upgraded.length > 0 ? upgraded : this.zones.slice(index + 1)).flatMap((z) => this.agents.get(z)!.map((agent) => ({ agent, zone: z })));
        const leaving = [...this.tasks.values()].filter((t) => t.zone === zone);

        loop.phase(`drain ${zone}`);
        this.log(`zone ${zone}: DRAINING ${agents.join(', ')} in Mesos (${leaving.length} tasks there)`);
        this.opts.mesos.drain(...agents);
        await this.until(`baton takes zone ${zone}'s tasks out of service`, async () => {
          const routes = await this.routes(adminUrl);
          return leaving.every((t) => routes.get(t.id) === false);
        });
        // Every request sent from here on was routed by a table without these tasks.
        const drainedAt = loop.seq;
        await this.load(loop);

        loop.phase(`move ${zone}`);
        const started: string[] = [];
        for (const [i, task] of leaving.entries()) {
          const target = others[i % others.length]!;
          const backend = await this.backend(task.appId, target.agent);
          started.push(this.startTask(task.appId, target.agent, target.zone, backend));
        }
        const targets = [...new Set(others.map((o) => o.zone))];
        this.log(`zone ${zone}: started ${started.length} replacements in zone${targets.length > 1 ? 's' : ''} ${targets.join(', ')}`);
        await this.until('baton routes the replacements', async () => {
          const routes = await this.routes(adminUrl);
          return started.every((id) => routes.get(id) === true);
        });
        for (const task of leaving) this.opts.marathon.killTask(task.id);
        this.log(`zone ${zone}: killed ${leaving.length} tasks`);
        await this.until('baton forgets the killed tasks', async () => {
          const routes = await this.routes(adminUrl);
          return leaving.every((t) => !routes.has(t.id));
        });
        await this.until('requests in flight on the killed tasks finish', () => leaving.every((t) => t.backend.active === 0));
        for (const task of leaving) {
          await task.backend.close();
          this.tasks.delete(task.id);
          for (const seq of task.backend.seqs) if (seq > drainedAt) late.push(`#${seq} reached ${task.backend.name} after zone ${zone} was drained`);
        }
        await this.load(loop);

        loop.phase(`up ${zone}`);
        this.opts.mesos.down(...agents);
        this.log(`zone ${zone}: DOWN for the upgrade`);
        await this.until(`baton sees zone ${zone} DOWN`, async () => (await this.maintenance(adminUrl)).down === agents.length);
        this.opts.mesos.up(...agents);
        this.log(`zone ${zone}: UP again`);
        await this.until(`baton sees zone ${zone} UP`, async () => (await this.maintenance(adminUrl)).down === 0);
        await this.load(loop);
      }
      loop.phase('after');
      await this.load(loop);
    } finally {
      await loop.stop();
    }
    const phases = loop.summary();
    return { phases, requests: phases.reduce((n, p) => n + p.requests, 0), failures: loop.failures, late };
  }

  async close(): Promise<void> {
    await Promise.all([...this.tasks.values()].map((t) => t.backend.close()));
    this.tasks.clear();
  }

  private startTask(appId: string, agent: string, zone: string, backend: SimBackend): string {
    const id = this.opts.marathon.startTask(appId, { host: agent, ports: [], ipAddress: backend.ip, zone, region: 'sim' });
    this.tasks.set(id, { id, appId, agent, zone, backend });
    return id;
  }

  /** A task's process on a loopback IP of its own, on its app's container port. */
  private backend(appId: string, agent: string): Promise<SimBackend> {
    const n = this.nextIp++;
    const ip = `127.77.${Math.floor(n / 250)}.${(n % 250) + 1}`;
    return startSimBackend(`${appId}@${agent}`, ip, this.ports.get(appId) ?? 0);
  }

  /** Lets some load through in the current phase. */
  private load(loop: LoadLoop): Promise<void> {
    const target = loop.seq + 100;
    return this.until('load to flow', () => loop.seq >= target);
  }

  private async routes(adminUrl: string): Promise<Map<string, boolean>> {
    const body = (await (await fetch(`${adminUrl}/routes`)).json()) as RoutesBody;
    const routable = new Map<string, boolean>();
    for (const route of body.routes) for (const b of route.backends) routable.set(b.taskId, b.routable);
    return routable;
  }

  private async maintenance(adminUrl: string): Promise<{ down: number }> {
    const body = (await (await fetch(`${adminUrl}/maintenance`)).json()) as { mesos: { down?: unknown[] } };
    return { down: body.mesos.down?.length ?? 0 };
  }

  private async until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
    const deadline = Date.now() + this.waitTimeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`rolling upgrade: timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
