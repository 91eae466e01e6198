// CPU time of processes from /proc/<pid>/stat: stabler than req/s on a shared machine.
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ, 100 on every Linux this runs on

/** utime and stime (fields 14 and 15) and ppid (field 4) of one process; undefined once it is gone. */
function readStat(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: split after its last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(fields[1]), user: Number(fields[11]), system: Number(fields[12]) };
}

/** CPU seconds (user + system) one process has used. */
export function cpuSeconds(pid) {
  const stat = readStat(pid);
  return stat === undefined ? 0 : (stat.user + stat.system) / TICKS_PER_SECOND;
}

/** CPU seconds, user and system, used by `pid` and all its descendants alive now (e.g. nginx master + worker). */
export function treeCpuTimes(pid) {
  const stats = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(entry);
    if (stat) stats.set(Number(entry), stat);
  }
  const tree = new Set([pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [child, stat] of stats) {
      if (!tree.has(child) && tree.has(stat.ppid)) {
        tree.add(child);
        grew = true;
      }
    }
  }
  let user = 0;
  let system = 0;
  for (const member of tree) {
    user += stats.get(member)?.user ?? 0;
    system += stats.get(member)?.system ?? 0;
  }
  return { user: user / TICKS_PER_SECOND, system: system / TICKS_PER_SECOND };
}
