// Child processes of a benchmark: every one is killed when the benchmark exits, however it exits.
// Each child leads its own process group, so that killing it also kills what it started (nginx's
// worker survives a SIGKILL of its master otherwise).
import { fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

export class Children {
  #live = new Set();

  constructor() {
    process.on('exit', () => {
      for (const child of this.#live) killGroup(child, 'SIGKILL');
    });
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => process.exit(130));
  }

  // A child's output goes to stderr, so that stdout holds only the benchmark's tables.

  /** `child_process.spawn`, stdin closed. */
  spawn(command, args, options = {}) {
    return this.#track(spawn(command, args, { stdio: ['ignore', 2, 2], detached: true, ...options }));
  }

  /** `child_process.fork` of a script of the benchmark. */
  fork(script, args, options = {}) {
    return this.#track(fork(script, args, { stdio: ['ignore', 2, 2, 'ipc'], detached: true, ...options }));
  }

  /** SIGTERM, then SIGKILL to its process group if the child is still there after `graceMs`. */
  async stop(child, graceMs = 5000) {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timedOut = await Promise.race([exited.then(() => false), sleep(graceMs, true)]);
    if (timedOut) {
      killGroup(child, 'SIGKILL');
      await exited;
    }
  }

  #track(child) {
    this.#live.add(child);
    child.once('exit', () => this.#live.delete(child));
    return child;
  }
}
