import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createAdminServer } from '../../../src/admin/server.js';
import { emptyTable } from '../../../src/routing/routing-table.js';
import type { SwapRecord } from '../../../src/routing/swap-history.js';

let server: Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  server?.close();
  server = undefined;
});

/** The admin API on 127.0.0.1 with the given swap history; every other part is inert. */
async function start(swaps: SwapRecord[]): Promise<string> {
  server = createAdminServer({
    logger: pino({ level: 'silent' }),
    metrics: async () => ({ contentType: 'text/plain', text: '' }),
    table: () => emptyTable(),
    runtime: () => ({ listeners: [] }),
    health: () => ({ serving: true, body: { status: 'ok' } }),
    resync: async () => {},
    maintenance: {
      view: () => ({ marks: [] }),
      add: () => Promise.reject(new Error('not part of these tests')),
      remove: () => Promise.reject(new Error('not part of these tests')),
    },
    swaps: () => swaps,
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const swap = (version: number, added: string[] = []): SwapRecord => ({
  version,
  at: Date.UTC(2030, 0, 1, 12, 0, version),
  buildMs: 0.5,
  routes: added.length,
  backends: 2,
  disabled: 0,
  added,
  removed: [],
});

const hashOf = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/** The text between every `<tag>` and `</tag>` of the page. */
function blocks(html: string, tag: 'script' | 'style'): string[] {
  return [...html.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))].map((m) => m[1]!);
}

describe('GET /swaps', () => {
  it('answers the current swap history, newest first, as JSON that is never cached', async () => {
    const history = [swap(2), swap(1, ['/web:0'])];
    const url = await start(history);
    const res = await fetch(`${url}/swaps`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual({ swaps: [swap(2), swap(1, ['/web:0'])] });

    // Read at every call, not copied at start.
    history.unshift(swap(3, ['/shop:0']));
    expect(((await (await fetch(`${url}/swaps`)).json()) as { swaps: SwapRecord[] }).swaps.map((s) => s.version)).toEqual([3, 2, 1]);
  });

  it('answers an empty list before the first swap', async () => {
    const url = await start([]);
    expect(await (await fetch(`${url}/swaps`)).json()).toEqual({ swaps: [] });
  });
});

describe('GET / (the status page)', () => {
  it('serves HTML that is never cached, with a CSP that allows only its own inline script and style', async () => {
    const url = await start([]);
    const res = await fetch(`${url}/`);
    const html = await res.text();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(html).toMatch(/^<!doctype html>/);

    const csp = new Map((res.headers.get('content-security-policy') ?? '').split('; ').map((d) => [d.split(' ')[0]!, d.split(' ').slice(1)] as const));
    expect(csp.get('default-src')).toEqual(["'none'"]);
    expect(csp.get('connect-src')).toEqual(["'self'"]);
    expect(csp.get('frame-ancestors')).toEqual(["'none'"]);
    // The hashes are of exactly the blocks served: a page edit that forgets them breaks here, not in a browser.
    const [script, ...moreScripts] = blocks(html, 'script');
    const [style, ...moreStyles] = blocks(html, 'style');
    expect([moreScripts, moreStyles]).toEqual([[], []]);
    expect(csp.get('script-src')).toEqual([hashOf(script!)]);
    expect(csp.get('style-src')).toEqual([hashOf(style!)]);
  });

  it('loads nothing from elsewhere and never writes markup from data', async () => {
    const url = await start([]);
    const html = await (await fetch(`${url}/`)).text();
    expect(html).not.toMatch(/(src|href)\s*=\s*["']?(https?:)?\/\//i);
    // Values from Marathon go in as text nodes only.
    expect(html).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
  });

  it('ignores a query string, and refuses other methods with Allow: GET', async () => {
    const url = await start([]);
    expect((await fetch(`${url}/?refresh=1`)).headers.get('content-type')).toBe('text/html; charset=utf-8');
    const res = await fetch(`${url}/`, { method: 'POST' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET');
  });
});
