import type { TimeoutPolicy } from '../types.js';
import { badLabel, type Labels, type Setting } from './values.js';

/** Node timers take at most 2^31-1 ms (a longer one fires after 1 ms). */
const MAX_MS = 2 ** 31 - 1;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION = /^(\d{1,10}(?:\.\d{1,3})?)\s*(ms|s|m|h)?$/;
export const DURATION_EXPECTED = 'milliseconds, or a number with a unit ms, s, m or h (5000, 30s, 1.5m, 1h), from 1 ms to 596 h';

/** A duration in whole milliseconds: `5000` (ms), `250ms`, `30s`, `1.5m`, `1h` (marathon-lb writes `30s`, `1h`). */
export function durationSetting(label: string, value: string): Setting<number> {
  const match = DURATION.exec(value.trim().toLowerCase());
  const number = match?.[1];
  const unit = match?.[2];
  // A bare number counts milliseconds, so a fraction of one is refused rather than rounded.
  if (number === undefined || (unit === undefined && number.includes('.'))) return { label, error: badLabel(label, value, DURATION_EXPECTED) };
  const ms = Math.round(Number(number) * UNIT_MS[unit ?? 'ms']!);
  if (ms < 1 || ms > MAX_MS) return { label, error: badLabel(label, value, DURATION_EXPECTED) };
  return { label, value: ms };
}

const TIMEOUT_LABELS: ReadonlyArray<readonly [suffix: string, field: keyof TimeoutPolicy]> = [
  ['CONNECT', 'connectMs'],
  ['HEADERS', 'headersMs'],
  ['BODY', 'bodyMs'],
  ['TOTAL', 'totalMs'],
  ['TUNNEL', 'tunnelIdleMs'],
];

export const TIMEOUT_SUFFIXES = TIMEOUT_LABELS.map(([suffix]) => `TIMEOUT_${suffix}`);

/** `BATON_{n}_TIMEOUT_CONNECT`, `_HEADERS`, `_BODY` (idle body), `_TOTAL`, `_TUNNEL` (idle tunnel); undefined when none is set. */
export function batonTimeouts(labels: Labels, n: number): Setting<TimeoutPolicy> | undefined {
  const timeouts: { -readonly [K in keyof TimeoutPolicy]: number } = {};
  const errors: string[] = [];
  let first: string | undefined;
  for (const [suffix, field] of TIMEOUT_LABELS) {
    const label = `BATON_${n}_TIMEOUT_${suffix}`;
    const value = labels[label];
    if (value === undefined) continue;
    first ??= label;
    const setting = durationSetting(label, value);
    if (setting.error !== undefined) errors.push(setting.error);
    else timeouts[field] = setting.value;
  }
  if (first === undefined) return undefined;
  if (errors.length > 0) return { label: first, error: errors.join('; ') };
  return { label: first, value: Object.freeze(timeouts) };
}
