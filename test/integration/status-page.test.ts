/**
 * The status page as an operator sees it: a real baton (simulated Marathon and Mesos, real
 * backends), the page loaded in headless Chromium, checked by its visible text.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MesosMasterSim } from '../../src/sim/index.js';
import { startBackend, type TestBackend } from '../helpers/backends.js';
import { startSystem, type System } from '../helpers/system.js';
import { waitFor } from '../helpers/wait-for.js';
import { freeTcpPort } from './tcp-harness.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`status page tests skipped: ${CHROMIUM} is missing (install Debian's chromium package to run them)`);

/** Markup an app id, a label and a mark note carry: it must show as text and never run. */
const XSS_APP = '/xss<img src=x onerror=window.pwned=1>';
const XSS_HOST = '<img src=x onerror=window.pwned=2>';
const XSS_NOTE = '<img src=x onerror=window.pwned=3>';

/** The page refreshes every 2 s; a loaded machine may need a few rounds. */
const PAGE_WAIT_MS = 10_000;

let browser: Browser | undefined;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  if (!hasChromium) return;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

afterAll(async () => {
  await browser?.close();
});

afterEach(async () => {
  for (const step of cleanups.splice(0).reverse()) await step();
});

async function backend(name: string, handler?: Parameters<typeof startBackend>[1]): Promise<TestBackend> {
  const b = await startBackend(name, handler);
  cleanups.push(() => b.close());
  return b;
}

interface Cluster {
  readonly s: System;
  readonly web: TestBackend;
  readonly shop: TestBackend[];
  readonly shopTasks: string[];
  readonly tcpPort: number;
  readonly db: TestBackend;
}

/**
 * /web (no health checks), /shop (two healthy tasks, the second marked for maintenance), /bad (a
 * bad vhost label), the XSS app, a TCP service port and a TLS passthrough route.
 */
async function startCluster(): Promise<Cluster> {
  const web = await backend('web');
  const shop = [await backend('shop-1'), await backend('shop-2')];
  const xss = await backend('xss');
  const db = await backend('db');
  const vault = await backend('vault');
  const mesos = new MesosMasterSim();
  await mesos.listen();
  cleanups.push(() => mesos.close());
  mesos.drain('agent-9.example.com');
  const shopTasks: string[] = [];
  const tcpPort = await freeTcpPort();
  const s = await startSystem({
    flags: ['--mesos', mesos.url, '--service-bind', '127.0.0.1'],
    file: { mesosPollMs: 50 },
    before: (sim) => {
      sim.deployApp({ id: '/web', labels: { BATON_0_VHOST: 'web.example.com' } });
      sim.startTask('/web', { host: '127.0.0.1', ports: [web.port] });
      sim.deployApp({ id: '/shop', labels: { BATON_0_VHOST: 'shop.example.com', BATON_0_PATH: '/cart' }, healthChecks: 1 });
      for (const b of shop) shopTasks.push(sim.startTask('/shop', { host: '127.0.0.1', ports: [b.port] }, { healthy: true }));
      sim.deployApp({ id: '/bad', labels: { BATON_0_VHOST: XSS_HOST } });
      sim.startTask('/bad', { host: '127.0.0.1', ports: [web.port] });
      sim.deployApp({ id: XSS_APP, labels: { BATON_0_VHOST: 'xss.example.com' } });
      sim.startTask(XSS_APP, { host: '127.0.0.1', ports: [xss.port] });
      sim.deployApp({ id: '/db', labels: { BATON_0_PROTOCOL: 'tcp', BATON_0_PORT: String(tcpPort) } });
      sim.startTask('/db', { host: '127.0.0.1', ports: [db.port] });
      sim.deployApp({ id: '/vault', labels: { BATON_0_PROTOCOL: 'tls', BATON_0_VHOST: 'secure.example.com' } });
      sim.startTask('/vault', { host: '127.0.0.1', ports: [vault.port] });
    },
  });
  cleanups.push(() => s.close());
  const marked = await fetch(`${s.adminUrl}/maintenance`, { method: 'POST', body: JSON.stringify({ tasks: [shopTasks[1]], note: XSS_NOTE }) });
  expect(marked.status).toBe(201);
  await waitFor(async () => (await s.admin('/health')).json.mesos.reachable === true, 'Mesos polled');
  return { s, web, shop, shopTasks, tcpPort, db };
}

