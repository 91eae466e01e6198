import type { HttpRoute } from './types.js';

/**
 * The Host header as a lookup key: port dropped (also after `[v6]`), one trailing dot dropped,
 * lower case. Allocates only when it has to cut or lower-case. Undefined for an empty host.
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
 * Host patterns -> routes, each list longest path first. Exact names in one map, `name.*` by
 * their prefix, `*.suffix` by `.suffix`; a lookup costs one map probe per dot at most.
 */
export class HostIndex {
  readonly #exact = new Map<string, HttpRoute[]>();
  readonly #prefixes = new Map<string, HttpRoute[]>();
  readonly #suffixes = new Map<string, HttpRoute[]>();

  constructor(routes: readonly HttpRoute[]) {
    for (const route of routes) {
      for (const pattern of route.hosts) {
        if (pattern.startsWith('*.')) add(this.#suffixes, pattern.slice(1), route);
        else if (pattern.endsWith('.*')) add(this.#prefixes, pattern.slice(0, -2), route);
        else add(this.#exact, pattern, route);
      }
    }
    for (const map of [this.#exact, this.#prefixes, this.#suffixes]) {
      for (const list of map.values()) list.sort((a, b) => b.path.length - a.path.length);
    }
  }

  lookup(rawHost: string | undefined, path: string): HttpRoute | undefined {
    const host = normalizeHost(rawHost);
    if (host === undefined) return undefined;
    const routes = this.#routesFor(host);
    if (routes === undefined) return undefined;
    // Route paths hold no `?`, so a plain prefix never reaches into the query string.
    for (let i = 0; i < routes.length; i++) {
      const route = routes[i]!;
      if (path.startsWith(route.path)) return route;
    }
    return undefined;
  }

  /** The most specific host level that knows this host; its path list decides alone. */
  #routesFor(host: string): HttpRoute[] | undefined {
    const exact = this.#exact.get(host);
    if (exact !== undefined) return exact;
    if (this.#prefixes.size > 0) {
      // Longest prefix first: cut at the last dot, then the one before.
      for (let dot = host.lastIndexOf('.'); dot > 0; dot = host.lastIndexOf('.', dot - 1)) {
        const routes = this.#prefixes.get(host.slice(0, dot));
        if (routes !== undefined) return routes;
      }
    }
    if (this.#suffixes.size > 0) {
      // Longest suffix first: cut at the first dot, then the next one.
      for (let dot = host.indexOf('.', 1); dot > 0; dot = host.indexOf('.', dot + 1)) {
        const routes = this.#suffixes.get(host.slice(dot));
        if (routes !== undefined) return routes;
      }
    }
    return undefined;
  }
}

function add(map: Map<string, HttpRoute[]>, key: string, route: HttpRoute): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [route]);
  else list.push(route);
}
