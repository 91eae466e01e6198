#!/usr/bin/env node
// Raw TCP benchmark: a sink/echo backend in a child process, reached directly and through baton's
// TCP service ports, in one run, interleaved over several rounds. Measures (a) throughput of one
// connection streaming BENCH_MB MiB to a sink, (b) connection rate: connect, send 4 bytes, read
// the echo, close, with BENCH_CONCURRENCY clients for at most BENCH_SECONDS or BENCH_CONNS
// connections. Prints medians, baton / direct and baton's CPU per MiB and per connection.
// Needs `npm run build`. Everything listens on 127.0.0.1; children are killed on exit.
// Knobs: BENCH_ROUNDS (3), BENCH_MB (256), BENCH_SECONDS (3), BENCH_CONNS (5000), BENCH_CONCURRENCY (20).
import { fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

// The same file is the backend when forked with `backend SINK_PORT ECHO_PORT`.
if (process.argv[2] === 'backend') {
  // Sink: counts what it is sent and, at the client's end, answers the count and closes.
  const sink = createServer({ allowHalfOpen: true }, (socket) => {
    let bytes = 0;
    socket.on('data', (chunk) => (bytes += chunk.length));
    socket.on('end', () => socket.end(`${bytes}\n`));
    socket.on('error', () => socket.destroy());
  });
  const echo = createServer((socket) => {
    socket.on('error', () => socket.destroy());
    socket.pipe(socket);
  });
  sink.listen(Number(process.argv[3]), '127.0.0.1');
  echo.listen(Number(process.argv[4]), '127.0.0.1');
  process.on('SIGTERM', () => process.exit(0));
} else {
  await main();
}

async function main() {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const mib = Number(process.env.BENCH_MB ?? 256);
  const seconds = Number(process.env.BENCH_SECONDS ?? 3);
  const maxConns = Number(process.env.BENCH_CONNS ?? 5000);
  const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 20);
  const root = new URL('..', import.meta.url).pathname;
  const { MarathonSim } = await import('../dist/sim/index.js');

  const children = [];
  process.on('exit', () => children.forEach((child) => child.kill('SIGTERM')));
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(1));

  const [sinkPort, echoPort, sinkService, echoService, httpPort, adminPort] = await freePorts(6);
  const backend = fork(new URL(import.meta.url).pathname, ['backend', String(sinkPort), String(echoPort)], { stdio: 'inherit' });
  children.push(backend);
  await waitForEcho(echoPort);

  const sim = new MarathonSim();
  const marathon = await sim.listen(0, '127.0.0.1');
  sim.deployApp({
    id: '/bench/tcp',
    labels: { BATON_0_PROTOCOL: 'tcp', BATON_0_PORT: String(sinkService), BATON_1_PROTOCOL: 'tcp', BATON_1_PORT: String(echoService) },
    portDefinitions: [{ protocol: 'tcp' }, { protocol: 'tcp' }],
  });
  sim.startTask('/bench/tcp', { host: '127.0.0.1', ports: [sinkPort, echoPort] });

  const baton = spawn(
    process.execPath,
    [`${root}dist/cli.js`, '--marathon', marathon, '--http', `127.0.0.1:${httpPort}`, '--admin', `127.0.0.1:${adminPort}`, '--service-bind', '127.0.0.1', '--log-level', 'warn'],
    { stdio: 'inherit', cwd: root },
  );
  children.push(baton);
  await waitForEcho(echoService);

  const rows = { direct: { mbps: [], cps: [] }, baton: { mbps: [], cps: [] } };
  const cpuPerMiB = [];
  const cpuPerConn = [];
  const chunk = Buffer.alloc(1024 * 1024, 0x61);
  try {
    for (let round = 1; round <= rounds; round++) {
      rows.direct.mbps.push(await stream(sinkPort, chunk, mib));
      let before = cpuSeconds(baton.pid);
      rows.baton.mbps.push(await stream(sinkService, chunk, mib));
      cpuPerMiB.push(((cpuSeconds(baton.pid) - before) * 1e3) / mib);

      rows.direct.cps.push((await connectionRate(echoPort, seconds, maxConns, concurrency)).rate);
      before = cpuSeconds(baton.pid);
      const through = await connectionRate(echoService, seconds, maxConns, concurrency);
      cpuPerConn.push(((cpuSeconds(baton.pid) - before) * 1e6) / through.count);
      rows.baton.cps.push(through.rate);
      process.stderr.write(
        `round ${round}/${rounds}: direct ${rows.direct.mbps.at(-1).toFixed(0)} MiB/s ${rows.direct.cps.at(-1).toFixed(0)} conn/s, ` +
          `baton ${rows.baton.mbps.at(-1).toFixed(0)} MiB/s ${through.rate.toFixed(0)} conn/s\n`,
      );
    }
  } finally {
    // baton first, so it does not log the simulator going away.
    const exited = once(baton, 'exit');
    baton.kill('SIGTERM');
    await Promise.race([exited, sleep(5000)]);
    backend.kill('SIGTERM');
    await sim.close();
  }

  const direct = { mbps: median(rows.direct.mbps), cps: median(rows.direct.cps) };
  const through = { mbps: median(rows.baton.mbps), cps: median(rows.baton.cps) };
  console.log(`\n${rounds} rounds, medians; throughput: ${mib} MiB over one connection; connections: ${concurrency} clients, ${seconds}s or ${maxConns} connections at most`);
  console.log('target   MiB/s    conn/s   proxy CPU ms/MiB   proxy CPU us/conn');
  console.log(`direct   ${direct.mbps.toFixed(0).padStart(6)}  ${direct.cps.toFixed(0).padStart(7)}   -                  -`);
  console.log(`baton    ${through.mbps.toFixed(0).padStart(6)}  ${through.cps.toFixed(0).padStart(7)}   ${median(cpuPerMiB).toFixed(2).padEnd(17)}  ${median(cpuPerConn).toFixed(0)}`);
  console.log(`baton / direct: throughput ${(through.mbps / direct.mbps).toFixed(2)}, connection rate ${(through.cps / direct.cps).toFixed(2)}`);
  process.exit(0);
}

