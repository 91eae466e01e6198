// The raw TCP backends the TCP benchmarks reach: `node tcp-backend.mjs SINK_PORT ECHO_PORT`.
// Sink: counts what it is sent and, at the client's end, answers the count and closes.
// Echo: sends back whatever it gets.
import { createServer } from 'node:net';

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
sink.listen(Number(process.argv[2]), '127.0.0.1');
echo.listen(Number(process.argv[3]), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
