import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AccessLog, type AccessLogEntry } from '../../../src/observability/access-log.js';

const dirs: string[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'baton-access-unit-'));
  dirs.push(dir);
  return join(dir, 'access.log');
}

const logger = pino({ level: 'silent' });

const ENTRY: AccessLogEntry = {
  route: '/web:0',
  app: '/web',
  backend: '10.0.0.1:80',
  protocol: 'http/1.1',
  status: 200,
  durationMs: 1.25,
  bytesIn: 0,
  bytesOut: 5,
  error: undefined,
  client: '192.0.2.1',
};

describe('AccessLog', () => {
  it('is no object at all when off', () => {
    expect(AccessLog.open({ target: 'off', sample: 1, logger })).toBeNull();
  });

  it('takes every line at a sample of 1 without drawing a random number', async () => {
    const random = vi.spyOn(Math, 'random');
    const log = AccessLog.open({ target: tempFile(), sample: 1, logger });
    for (let i = 0; i < 100; i++) expect(log?.wants(false)).toBe(true);
    expect(random).not.toHaveBeenCalled();
    await log?.close();
  });

  it('takes a share of the lines at a lower sample, and every failed one', async () => {
    const log = AccessLog.open({ target: tempFile(), sample: 0.1, logger });
    let taken = 0;
    for (let i = 0; i < 10_000; i++) if (log?.wants(false)) taken += 1;
    // 1000 expected; the bounds are many standard deviations (30) away.
    expect(taken).toBeGreaterThan(700);
    expect(taken).toBeLessThan(1300);
    for (let i = 0; i < 100; i++) expect(log?.wants(true)).toBe(true);
    await log?.close();
  });

  it('writes one JSON line per entry, flushed on close; lines written after close are dropped', async () => {
    const file = tempFile();
    const log = AccessLog.open({ target: file, sample: 1, logger });
    await log?.ready();
    log?.write(ENTRY);
    log?.write({ ...ENTRY, status: 502, error: 'upstream-reset' });
    await log?.close();
    log?.write(ENTRY);

    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toEqual({ log: 'access', time: expect.any(Number), ...ENTRY, error: undefined });
    expect(lines[0]).not.toHaveProperty('error');
    expect(lines[1]).toMatchObject({ status: 502, error: 'upstream-reset' });
  });
});