async function freePorts(n) {
  const servers = [];
  for (let i = 0; i < n; i++) {
    const server = createServer();
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
  }
  const ports = servers.map((server) => server.address().port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** One echo round trip on a fresh connection; rejects on error, close or a wrong answer. */
function ping(port) {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    socket.on('data', (data) => {
      got += data;
      if (got.length < 4) return;
      socket.destroy();
      if (got === 'ping') resolve();
      else reject(new Error(`echo answered ${JSON.stringify(got)}`));
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error('closed before the echo')));
    socket.write('ping');
  });
}

async function waitForEcho(port) {
  for (let i = 0; i < 300; i++) {
    try {
      return await ping(port);
    } catch {}
    await sleep(50);
  }
  throw new Error(`nothing echoes on port ${port}`);
}

/** Streams `mib` MiB to the sink on `port` with backpressure; resolves with MiB/s once the sink confirmed every byte. */
function stream(port, chunk, mib) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let sent = 0;
    let answer = '';
    const write = () => {
      while (sent < mib) {
        sent += 1;
        if (!socket.write(chunk)) return void socket.once('drain', write);
      }
      socket.end();
    };
    socket.on('connect', write);
    socket.on('data', (data) => (answer += data));
    socket.on('end', () => {
      socket.destroy();
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (Number(answer) !== mib * chunk.length) reject(new Error(`sink got ${answer.trim()} bytes, expected ${mib * chunk.length}`));
      else resolve(mib / seconds);
    });
    socket.on('error', reject);
  });
}

/** `concurrency` clients doing ping after ping until `seconds` pass or `maxConns` are done; connections per second. */
async function connectionRate(port, seconds, maxConns, concurrency) {
  const started = process.hrtime.bigint();
  const deadline = Date.now() + seconds * 1000;
  let count = 0;
  let launched = 0;
  const worker = async () => {
    while (Date.now() < deadline && launched < maxConns) {
      launched += 1;
      await ping(port);
      count += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { count, rate: count / (Number(process.hrtime.bigint() - started) / 1e9) };
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat. */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ=100)
}

function median(xs) {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}
