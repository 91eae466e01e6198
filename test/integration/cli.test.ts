/**
 * The `baton` executable as an operator runs it (the built dist/cli.js, which `npm ci` builds).
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MarathonSim } from '../../src/sim/index.js';
import { startBackend, type TestBackend } from '../helpers/backends.js';
import { runCli as run } from '../helpers/cli-process.js';
import { waitFor } from '../helpers/wait-for.js';
import { freeTcpPort } from './tcp-harness.js';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanup.map((c) => c()));
  cleanup = [];
});

describe('baton CLI', () => {
  it('exits 2 with one line naming the field, value and expectation for a bad value', async () => {
    const p = run(['--marathon', 'http://127.0.0.1:1', '--http', 'everywhere']);
    expect(await p.exited).toBe(2);
    expect(p.err()).toBe('baton: config http: "everywhere" is invalid; expected HOST:PORT, e.g. 0.0.0.0:80 or [::1]:8080 (from --http)\n');
  });

  it('exits 2 for a bad environment value and for an unknown flag', async () => {
    const env = run(['--marathon', 'http://127.0.0.1:1'], { BATON_LOG_LEVEL: 'chatty' });
    expect(await env.exited).toBe(2);
    expect(env.err()).toMatch(/^baton: config logLevel: "chatty" is invalid; .*\(from BATON_LOG_LEVEL\)\n$/);
    const flag = run(['--realmm', 'x']);
    expect(await flag.exited).toBe(2);
    expect(flag.err().split('\n').filter(Boolean)).toHaveLength(1);
  });

  it('serves traffic from Marathon and stops cleanly on SIGTERM', async () => {
    const backend: TestBackend = await startBackend('a');
    const sim = new MarathonSim();
    await sim.listen(0, '127.0.0.1');
    cleanup.push(() => sim.close(), () => backend.close());
    sim.deployApp({ id: '/web' });
    sim.startTask('/web', { host: '127.0.0.1', ports: [backend.port] });
    const [http, admin] = [await freeTcpPort(), await freeTcpPort()];
    const missing = join(tmpdir(), `baton-test-${process.pid}-missing.json`);
    const p = run([], { BATON_MARATHON: sim.url, BATON_HTTP: `127.0.0.1:${http}`, BATON_ADMIN: `127.0.0.1:${admin}`, BATON_CONFIG: missing });
    cleanup.push(async () => void p.child.kill('SIGKILL'));
    // BATON_CONFIG names a file that cannot exist: that is a clear error, not a silent default.
    expect(await p.exited).toBe(2);
    expect(p.err()).toBe(`baton: config file ${missing}: not found\n`);

    const q = run(['--marathon', sim.url, '--http', `127.0.0.1:${http}`, '--admin', `127.0.0.1:${admin}`]);
    cleanup.push(async () => void q.child.kill('SIGKILL'));
    await waitFor(async () => (await fetch(`http://127.0.0.1:${admin}/health`)).status === 200, 'baton healthy', 10_000, 20);
    const { request } = await import('undici');
    const res = await request(`http://127.0.0.1:${http}/`, { headers: { host: 'web' } });
    expect(await res.body.text()).toBe('a');
    q.child.kill('SIGTERM');
    expect(await q.exited).toBe(0);
    expect(q.out()).toContain('"msg":"first sync done, proxy listening"');
  });

  it('--log-format pretty writes readable lines instead of JSON, credentials still hidden', async () => {
    const sim = new MarathonSim();
    await sim.listen(0, '127.0.0.1');
    cleanup.push(() => sim.close());
    const p = run(['--marathon', sim.url, '--http', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--workers', '0', '--log-format', 'pretty', '--state-file', join(tmpdir(), `baton-pretty-${process.pid}.json`)], {
      BATON_ADMIN_TOKEN: 'pretty-secret-token-0123456789',
    });
    cleanup.push(async () => void p.child.kill('SIGKILL'));
    await waitFor(() => p.out().includes('first sync done, proxy listening'), 'pretty start-up lines', 10_000, 20);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    const lines = p.out().split('\n').filter((l) => l.includes('admin API listening'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\[[\d:.]+\] INFO \(baton\): admin API listening$/);
    expect(p.out()).not.toContain('{"level"');
    expect(p.out()).not.toContain('pretty-secret-token');
  });
});
