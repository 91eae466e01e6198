import { Counter, Gauge, type Registry } from 'prom-client';

/** What the worst-day behaviour (suspects, removal guard, panic routing, late events) counts. */
export interface StateMetrics {
  /** Bursts of removals the guard held back, per app (one per burst, however many tasks it holds). */
  readonly guardBursts: Counter<'app'>;
  /** Tasks the removal guard holds routable right now. */
  readonly heldTasks: Gauge;
  /** Routable backends in the live table that are suspect (lost or held), a task counted once per route. */
  readonly suspectBackends: Gauge;
  /** 1 for each route in panic routing; a route's series goes when it leaves panic. */
  readonly routePanic: Gauge<'route'>;
  readonly routesInPanic: Gauge;
  /** Task events ignored: `tombstone` (the task was already terminated), `older` (an older event than one applied). */
  readonly staleEvents: Counter<'reason'>;
}

/** Registered in the process's registry (the one `/metrics` shows) next to the core metrics. */
export function createStateMetrics(registry: Registry): StateMetrics {
  const registers = [registry];
  return {
    guardBursts: new Counter({ name: 'baton_removal_guard_holds_total', help: 'Bursts of removals the removal guard held back, by app', labelNames: ['app'], registers }),
    heldTasks: new Gauge({ name: 'baton_removal_guard_held_tasks', help: 'Tasks the removal guard keeps routable as suspect', registers }),
    suspectBackends: new Gauge({ name: 'baton_suspect_backends', help: 'Routable backends that are suspect (lost by Mesos or held by the removal guard)', registers }),
    routePanic: new Gauge({ name: 'baton_route_panic', help: '1 while a route is in panic routing (too few healthy backends)', labelNames: ['route'], registers }),
    routesInPanic: new Gauge({ name: 'baton_routes_in_panic', help: 'Routes in panic routing', registers }),
    staleEvents: new Counter({ name: 'baton_state_stale_events_total', help: 'Task events ignored as out of date, by reason (tombstone, older)', labelNames: ['reason'], registers }),
  };
}