interface Watched {
  readonly page: Page;
  /** Console errors and uncaught exceptions, as text. */
  readonly errors: string[];
  /** Main-frame navigations: 1 as long as the page never reloads. */
  navigations(): number;
  /** CSP violations the page reported. */
  violations(): Promise<string[]>;
  text(selector: string): Promise<string>;
  /** Polls until the text of `selector` satisfies `check`, and returns it. */
  until(selector: string, check: (text: string) => boolean, what: string): Promise<string>;
}

async function openPage(adminUrl: string): Promise<Watched> {
  const context = await browser!.newContext();
  cleanups.push(() => context.close());
  const page = await context.newPage();
  const errors: string[] = [];
  let navigations = 0;
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (err) => errors.push(`uncaught: ${err.message}`));
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) navigations++;
  });
  // Installed before the page's own script; init scripts are not subject to the page's CSP.
  await page.addInitScript('window.__violations = []; document.addEventListener("securitypolicyviolation", (e) => window.__violations.push(e.violatedDirective + " " + e.blockedURI));');
  await page.goto(`${adminUrl}/`);
  const text = (selector: string) => page.locator(selector).innerText();
  return {
    page,
    errors,
    navigations: () => navigations,
    violations: () => page.evaluate('window.__violations') as Promise<string[]>,
    text,
    until: (selector, check, what) => waitFor(async () => {
      const t = await text(selector);
      return check(t) ? t : undefined;
    }, what, PAGE_WAIT_MS, 50),
  };
}

