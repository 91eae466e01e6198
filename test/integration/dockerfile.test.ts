/**
 * The Dockerfile cannot be built here (no Docker engine), so its parts are checked one by one:
 * what it copies exists, every variable it documents is a real setting, and its HEALTHCHECK
 * command, run as written (port aside), tells a serving baton from a draining or absent one.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { ENVIRONMENT } from '../../src/config/load.js';
import { startBackend } from '../helpers/backends.js';
import { startSystem, type System } from '../helpers/system.js';
import { waitFor } from '../helpers/wait-for.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const dockerfile = readFileSync(`${ROOT}Dockerfile`, 'utf8');
const run = promisify(execFile);

let system: System | undefined;
afterEach(async () => {
  await system?.close();
  system = undefined;
});

/** The HEALTHCHECK's command, run in a shell with the admin port swapped in; resolves with its exit code. */
async function healthcheck(port: number): Promise<number> {
  const cmd = /HEALTHCHECK[^\n]*\\\n\s*CMD (.+)/.exec(dockerfile)?.[1];
  expect(cmd).toContain('127.0.0.1:9090/health');
  try {
    await run('sh', ['-c', cmd!.replace('127.0.0.1:9090', `127.0.0.1:${port}`)], { timeout: 10_000 });
    return 0;
  } catch (err) {
    return (err as { code: number }).code;
  }
}

describe('Dockerfile', () => {
  it('is multi-stage, runs as a non-root user, and copies only what exists', () => {
    expect(dockerfile.match(/^FROM /gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^EXPOSE 80 443 9090$/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "dist\/cli\.js"\]$/m);
    for (const [, from] of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const path of from!.split(' ')) expect(existsSync(`${ROOT}${path}`), path).toBe(true);
    }
    // dist/ comes from `npm ci` in the build stage: the prepare script builds it.
    expect(JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')).scripts.prepare).toBe('npm run build');
  });

  it('documents only environment variables baton reads', () => {
    const names = [...new Set(dockerfile.match(/BATON_[A-Z_]+/g))];
    expect(names.length).toBeGreaterThan(15);
    for (const name of names) expect(ENVIRONMENT, name).toContain(name);
  });

  it('HEALTHCHECK passes while baton serves and fails while it drains or is gone', async () => {
    const backend = await startBackend('slow', (req, res) => {
      req.resume();
      setTimeout(() => res.end('done'), 500);
    });
    system = await startSystem({
      file: { shutdownGraceMs: 2_000 },
      before: (sim) => {
        sim.deployApp({ id: '/web' });
        sim.startTask('/web', { host: '127.0.0.1', ports: [backend.port] });
      },
    });
    const port = system.baton.admin.port;
    expect(await healthcheck(port)).toBe(0);
    const inFlight = system.get('web');
    await waitFor(() => backend.requests.length === 1, 'request at the backend');
    const stopped = system.baton.stop();
    expect(await healthcheck(port)).toBe(1);
    await inFlight;
    await stopped;
    expect(await healthcheck(port)).toBe(1);
    await backend.close();
  });
});
