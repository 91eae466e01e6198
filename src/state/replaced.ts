import type { TaskView } from './model.js';
import type { TaskMark } from './task-verdict.js';

/**
 * Marathon reports an instance UnreachableInactive when it gives up on it and launches a
 * replacement. Such a lost task stays routable (it may well still run) until its replacement
 * serves: a task of the same app, routable and not suspect, that baton first saw after the lost
 * one went inactive. Each replacement stands in for one lost task, the longest inactive first;
 * a replaced task is out of rotation.
 */
export function replacedLost(views: TaskView[], marks: ReadonlyMap<string, TaskMark>): TaskView[] {
  const inactiveAt = (v: TaskView) => marks.get(v.task.instanceKey)?.inactiveAt;
  const inactive = views.filter((v) => v.suspect === 'lost' && inactiveAt(v) !== undefined);
  if (inactive.length === 0) return views;
  const seenAt = (v: TaskView) => marks.get(v.task.instanceKey)?.seenAt ?? 0;
  inactive.sort((a, b) => inactiveAt(a)! - inactiveAt(b)!);
  const fresh = views.filter((v) => v.routable && v.suspect === undefined).sort((a, b) => seenAt(a) - seenAt(b));
  const replacedBy = new Map<TaskView, string>();
  let next = 0;
  for (const lost of inactive) {
    // Lost tasks come in rising inactive time, so a task seen too early for one is for the next.
    while (next < fresh.length && seenAt(fresh[next]!) < inactiveAt(lost)!) next++;
    const by = fresh[next++];
    if (by === undefined) break;
    replacedBy.set(lost, by.task.id);
  }
  if (replacedBy.size === 0) return views;
  return views.map((v) => {
    const by = replacedBy.get(v);
    return by === undefined ? v : { task: v.task, health: v.health, routable: false, why: `${v.why}; replaced by ${by}` };
  });
}
