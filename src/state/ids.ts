/**
 * Marathon names one running thing two ways: events carry task ids or instance ids, depending on
 * the event and the Marathon version. `instanceKey` maps both to one key:
 *
 * - 1.8+: task `a_b.instance-<uuid>._app.<n>` and instance `a_b.instance-<uuid>` -> `a_b.instance-<uuid>`
 * - 1.4-1.7: task `a_b.<uuid>` and instance `a_b.marathon-<uuid>` -> `a_b.<uuid>`
 * - older: the task id is the only id and is its own key.
 */
const INSTANCE_STYLE = /^(.+)\.instance-([^_.]+)(?:\._app\.\d+)?$/;
const MARATHON_STYLE = /^(.+)\.marathon-([^_.]+)$/;

export function instanceKey(id: string): string {
  const modern = INSTANCE_STYLE.exec(id);
  if (modern) return `${modern[1]}.instance-${modern[2]}`;
  const legacy = MARATHON_STYLE.exec(id);
  if (legacy) return `${legacy[1]}.${legacy[2]}`;
  return id;
}
