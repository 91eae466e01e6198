// CPU time of the calling thread (ms, ns resolution), from /proc/thread-self/schedstat: on a shared
// machine a phase's wall time includes the time other processes held the cores, its CPU time does not.
import { readFileSync } from 'node:fs';

export function threadCpuMs() {
  return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6;
}
