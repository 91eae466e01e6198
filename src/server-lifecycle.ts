import { once } from 'node:events';
import type { AddressInfo, Server } from 'node:net';

/** Starts `server` listening and resolves with the address it got (port 0 picks one). */
export async function listen(server: Server, host: string, port: number): Promise<AddressInfo> {
  server.listen(port, host);
  await once(server, 'listening');
  return server.address() as AddressInfo;
}

/**
 * Stops accepting and resolves once every connection has ended ('close'); nothing when it never
 * listened. An http.Server also closes its idle keep-alive connections on close().
 */
export async function closeServer(server: Server): Promise<void> {
  if (!server.listening) return;
  const closed = once(server, 'close');
  server.close();
  await closed;
}
