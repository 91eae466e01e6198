/**
 * Credentials never reach a log line: Marathon passwords and tokens (in settings and in URLs),
 * the admin token, and clients' Authorization and Cookie headers, in the application log and in
 * the access log, on the paths that log the most (auth failures, unreachable Marathons, refused
 * admin calls, proxy errors).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { startBackend } from '../helpers/backends.js';
import { startSystem, type System } from '../helpers/system.js';
import { waitFor } from '../helpers/wait-for.js';
import { freeTcpPort } from './tcp-harness.js';

const SECRETS = {
  marathonPassword: 'pw-Secret-Marathon-1',
  urlPassword: 'pw-Secret-InUrl-2',
  adminToken: 'admin-Secret-Token-3-abcdef',
  wrongToken: 'wrong-Secret-Token-4',
  clientBearer: 'client-Secret-Bearer-5',
  clientCookie: 'session=client-Secret-Cookie-6',
  queryKey: 'query-Secret-Key-7',
};

function leaks(text: string): string[] {
  const found = Object.values(SECRETS).filter((s) => text.includes(s));
  // Basic credentials travel base64-encoded: that must not show either.
  const basic = Buffer.from(`ops:${SECRETS.marathonPassword}`).toString('base64');
  if (text.includes(basic)) found.push(basic);
  return found;
}

let system: System | undefined;
let dir: string | undefined;
afterEach(async () => {
  await system?.close();
  system = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('credentials in logs', () => {
  it('never appear in the application log or the access log', async () => {
    dir = mkdtempSync(join(tmpdir(), 'baton-redact-'));
    const accessLog = join(dir, 'access.log');
    const backend = await startBackend('web');
    const deadPort = await freeTcpPort();
    system = await startSystem({
      sim: { credentials: { user: 'ops', password: SECRETS.marathonPassword } },
      env: { BATON_MARATHON_CREDENTIALS: `ops:${SECRETS.marathonPassword}`, BATON_ADMIN_TOKEN: SECRETS.adminToken },
      flags: ['--access-log', accessLog],
      // A first Marathon that is down, named with credentials in its URL: every failure logs the URL.
      marathonUrls: (sim) => [`http://ops:${SECRETS.urlPassword}@127.0.0.1:${deadPort}`, sim.url],
      before: (sim) => {
        sim.deployApp({ id: '/web' });
        sim.startTask('/web', { host: '127.0.0.1', ports: [backend.port] });
        sim.deployApp({ id: '/down' });
        sim.startTask('/down', { host: '127.0.0.1', ports: [deadPort] });
      },
    });
    const s = system;
    const headers = { authorization: `Bearer ${SECRETS.clientBearer}`, cookie: SECRETS.clientCookie };
    for (const host of ['web', 'down', 'nowhere']) {
      const res = await request(`http://127.0.0.1:${s.httpPort}/p?key=${SECRETS.queryKey}`, { headers: { host, ...headers } });
      await res.body.text();
    }
    // A refused admin call (wrong token), then an accepted one.
    expect((await s.admin('/resync', { method: 'POST', headers: { authorization: `Bearer ${SECRETS.wrongToken}` } })).status).toBe(401);
    expect((await s.admin('/resync', { method: 'POST', headers: { authorization: `Bearer ${SECRETS.adminToken}` } })).status).toBe(200);
    await s.baton.stop();
    system = undefined;
    await s.sim.close();
    await backend.close();

    const app = s.logs.map((line) => JSON.stringify(line)).join('\n');
    // The paths above did log: the failing Marathon, the proxy error and the refused admin call.
    expect(app).toContain(`127.0.0.1:${deadPort}`);
    expect(app).toContain('admin call without the bearer token refused');
    expect(leaks(app)).toEqual([]);
    await waitFor(() => readFileSync(accessLog, 'utf8').split('\n').filter(Boolean).length === 3, 'three access log lines');
    const access = readFileSync(accessLog, 'utf8');
    expect(access).toContain('"path":"/p"');
    expect(leaks(access)).toEqual([]);
  });

  it('the logger censors credential fields wherever they sit', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _e, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger('info', sink);
    logger.info({ password: SECRETS.marathonPassword, token: SECRETS.adminToken, marathonCredentials: { user: 'ops', password: SECRETS.urlPassword } }, 'top level');
    logger.info({ req: { headers: { authorization: `Bearer ${SECRETS.clientBearer}` } }, config: { adminToken: SECRETS.adminToken, marathonToken: SECRETS.wrongToken } }, 'nested');
    logger.info({ headers: { authorization: `Bearer ${SECRETS.clientBearer}` } }, 'headers');
    expect(lines).toHaveLength(3);
    expect(leaks(lines.join(''))).toEqual([]);
    expect(lines.join('')).toContain('[redacted]');
  });
});
