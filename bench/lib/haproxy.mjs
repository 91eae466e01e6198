// HAProxy as a peer: one thread (unless `threads` says more), mode http with keep-alive and `http-reuse always`, no logging;
// `mode tcp` listeners for the TCP scenarios.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * `vhost` on `httpPort` (HTTP/1.1) and `h2Port` (h2c) to the backend, any other host 404 (as in
 * baton); each `tcp` entry { port, target } a plain TCP listener.
 */
export function haproxyConfig({ httpPort, h2Port, backendPort, vhost, tcp, threads = 1 }) {
  const listeners = tcp.map(
    ({ port, target }, i) => `
listen tcp${i}
  mode tcp
  bind 127.0.0.1:${port}
  server s1 127.0.0.1:${target}
`,
  );
  return `global
  nbthread ${threads}

defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 3s
  timeout client 30s
  timeout server 30s

frontend web
  bind 127.0.0.1:${httpPort}
  bind 127.0.0.1:${h2Port} proto h2
  acl known hdr(host) -i ${vhost}
  http-request deny deny_status 404 unless known
  default_backend app

backend app
  server s1 127.0.0.1:${backendPort}
${listeners.join('')}`;
}

/** Writes the config and starts HAProxy in the foreground (one process, `threads` threads, 1 unless given); returns both. */
export function startHaproxy(children, haproxy, options) {
  const dir = join(options.dir, 'haproxy');
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, 'haproxy.cfg');
  const config = haproxyConfig(options);
  writeFileSync(conf, config);
  return { child: children.spawn(haproxy, ['-f', conf, '-db']), config };
}
