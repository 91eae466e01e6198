// The benchmark's side of bench/lib/backend-pool.mjs: promises over its IPC messages.
import { fileURLToPath } from 'node:url';

export class BackendPool {
  #child;
  #next = 1;
  #waiting = new Map();

  constructor(children) {
    this.#child = children.fork(fileURLToPath(new URL('./backend-pool.mjs', import.meta.url)), []);
    this.#child.on('message', (m) => {
      const done = this.#waiting.get(m.id);
      this.#waiting.delete(m.id);
      done?.(m);
    });
  }

  #ask(message) {
    const id = this.#next++;
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      this.#child.send({ ...message, id });
    });
  }

  /** A new backend; resolves with its port. */
  async start() {
    return (await this.#ask({ op: 'start' })).port;
  }

  /** Stops it gracefully; resolves with { first, last, count } of the requests it saw. */
  stop(port) {
    return this.#ask({ op: 'stop', port });
  }

  /** { first, last, count } so far. */
  peek(port) {
    return this.#ask({ op: 'peek', port });
  }

  get child() {
    return this.#child;
  }
}
