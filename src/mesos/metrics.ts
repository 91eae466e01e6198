import { Counter, Gauge, type Registry } from 'prom-client';

/** Poll outcomes: one label value per way a poll can end. */
export type PollResult = 'ok' | 'unreachable' | 'no-leader' | 'http-error' | 'bad-payload';

export interface MesosMetrics {
  /** Attempts on one master URL, by outcome. */
  readonly polls: Counter<'result'>;
  /** 1 while the last poll got the leader's maintenance status. */
  readonly reachable: Gauge;
  /** Machines in maintenance as last reported, by mode (draining, down). */
  readonly machines: Gauge<'mode'>;
}

/** Registered in the process's registry (the one `/metrics` shows) next to the core metrics. */
export function createMesosMetrics(registry: Registry): MesosMetrics {
  const registers = [registry];
  return {
    polls: new Counter({ name: 'baton_mesos_polls_total', help: 'Mesos maintenance polls per master URL, by result', labelNames: ['result'], registers }),
    reachable: new Gauge({ name: 'baton_mesos_reachable', help: '1 while the last poll got the leading master\'s maintenance status', registers }),
    machines: new Gauge({ name: 'baton_mesos_maintenance_machines', help: 'Machines in Mesos maintenance as last reported, by mode', labelNames: ['mode'], registers }),
  };
}
