import type { Labels } from './values.js';

/**
 * Which label dialects an app's labels use at all. Most apps carry one dialect, and a dialect
 * without a single label of its own reads as nothing set, so it is not read: a full build reads
 * the labels of every app (10,000 at scale) and spelling out every label name of every dialect for
 * every port was most of its time.
 */
export interface Dialects {
  /** `BATON_*`. */
  readonly baton: boolean;
  /** `BATON_{n}_BREAKER_*`. */
  readonly batonBreaker: boolean;
  /** `BATON_{n}_TIMEOUT_*`. */
  readonly batonTimeouts: boolean;
  /** `HAPROXY_*`. */
  readonly haproxy: boolean;
  /** `NIXY_*`, `subdomain`. */
  readonly nixy: boolean;
  /** `traefik.*`. */
  readonly traefik: boolean;
}

export function dialectsOf(labels: Labels): Dialects {
  let baton = false;
  let batonBreaker = false;
  let batonTimeouts = false;
  let haproxy = false;
  let nixy = false;
  let traefik = false;
  for (const key in labels) {
    if (key.startsWith('BATON_')) {
      baton = true;
      if (key.includes('_BREAKER_')) batonBreaker = true;
      else if (key.includes('_TIMEOUT_')) batonTimeouts = true;
    } else if (key.startsWith('HAPROXY_')) {
      haproxy = true;
    } else if (key.startsWith('traefik.')) {
      traefik = true;
    } else if (key.startsWith('NIXY_') || key === 'subdomain') {
      nixy = true;
    }
  }
  return { baton, batonBreaker, batonTimeouts, haproxy, nixy, traefik };
}
