import type { Balance } from '../types.js';
import { badLabel, type Setting } from './values.js';

/**
 * `BATON_{n}_BALANCE` and `HAPROXY_{n}_BALANCE`. marathon-lb hands its value to HAProxy, so its
 * users also write HAProxy's `static-rr` (a round robin without dynamic weights: round robin here)
 * and `first` (fill the first server up to its maxconn: baton has no per-backend maxconn, so it is
 * read as round robin too). HAProxy's other algorithms (`uri`, `hdr(...)`, ...) are refused.
 */
const BALANCE_NAMES: Readonly<Record<string, Balance>> = {
  roundrobin: 'roundrobin',
  'static-rr': 'roundrobin',
  first: 'roundrobin',
  leastconn: 'leastconn',
  p2c: 'p2c',
  random: 'random',
  source: 'source',
  hash: 'source',
};

const BALANCE_EXPECTED = 'roundrobin, leastconn, p2c, random, source or hash (marathon-lb\'s static-rr and first are read as roundrobin)';

export function balanceSetting(label: string, value: string): Setting<Balance> {
  const balance = lookup(BALANCE_NAMES, value);
  return balance === undefined ? { label, error: badLabel(label, value, BALANCE_EXPECTED) } : { label, value: balance };
}

/** traefik 1.x `traefik.backend.loadbalancer.method`: `wrr` (weighted round robin) or `drr` (dynamic: fewest in flight). */
const TRAEFIK_METHODS: Readonly<Record<string, Balance>> = { wrr: 'roundrobin', drr: 'leastconn' };

export function traefikMethodSetting(label: string, value: string): Setting<Balance> {
  const balance = lookup(TRAEFIK_METHODS, value);
  return balance === undefined ? { label, error: badLabel(label, value, 'wrr or drr') } : { label, value: balance };
}

/**
 * A weight label's value and how it spreads over the app's backends: `BATON_WEIGHT` is the app's
 * share of a route it shares with other apps (split evenly over its backends), traefik's
 * `traefik.weight` is, as in traefik, every backend's own weight.
 */
export interface AppWeight {
  readonly value: number;
  readonly perBackend: boolean;
}

export const DEFAULT_WEIGHT: AppWeight = Object.freeze({ value: 1, perBackend: false });

const MAX_WEIGHT = 10_000;

/** `BATON_WEIGHT`: 0 (no new clients; sticky ones stay) to 10000. */
export function batonWeightSetting(label: string, value: string): Setting<AppWeight> {
  const weight = integer(value);
  if (weight === undefined || weight > MAX_WEIGHT) return { label, error: badLabel(label, value, `an integer from 0 to ${MAX_WEIGHT}`) };
  return { label, value: { value: weight, perBackend: false } };
}

/** `traefik.weight`: traefik (oxy) reads 0 as the default weight 1. */
export function traefikWeightSetting(label: string, value: string): Setting<AppWeight> {
  const weight = integer(value);
  if (weight === undefined || weight > MAX_WEIGHT) return { label, error: badLabel(label, value, `an integer from 0 to ${MAX_WEIGHT}`) };
  return { label, value: { value: weight === 0 ? 1 : weight, perBackend: true } };
}

function integer(value: string): number | undefined {
  const text = value.trim();
  return /^\d{1,9}$/.test(text) ? Number(text) : undefined;
}

function lookup<T>(names: Readonly<Record<string, T>>, value: string): T | undefined {
  const key = value.trim().toLowerCase();
  return Object.hasOwn(names, key) ? names[key] : undefined;
}
