// Per-peer summaries of a scenario's rounds (medians; errors summed) and the printed table.
import { median } from './stats.mjs';

const ratio = (a, b) => (a === null || b === null || b === 0 ? null : a / b);
/** null when nothing was counted (e.g. non-2xx for raw TCP). */
const sum = (xs) => (xs.every((x) => x === null) ? null : xs.reduce((n, x) => n + (x ?? 0), 0));

/**
 * `runs` maps a peer's name to its rounds ({ rps, p50, p99, errors, non2xx, cpuUs, cpuSysUs,
 * backendCpuUs } or { failed }). Ratios are to each of `refs` (e.g. nginx and direct) present in
 * `runs`.
 */
export function summarize(runs, refs) {
  const summaries = {};
  for (const [peer, rounds] of Object.entries(runs)) {
    const ok = rounds.filter((r) => r.failed === undefined);
    const pick = (key) => median(ok.map((r) => r[key]));
    summaries[peer] = {
      rounds: ok.length,
      failedRounds: rounds.length - ok.length,
      rps: pick('rps'),
      p50: pick('p50'),
      p99: pick('p99'),
      errors: sum(ok.map((r) => r.errors)),
      non2xx: sum(ok.map((r) => r.non2xx)),
      cpuUs: pick('cpuUs'),
      cpuSysUs: pick('cpuSysUs'),
      backendCpuUs: pick('backendCpuUs'),
    };
  }
  for (const summary of Object.values(summaries)) {
    summary.ratios = {};
    for (const ref of refs) {
      const base = summaries[ref];
      if (base === undefined) continue;
      summary.ratios[ref] = {
        rps: ratio(summary.rps, base.rps),
        p50: ratio(summary.p50, base.p50),
        p99: ratio(summary.p99, base.p99),
        cpuUs: ratio(summary.cpuUs, base.cpuUs),
      };
    }
  }
  return summaries;
}

const fixed = (digits) => (x) => (x === null || x === undefined ? '-' : x.toFixed(digits));
const int = fixed(0);
const two = fixed(2);
const lat = fixed(2);

/** One table: rate and p99 as ratios to every ref, CPU as a ratio to the refs that are proxies. */
export function formatTable(scenario, summaries, refs) {
  const present = refs.filter((ref) => summaries[ref] !== undefined);
  const cpuRefs = present.filter((ref) => summaries[ref].cpuUs !== null);
  const columns = [
    ['peer', (name) => name, 12, 'left'],
    [scenario.rateLabel, (_, s) => int(s.rps), 9],
    ...present.map((ref) => [`/${ref}`, (_, s) => two(s.ratios[ref]?.rps), Math.max(6, ref.length + 1)]),
    ['p50 ms', (_, s) => lat(s.p50), 8],
    ['p99 ms', (_, s) => lat(s.p99), 8],
    ...present.map((ref) => [`p99/${ref}`, (_, s) => two(s.ratios[ref]?.p99), ref.length + 4]),
    ['errors', (_, s) => int(s.errors), 7],
    ['non-2xx', (_, s) => int(s.non2xx), 8],
    [scenario.cpuLabel, (_, s) => fixed(1)(s.cpuUs), Math.max(10, scenario.cpuLabel.length)],
    ['of it sys', (_, s) => fixed(1)(s.cpuSysUs), 9],
    ...cpuRefs.map((ref) => [`CPU/${ref}`, (_, s) => two(s.ratios[ref]?.cpuUs), ref.length + 4]),
  ];
  const rows = Object.entries(summaries);
  // A column with nothing in any row (latency of a TCP stream, say) is left out.
  const shown = columns.filter((c, i) => i === 0 || rows.some(([name, summary]) => c[1](name, summary) !== '-'));
  const cell = ([, , width, align], text) => (align === 'left' ? text.padEnd(width) : text.padStart(width));
  const lines = [shown.map((c) => cell(c, c[0])).join('  ')];
  for (const [name, summary] of rows) {
    const failed = summary.failedRounds > 0 ? `  (${summary.failedRounds} round(s) failed)` : '';
    lines.push(shown.map((c) => cell(c, c[1](name, summary))).join('  ') + failed);
  }
  return lines.join('\n');
}

/** The lines above a scenario's table: what it is and how it was measured (`sized`: not timed). */
export function scenarioHeader(scenario, rounds, seconds) {
  const each = scenario.sized ? '' : ` x ${seconds} s`;
  return `\n${scenario.title}\n${scenario.how}; ${rounds} round(s)${each}, medians; errors summed`;
}
