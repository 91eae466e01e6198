// Load generators, each returning the same shape:
// { total, rps, p50, p99 (ms), errors, non2xx } for one run against one URL.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { LatencyHistogram } from './stats.mjs';

/**
 * autocannon (HTTP/1.1 keep-alive) in this process. Latency comes from autocannon's per-response
 * event into a 10 us histogram: its own percentiles are whole milliseconds.
 */
export async function autocannonLoad({ url, connections, seconds, headers, method, body, requests }) {
  const latency = new LatencyHistogram();
  const options = { url, connections, duration: seconds, headers, method, body, requests };
  // autocannon takes a key present but undefined as a value (e.g. method `undefined`).
  for (const key of Object.keys(options)) if (options[key] === undefined) delete options[key];
  const run = autocannon(options);
  run.on('response', (_client, _status, _bytes, ms) => latency.record(ms));
  const result = await run;
  return {
    total: result.requests.total,
    rps: result.requests.total / result.duration,
    p50: latency.percentile(50),
    p99: latency.percentile(99),
    errors: result.errors, // timeouts included
    non2xx: result.non2xx,
  };
}

/** Runs a command with a hard time limit; resolves with its stdout. */
function run(command, args, timeoutMs) {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${command} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

// wrk calls done() once at the end; it prints one JSON line after wrk's own summary.
const WRK_REPORT = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"total":%d,"us":%d,"errors":%d,"non2xx":%d,"p50":%d,"p99":%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
`;

/**
 * wrk, one thread; used where autocannon can't go, e.g. a new connection per request (pass
 * `Connection: close`). wrk takes whole seconds. Its non-2xx count is responses >= 400.
 */
export async function wrkLoad({ wrk, tmpDir, url, connections, seconds, headers }) {
  const script = join(tmpDir, 'wrk-report.lua');
  writeFileSync(script, WRK_REPORT);
  const duration = Math.max(1, Math.round(seconds));
  const args = ['-t1', `-c${connections}`, `-d${duration}s`, '--timeout', '10s', '-s', script];
  for (const [name, value] of Object.entries(headers ?? {})) args.push('-H', `${name}: ${value}`);
  const stdout = await run(wrk, [...args, url], (duration + 30) * 1000);
  const line = stdout.split('\n').findLast((l) => l.startsWith('{'));
  if (line === undefined) throw new Error(`wrk printed no report:\n${stdout}`);
  const r = JSON.parse(line);
  return { total: r.total, rps: r.total / (r.us / 1e6), p50: r.p50 / 1000, p99: r.p99 / 1000, errors: r.errors, non2xx: r.non2xx };
}

/**
 * h2load over h2c (prior knowledge): `clients` connections, `streams` concurrent streams each.
 * Latency percentiles come from its per-request log (h2load prints only min/max/mean).
 */
export async function h2loadLoad({ h2load, tmpDir, url, clients, streams, seconds, authority }) {
  const log = join(tmpDir, 'h2load.log');
  writeFileSync(log, '');
  const duration = Math.max(1, Math.round(seconds)); // h2load takes whole seconds
  const args = ['-t1', `-c${clients}`, `-m${streams}`, `-D${duration}`, `--log-file=${log}`, '-H', `:authority: ${authority}`, url];
  const stdout = await run(h2load, args, (duration + 30) * 1000);
  const rps = Number(/finished in [\d.]+\w*, ([\d.]+) req\/s/.exec(stdout)?.[1]);
  const req = /requests: (\d+) total, \d+ started, (\d+) done, \d+ succeeded, \d+ failed, (\d+) errored, (\d+) timeout/.exec(stdout);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(stdout);
  if (!req || !codes || Number.isNaN(rps)) throw new Error(`cannot read h2load's report:\n${stdout}`);
  const latency = new LatencyHistogram();
  // Lines: start time (us since the epoch) TAB status TAB duration (us).
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    const duration = line.split('\t')[2];
    if (duration !== undefined) latency.record(Number(duration) / 1000);
  }
  return {
    total: Number(req[2]),
    rps,
    p50: latency.percentile(50),
    p99: latency.percentile(99),
    errors: Number(req[3]) + Number(req[4]),
    non2xx: Number(codes[2]) + Number(codes[3]) + Number(codes[4]),
  };
}
