// The floor for a TCP proxy in Node: accept, dial, relay node's reads both ways with backpressure
// and half-close, nothing else (no routing, breakers, timeouts or metrics). Its CPU per MiB and
// per connection, next to baton's, shows what baton adds and what any Node proxy pays.
// `node tcp-floor.mjs LISTEN:TARGET ...` (ports on 127.0.0.1); stops on SIGTERM.
import { connect, createServer } from 'node:net';

function relay(from, to) {
  from.on('data', (chunk) => {
    if (!to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
  from.on('end', () => to.end());
  from.resume();
}

for (const pair of process.argv.slice(2)) {
  const [listen, target] = pair.split(':').map(Number);
  createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (client) => {
    const upstream = connect({ port: target, host: '127.0.0.1', allowHalfOpen: true, noDelay: true });
    const destroy = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', destroy);
    upstream.on('error', destroy);
    upstream.on('connect', () => {
      relay(client, upstream);
      relay(upstream, client);
    });
  }).listen(listen, '127.0.0.1');
}
process.on('SIGTERM', () => process.exit(0));
