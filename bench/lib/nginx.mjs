// nginx as a peer: generated config in a temp dir, one worker, upstream keep-alive, no access log.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Config for `vhost` on `httpPort` (HTTP/1.1) and `h2Port` (h2c, prior knowledge) proxied to the
 * backend; any other host gets 404, as in baton. Up to 128 idle upstream connections are kept (the
 * size of baton's pool). `workers`: worker_processes (1). Everything else not said below is nginx's default.
 */
export function nginxConfig({ dir, httpPort, h2Port, backendPort, vhost, workers = 1 }) {
  const temp = (name) => join(dir, name);
  return `daemon off;
master_process on;
worker_processes ${workers};
pid ${temp('nginx.pid')};
error_log stderr warn;
events { worker_connections 4096; }
http {
  access_log off;
  # h2load does not reconnect after the GOAWAY nginx sends at its default of 1,000 requests.
  keepalive_requests 1000000;
  # Stream request bodies to the backend as baton and HAProxy do; buffered, nginx writes every
  # body over 8 KiB to a temp file.
  proxy_request_buffering off;
  client_body_temp_path ${temp('client_body')};
  proxy_temp_path ${temp('proxy')};
  fastcgi_temp_path ${temp('fastcgi')};
  uwsgi_temp_path ${temp('uwsgi')};
  scgi_temp_path ${temp('scgi')};
  upstream backend {
    server 127.0.0.1:${backendPort};
    keepalive 128;
  }
  server {
    listen 127.0.0.1:${httpPort} default_server;
    listen 127.0.0.1:${h2Port} http2 default_server;
    return 404;
  }
  server {
    listen 127.0.0.1:${httpPort};
    listen 127.0.0.1:${h2Port} http2;
    server_name ${vhost};
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

/** Writes the config and starts nginx in the foreground (master + `workers` workers, 1 unless given); returns both. */
export function startNginx(children, nginx, options) {
  const dir = join(options.dir, 'nginx');
  mkdirSync(dir, { recursive: true });
  // Run as root, nginx's worker is `nobody` and must reach its temp paths.
  chmodSync(options.dir, 0o755);
  chmodSync(dir, 0o755);
  const conf = join(dir, 'nginx.conf');
  const config = nginxConfig({ ...options, dir });
  writeFileSync(conf, config);
  return { child: children.spawn(nginx, ['-p', dir, '-c', conf, '-e', 'stderr']), config };
}
