import type { BreakerPolicy } from '../types.js';
import { durationSetting } from './timeouts.js';
import { badLabel, booleanSetting, type Labels, type Setting } from './values.js';

type MutableBreaker = { -readonly [K in keyof BreakerPolicy]: BreakerPolicy[K] };

export const BREAKER_SUFFIXES = ['BREAKER_ERROR_PERCENT', 'BREAKER_VOLUME', 'BREAKER_RESET_MS', 'BREAKER_5XX'];

/**
 * `BATON_{n}_BREAKER_ERROR_PERCENT` (1-100), `_BREAKER_VOLUME` (requests in the window before it
 * may open, >= 1), `_BREAKER_RESET_MS` (open time before a probe; a duration) and `_BREAKER_5XX`
 * (true/false); undefined when none is set. Fields left out come from the config.
 */
export function batonBreaker(labels: Labels, n: number): Setting<BreakerPolicy> | undefined {
  const breaker: MutableBreaker = {};
  const errors: string[] = [];
  let first: string | undefined;
  const read = <T>(suffix: string, parse: (label: string, value: string) => Setting<T>, set: (value: T) => void): void => {
    const label = `BATON_${n}_${suffix}`;
    const value = labels[label];
    if (value === undefined) return;
    first ??= label;
    const setting = parse(label, value);
    if (setting.error !== undefined) errors.push(setting.error);
    else set(setting.value as T);
  };
  read('BREAKER_ERROR_PERCENT', percentSetting, (v) => (breaker.errorThresholdPercentage = v));
  read('BREAKER_VOLUME', volumeSetting, (v) => (breaker.volumeThreshold = v));
  read('BREAKER_RESET_MS', durationSetting, (v) => (breaker.resetTimeoutMs = v));
  read('BREAKER_5XX', booleanSetting, (v) => (breaker.failOn5xx = v));
  if (first === undefined) return undefined;
  if (errors.length > 0) return { label: first, error: errors.join('; ') };
  return { label: first, value: Object.freeze(breaker) };
}

function percentSetting(label: string, value: string): Setting<number> {
  const text = value.trim();
  const percent = /^\d{1,3}(?:\.\d{1,2})?$/.test(text) ? Number(text) : 0;
  if (percent < 1 || percent > 100) return { label, error: badLabel(label, value, 'a percentage from 1 to 100') };
  return { label, value: percent };
}

function volumeSetting(label: string, value: string): Setting<number> {
  const text = value.trim();
  if (!/^[1-9]\d{0,8}$/.test(text)) return { label, error: badLabel(label, value, 'a whole number of requests, at least 1') };
  return { label, value: Number(text) };
}

const EXPRESSION_EXPECTED =
  'NetworkErrorRatio() > X or ResponseCodeRatio(a,b,c,d) > X with 0 < X <= 1, or such terms joined by || (LatencyAtQuantileMS, && and parentheses are not supported)';
const NUMBER = String.raw`(\d+(?:\.\d+)?|\.\d+)`;
const CODE = String.raw`\s*(\d{1,3})\s*`;
const NETWORK_TERM = new RegExp(String.raw`^NetworkErrorRatio\(\s*\)\s*>=?\s*${NUMBER}$`);
const CODE_TERM = new RegExp(String.raw`^ResponseCodeRatio\(${CODE},${CODE},${CODE},${CODE}\)\s*>=?\s*${NUMBER}$`);

/**
 * traefik 1.x `traefik.backend.circuitbreaker.expression`. `NetworkErrorRatio() > X` opens at X*100 %
 * network errors, with 5xx answers not counted. `ResponseCodeRatio(a,b,c,d) > X` opens at X*100 %
 * of answers in [a,b) among those in [c,d): it sets `responseCodeRatio`, and `failOn5xx` only when
 * [a,b) covers all of 500-599. Terms joined by `||` become one breaker that counts all their
 * failures and opens at the lowest threshold, so it opens no later than any term would; `&&`
 * (opening only when every term holds) has no such reading and is refused, as is a latency term.
 */
export function traefikBreakerSetting(label: string, value: string): Setting<BreakerPolicy> {
  const fail = (): Setting<BreakerPolicy> => ({ label, error: badLabel(label, value, EXPRESSION_EXPECTED) });
  const breaker: MutableBreaker = {};
  let failOn5xx = false;
  for (const raw of value.split('||')) {
    const term = raw.trim();
    const network = NETWORK_TERM.exec(term);
    const codes = network === null ? CODE_TERM.exec(term) : null;
    const ratio = Number((network ?? codes)?.at(-1));
    if (!(ratio > 0 && ratio <= 1)) return fail();
    if (codes !== null) {
      const [a, b, c, d] = codes.slice(1, 5).map(Number) as [number, number, number, number];
      if (a >= b || c >= d) return fail();
      // One breaker holds one code range: two different ones cannot both be honoured.
      const known = breaker.responseCodeRatio;
      if (known !== undefined && known.join() !== [a, b, c, d].join()) return fail();
      breaker.responseCodeRatio = Object.freeze([a, b, c, d] as const);
      if (a <= 500 && b >= 600) failOn5xx = true;
    }
    const percent = Math.round(ratio * 10_000) / 100;
    breaker.errorThresholdPercentage = Math.min(breaker.errorThresholdPercentage ?? 100, percent);
  }
  breaker.failOn5xx = failOn5xx;
  return { label, value: Object.freeze(breaker) };
}
