import type { HttpRoute } from './types.js';

/**
 * The Host header (or a TLS server name) as a lookup key: port dropped (also after `[v6]`), one
 * trailing dot dropped, lower case. Allocates only when it has to cut or lower-case. Undefined
 * for an empty host.
 */
export function normalizeHost(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  let end = raw.length;
  if (raw.charCodeAt(0) === 0x5b /* [ */) {
    const close = raw.indexOf(']');
    if (close >= 0) end = close + 1;
  } else {
    const colon = raw.indexOf(':');
    if (colon >= 0) end = colon;
  }
  if (end > 0 && raw.charCodeAt(end - 1) === 0x2e /* . */) end--;
  if (end === 0) return undefined;
  let upper = false;
  for (let i = 0; i < end; i++) {
    const c = raw.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) {
      upper = true;
      break;
    }
  }
  const host = end === raw.length ? raw : raw.slice(0, end);
  return upper ? host.toLowerCase() : host;
}

/**
 * Host patterns -> values. Exact names in one map, `name.*` by their prefix, `*.suffix` by
 * `.suffix`; a match costs one map probe per dot at most and returns the value of the most
 * specific level that knows the host: exact, then the longest prefix, then the longest suffix.
 */
export class HostMap<T> {
  readonly #exact = new Map<string, T>();
  readonly #prefixes = new Map<string, T>();
  readonly #suffixes = new Map<string, T>();

  get(pattern: string): T | undefined {
    if (pattern.startsWith('*.')) return this.#suffixes.get(pattern.slice(1));
    if (pattern.endsWith('.*')) return this.#prefixes.get(pattern.slice(0, -2));
    return this.#exact.get(pattern);
  }

  set(pattern: string, value: T): void {
    if (pattern.startsWith('*.')) this.#suffixes.set(pattern.slice(1), value);
    else if (pattern.endsWith('.*')) this.#prefixes.set(pattern.slice(0, -2), value);
    else this.#exact.set(pattern, value);
  }

  *values(): IterableIterator<T> {
    yield* this.#exact.values();
    yield* this.#prefixes.values();
    yield* this.#suffixes.values();
  }

  /** `host` is already normalised (see `normalizeHost`). */
  match(host: string): T | undefined {
    const exact = this.#exact.get(host);
    if (exact !== undefined) return exact;
    if (this.#prefixes.size > 0) {
      // Longest prefix first: cut at the last dot, then the one before.
      for (let dot = host.lastIndexOf('.'); dot > 0; dot = host.lastIndexOf('.', dot - 1)) {
        const value = this.#prefixes.get(host.slice(0, dot));
        if (value !== undefined) return value;
      }
    }
    if (this.#suffixes.size > 0) {
      // Longest suffix first: cut at the first dot, then the next one.
      for (let dot = host.indexOf('.', 1); dot > 0; dot = host.indexOf('.', dot + 1)) {
        const value = this.#suffixes.get(host.slice(dot));
        if (value !== undefined) return value;
      }
    }
    return undefined;
  }
}

/**
 * HTTP routes by host, each host's list longest path first. It holds positions in the table's
 * route list, not the routes: a table whose routes differ only in their backends shares the
 * index of the table it was derived from (see `deriveRoutingTable`).
 */
export class HostIndex {
  readonly #hosts = new HostMap<number[]>();

  constructor(routes: readonly HttpRoute[]) {
    for (const [i, route] of routes.entries()) {
      for (const pattern of route.hosts) {
        const list = this.#hosts.get(pattern);
        if (list === undefined) this.#hosts.set(pattern, [i]);
        else list.push(i);
      }
    }
    for (const list of this.#hosts.values()) list.sort((a, b) => routes[b]!.path.length - routes[a]!.path.length || a - b);
  }

  /** The most specific host level that knows this host decides alone, by its longest matching path. */
  lookup(routes: readonly HttpRoute[], rawHost: string | undefined, path: string): HttpRoute | undefined {
    const host = normalizeHost(rawHost);
    if (host === undefined) return undefined;
    const positions = this.#hosts.match(host);
    if (positions === undefined) return undefined;
    // Route paths hold no `?`, so a plain prefix never reaches into the query string.
    for (let i = 0; i < positions.length; i++) {
      const route = routes[positions[i]!]!;
      if (path.startsWith(route.path)) return route;
    }
    return undefined;
  }
}
