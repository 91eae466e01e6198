// TCP clients: one connection streaming to the sink, and a connection rate against the echo
// (both backends are bench/tcp-backend.mjs).
import { connect } from 'node:net';
import { ping } from './net.mjs';
import { LatencyHistogram } from './stats.mjs';

const CHUNK = Buffer.alloc(1024 * 1024, 0x61);

/**
 * Streams `mib` MiB to the sink on `port` with backpressure; resolves with MiB/s once the sink
 * confirmed every byte. Rejects after `timeoutMs`.
 */
export function stream(port, mib, timeoutMs = 120_000) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const timer = setTimeout(() => socket.destroy(new Error(`stream of ${mib} MiB not done after ${timeoutMs} ms`)), timeoutMs);
    let sent = 0;
    let answer = '';
    const write = () => {
      while (sent < mib) {
        sent += 1;
        if (!socket.write(CHUNK)) return void socket.once('drain', write);
      }
      socket.end();
    };
    socket.on('connect', write);
    socket.on('data', (data) => (answer += data));
    socket.on('end', () => {
      clearTimeout(timer);
      socket.destroy();
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (Number(answer) !== mib * CHUNK.length) reject(new Error(`sink got ${answer.trim()} bytes, expected ${mib * CHUNK.length}`));
      else resolve(mib / seconds);
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/**
 * `concurrency` clients each doing connect, 4 bytes each way, close, one after the other, until
 * `seconds` pass or `maxConns` were started. Same result shape as the HTTP load generators, one
 * "request" being one connection (no status, so non2xx is null).
 */
export async function connectionRate({ port, seconds, maxConns, concurrency }) {
  const latency = new LatencyHistogram();
  const started = process.hrtime.bigint();
  const deadline = Date.now() + seconds * 1000;
  let launched = 0;
  let errors = 0;
  const worker = async () => {
    while (Date.now() < deadline && launched < maxConns) {
      launched += 1;
      const t0 = process.hrtime.bigint();
      try {
        await ping(port);
        latency.record(Number(process.hrtime.bigint() - t0) / 1e6);
      } catch {
        errors += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  return { total: latency.count, rps: latency.count / elapsed, p50: latency.percentile(50), p99: latency.percentile(99), errors, non2xx: null };
}