describe.skipIf(!hasChromium)('status page in Chromium', () => {
  it('shows the status, Marathon and Mesos, routes with backends, maintenance, disabled routes and swaps', async () => {
    const { s, web, shop, shopTasks, tcpPort, db } = await startCluster();
    // Traffic gives the web backend live state (breaker, in flight).
    expect((await s.get('web.example.com')).status).toBe(200);
    const w = await openPage(s.adminUrl);

    expect(await w.until('#status', (t) => t === 'OK', 'status OK')).toBe('OK');
    expect(await w.text('#updated')).toMatch(/^last updated /);

    const marathon = await w.text('.card:has(h3:text-is("Marathon"))');
    expect(marathon).toMatch(/connected\s+yes/);
    expect(marathon).toContain(s.sim.url);
    const mesos = await w.text('.card:has(h3:text-is("Mesos"))');
    expect(mesos).toMatch(/reachable\s+yes/);
    expect(mesos).toMatch(/draining\s+1/);
    const table = await w.text('.card:has(h3:text-is("Routing table"))');
    expect(table).toMatch(/version\s+2/);
    expect(table).toMatch(/HTTP routes\s+3\s+TCP\/UDP ports\s+1\s+TLS routes\s+1\s+routable backends\s+5\s+disabled\s+1/);

    const webRoute = await w.text('.route:has-text("web.example.com")');
    expect(webRoute).toContain('apps /web');
    expect(await w.text(`.route tr:has-text("127.0.0.1:${web.port}")`)).toMatch(/no-checks\s+routable\s+closed\s+0$/);

    const shopRoute = await w.text('.route:has-text("shop.example.com")');
    expect(shopRoute).toContain('/cart');
    expect(shopRoute).toContain('1 of 2 routable');
    expect(await w.text(`.route tr:has-text("127.0.0.1:${shop[0]!.port}")`)).toMatch(new RegExp(`${shopTasks[0]}\\s+healthy\\s+routable`));
    const marked = await w.text(`.route tr:has-text("127.0.0.1:${shop[1]!.port}")`);
    expect(marked).toContain(shopTasks[1]);
    expect(marked).toContain('healthy');
    expect(marked).toContain(`MAINTENANCE maintenance: mark 1 (task ${shopTasks[1]}, ${JSON.stringify(XSS_NOTE)})`);
    expect(await w.text('.card:has(h3:text-is("Maintenance"))')).toMatch(/out of service\s+1/);

    const tcp = await w.until(`.route:has-text("TCP port ${tcpPort}")`, (t) => t.includes('listener listening'), 'the TCP listener up');
    expect(tcp).toContain('apps /db');
    expect(tcp).toContain(`127.0.0.1:${db.port}`);
    expect(await w.text('.route:has-text("secure.example.com")')).toMatch(/^TLS secure\.example\.com → HTTPS entry point\nTLS passthrough · apps \/vault/);

    expect(await w.text('#disabled')).toContain(`/bad port 0: label BATON_0_VHOST=${JSON.stringify(XSS_HOST)}`);

    const swaps = await w.text('#swaps');
    expect(swaps).toMatch(/^v2\t/m);
    expect(swaps).toMatch(/^v1\t.*\/web:0/m);

    expect(w.errors).toEqual([]);
    expect(await w.violations()).toEqual([]);
  });

  it('shows markup from app ids, labels and notes as text, and never runs it', async () => {
    const { s } = await startCluster();
    const w = await openPage(s.adminUrl);
    const xss = await w.until('#routes', (t) => t.includes('xss.example.com'), 'the XSS app route');
    expect(xss).toContain(`apps ${XSS_APP}`);
    expect(await w.text('#disabled')).toContain(XSS_HOST);
    expect(await w.text('#overview')).toContain(XSS_NOTE);
    expect(await w.page.locator('img').count()).toBe(0);
    expect(await w.page.evaluate('window.pwned')).toBeUndefined();
    expect(w.errors).toEqual([]);
    expect(await w.violations()).toEqual([]);
  });

  it('updates without reloading when a task dies, and filters routes by text', async () => {
    const { s, shop, shopTasks } = await startCluster();
    const w = await openPage(s.adminUrl);
    await w.until('#routes', (t) => t.includes(`127.0.0.1:${shop[0]!.port}`), 'the shop backend');

    s.sim.killTask(shopTasks[0]!);
    const shopRoute = await w.until('.route:has-text("shop.example.com")', (t) => !t.includes(`127.0.0.1:${shop[0]!.port}`), 'the killed task gone');
    expect(shopRoute).toContain('0 of 1 routable');
    expect(await w.text('#swaps')).toMatch(/^v3\t/m);
    expect(w.navigations()).toBe(1);

    await w.page.locator('#filter').fill('shop');
    await waitFor(async () => (await w.page.locator('.route:visible').count()) === 1, 'only the shop route shown');
    expect(await w.text('.route:visible')).toContain('shop.example.com');
    // The filter survives the next refresh.
    const before = await w.text('#updated');
    await w.until('#updated', (t) => t !== before, 'another refresh');
    expect(await w.page.locator('.route:visible').count()).toBe(1);

    expect(w.errors).toEqual([]);
    expect(await w.violations()).toEqual([]);
  });

  it('shows DRAINING while baton stops, then an error banner once the admin API is gone', async () => {
    let release: () => void = () => {};
    const slow = await backend('slow', (req, res) => {
      req.resume();
      res.write('part ');
      release = () => res.end('end');
    });
    const s = await startSystem({
      file: { shutdownGraceMs: 10_000 },
      before: (sim) => {
        sim.deployApp({ id: '/slow', labels: { BATON_0_VHOST: 'slow.example.com' } });
        sim.startTask('/slow', { host: '127.0.0.1', ports: [slow.port] });
      },
    });
    let stopped: Promise<void> | undefined;
    cleanups.push(async () => {
      release();
      await (stopped ?? s.baton.stop());
      await s.sim.close();
    });
    const w = await openPage(s.adminUrl);
    await w.until('#status', (t) => t === 'OK', 'status OK');
    expect(await w.page.locator('#banner').isVisible()).toBe(false);

    const pending = s.get('slow.example.com');
    await waitFor(() => slow.requests.length === 1, 'the request at the backend');
    expect(w.errors).toEqual([]);
    stopped = s.baton.stop();
    await w.until('#status', (t) => t === 'DRAINING', 'status DRAINING');
    release();
    expect(await pending).toMatchObject({ status: 200, body: 'part end' });
    await stopped;

    const banner = await w.until('#banner', (t) => t.includes('not answering'), 'the error banner');
    expect(banner).toMatch(/The admin API is not answering \(.+\); what you see is from \d+ s ago\./);
    expect(await w.text('#status')).toBe('DRAINING');
    expect(w.navigations()).toBe(1);
    // The browser logs the refused fetches (and the 503s while draining); nothing else may fail.
    expect(w.errors.filter((e) => !e.startsWith('Failed to load resource'))).toEqual([]);
    expect(await w.violations()).toEqual([]);
  });
});
