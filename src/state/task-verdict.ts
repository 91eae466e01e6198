import type { HealthJudge } from './health.js';
import type { AppDef, TaskDef, TaskView } from './model.js';
import { LOST } from './task-states.js';

/** The removal guard holds a task's removal back: what it would have been, and until when. */
export interface Hold {
  readonly reason: string;
  readonly since: number;
  readonly until: number;
}

/** What the state remembers about a task beyond Marathon's TaskDef; it lives as long as the task is in the model. */
export interface TaskMark {
  readonly appId: string;
  /** When baton first saw the task (its clock): a replacement is a task seen after the one it replaces went inactive. */
  readonly seenAt: number;
  /** When it entered a lost state (the event's time when known). */
  lostSince?: number;
  /** When Marathon reported it UnreachableInactive (and so launched a replacement), by baton's clock. */
  inactiveAt?: number;
  held?: Hold;
  /** Times (Marathon's clock) of the newest state and health events applied: older ones are ignored. */
  stateAt?: number;
  healthAt?: number;
}

export interface VerdictRules {
  readonly judge: HealthJudge;
  readonly lostTasks: 'suspect' | 'remove';
}

/**
 * A task's view: maintenance first (never routable), then health as Marathon's rules have it. A lost
 * task (TASK_UNREACHABLE, TASK_LOST, TASK_UNKNOWN) under `lostTasks: suspect` is judged as if it
 * were running, and routable as a suspect; a task the removal guard holds stays routable as one.
 */
export function taskVerdict(rules: VerdictRules, app: AppDef, task: TaskDef, mark: TaskMark | undefined, maintenance: string | undefined): TaskView {
  const lost = rules.lostTasks === 'suspect' && LOST.has(task.state);
  const judged = rules.judge.judge(app, lost ? { ...task, state: 'TASK_RUNNING' } : task);
  if (maintenance !== undefined) return { task, health: judged.health, routable: false, why: maintenance };
  const lostWhy = lost ? `${task.state} since ${iso(mark?.lostSince)}` : undefined;
  if (judged.routable) return lost ? { task, health: judged.health, routable: true, suspect: 'lost', why: lostWhy! } : judged;
  const held = mark?.held;
  if (held !== undefined) return { task, health: judged.health, routable: true, suspect: 'held', why: `held by the removal guard: ${held.reason} since ${iso(held.since)}` };
  const why = lost ? `${lostWhy}; ${judged.why}` : judged.why;
  return { task, health: judged.health, routable: false, ...(why !== undefined && { why }), ...(judged.panicRoutable && { panicRoutable: true }) };
}

function iso(ms: number | undefined): string {
  return ms === undefined ? 'unknown' : new Date(ms).toISOString();
}
