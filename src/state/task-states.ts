/** Mesos task states as the state judges them. */

/** States after which a task never runs again: it leaves the model. */
export const TERMINAL: ReadonlySet<string> = new Set(['TASK_KILLED', 'TASK_FAILED', 'TASK_FINISHED', 'TASK_ERROR', 'TASK_DROPPED', 'TASK_GONE', 'TASK_GONE_BY_OPERATOR']);

/**
 * States in which Mesos has lost contact with a task that may well still run (an agent
 * partitioned, a master paused or failed over): TASK_UNKNOWN is what a new master answers for
 * a task on an agent that has not re-registered yet.
 */
export const LOST: ReadonlySet<string> = new Set(['TASK_UNREACHABLE', 'TASK_LOST', 'TASK_UNKNOWN']);

/**
 * Terminal states that say the task broke rather than that the scheduler or an operator stopped
 * it: a burst of them is held back by the removal guard. TASK_KILLED, TASK_FINISHED,
 * TASK_GONE(_BY_OPERATOR) and TASK_DROPPED are final and followed at once.
 */
export const BROKE: ReadonlySet<string> = new Set(['TASK_FAILED', 'TASK_ERROR']);

/** `instance_changed_event` conditions as the Mesos task state they stand for. */
export const CONDITION_STATE: Readonly<Record<string, string>> = {
  Running: 'TASK_RUNNING',
  Staging: 'TASK_STAGING',
  Starting: 'TASK_STARTING',
  Killing: 'TASK_KILLING',
  Killed: 'TASK_KILLED',
  Failed: 'TASK_FAILED',
  Finished: 'TASK_FINISHED',
  Error: 'TASK_ERROR',
  Unreachable: 'TASK_UNREACHABLE',
  // Marathon has given up on the instance and launches a replacement; it may still run.
  UnreachableInactive: 'TASK_UNREACHABLE',
  Gone: 'TASK_GONE',
  Dropped: 'TASK_DROPPED',
  Unknown: 'TASK_UNKNOWN',
};

const INCARNATION = /\._app\.(\d+)$/;

/**
 * A task id's incarnation: Marathon 1.8+ relaunches a resident instance under the same instance
 * id with `._app.<n+1>`. Older ids have none (0).
 */
export function incarnation(taskId: string): number {
  const m = INCARNATION.exec(taskId);
  return m ? Number(m[1]) : 0;
}
