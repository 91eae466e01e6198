// Pinning processes to one CPU with taskset(1): on a shared 2-core machine the scheduler's
// placement (which core a proxy shares with the load generator or the backend, migrations) moves
// CPU per request by 10-20% from one run to the next; with the proxies on one core and the load
// generator and the backend on the other, paired runs agree within a few per cent.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { findTool } from './tools.mjs';

/** Direct children of a process (Linux). */
function childrenOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Every process of the tree under `pid`, itself included. */
function treeOf(pid) {
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...childrenOf(out[i]));
  return out;
}

/**
 * A pinner, or undefined (with a line on stderr) when taskset is missing. `pin(pid, cpu)` pins
 * every thread of one process; `pinTree(pid, cpu)` every process of the tree under `pid` (a baton
 * primary and its workers; workers forked later inherit the primary's CPU).
 */
export function cpuPinner() {
  const taskset = findTool('taskset');
  if (taskset === undefined) {
    process.stderr.write('taskset: not found (util-linux); running unpinned\n');
    return undefined;
  }
  const pin = (pid, cpu) => execFileSync(taskset, ['--all-tasks', '--pid', '--cpu-list', String(cpu), String(pid)], { stdio: 'ignore' });
  return {
    pin,
    pinTree(pid, cpu) {
      for (const member of treeOf(pid)) pin(member, cpu);
    },
  };
}
