import { createHash } from 'node:crypto';

/**
 * The status page (`GET /` on the admin port): one self-contained HTML document, no build step,
 * nothing from elsewhere. Its script polls `/health`, `/routes`, `/maintenance` and `/swaps` and
 * draws them with DOM APIs only: app ids, hosts and reasons come from Marathon labels and
 * operators' notes, so no value is ever parsed as markup.
 */

const STYLE = `
:root { font: 14px/1.4 system-ui, sans-serif; color: #1d232b; background: #f4f6f8; }
body { margin: 0 auto; padding: 1rem 1.5rem 3rem; max-width: 1200px; }
header { display: flex; align-items: center; gap: 1rem; flex-wrap: wrap; }
h1 { font-size: 1.5rem; margin: 0; }
h2 { font-size: 1.1rem; margin: 1.6rem 0 .5rem; }
.badge { display: inline-block; padding: .1rem .5rem; border-radius: 4px; font-weight: 600; background: #d5dbe1; }
#status { font-size: 1.3rem; text-transform: uppercase; padding: .2rem .8rem; }
.st-ok { background: #1f8a4c; color: #fff; }
.st-stale, .st-starting { background: #d99a00; color: #000; }
.st-draining, .st-down { background: #c0392b; color: #fff; }
#updated { color: #5a6572; }
.banner { margin: 1rem 0; padding: .7rem 1rem; background: #c0392b; color: #fff; font-weight: 600; border-radius: 4px; }
.banner[hidden] { display: none; }
body.offline main { opacity: .55; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(250px, 1fr)); gap: .8rem; margin-top: 1rem; }
.card, .route { background: #fff; border: 1px solid #d5dbe1; border-radius: 6px; padding: .6rem .9rem; }
.card h3 { margin: 0 0 .4rem; font-size: 1rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .1rem .8rem; margin: 0; }
dt { color: #5a6572; }
dd { margin: 0; overflow-wrap: anywhere; }
.route { margin-bottom: .6rem; }
.route[hidden] { display: none; }
.route-title { font-weight: 600; font-size: 1.05rem; overflow-wrap: anywhere; }
.meta { color: #5a6572; }
table { border-collapse: collapse; width: 100%; margin-top: .4rem; }
th, td { text-align: left; padding: .2rem .5rem; border-top: 1px solid #e4e8ec; vertical-align: top; overflow-wrap: break-word; }
.route td:nth-child(2), .route td:nth-child(4) { overflow-wrap: anywhere; }
th { color: #5a6572; font-weight: 500; white-space: nowrap; }
.good { color: #1f8a4c; font-weight: 600; }
.bad { color: #c0392b; font-weight: 600; }
.warn { color: #9a6b00; font-weight: 600; }
tr.maint { background: #fff4d6; }
.tag { background: #d99a00; color: #000; border-radius: 3px; padding: 0 .35rem; font-size: .8rem; font-weight: 700; }
#filter { padding: .3rem .5rem; width: 20rem; max-width: 100%; font: inherit; }
ul { margin: 0; padding-left: 1.2rem; }
.none { color: #5a6572; font-style: italic; }
`;

// Plain browser JavaScript, not TypeScript: no build step. No template literals in here (this is one).
const SCRIPT = `
'use strict';
const REFRESH_MS = 2000;
const TIMEOUT_MS = 5000;
const STATUSES = ['ok', 'stale', 'starting', 'draining'];
const byId = (id) => document.getElementById(id);
let lastOkAt = 0;

// Every value goes in as a text node: append() never parses strings as markup.
function el(tag, cls, ...kids) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  for (const kid of kids) if (kid !== undefined && kid !== null && kid !== false) node.append(typeof kid === 'object' ? kid : String(kid));
  return node;
}
function age(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return s + ' s';
  const m = Math.floor(s / 60);
  return m < 120 ? m + ' min' : Math.floor(m / 60) + ' h ' + (m % 60) + ' min';
}
function since(at, now) { return at === undefined || at === null ? 'never' : age(now - Number(at)) + ' ago'; }
function yesNo(v, good = true) { return el('span', v === good ? 'good' : 'bad', v ? 'yes' : 'no'); }
function dl(rows) {
  const list = el('dl');
  for (const [k, v] of rows) if (v !== undefined) list.append(el('dt', '', k), el('dd', '', v));
  return list;
}
function card(title, rows) { return el('div', 'card', el('h3', '', title), dl(rows)); }

async function getJson(path) {
  const res = await fetch(path, { cache: 'no-store', signal: AbortSignal.timeout(TIMEOUT_MS) });
  // /health answers 503 while starting or draining: still a status worth showing.
  if (!res.ok && !(path === '/health' && res.status === 503)) throw new Error(path + ' answered HTTP ' + res.status);
  return res.json();
}

function renderOverview(h, r, m, now) {
  const status = byId('status');
  status.textContent = h.status;
  status.className = 'badge ' + (STATUSES.includes(h.status) ? 'st-' + h.status : '');
  const mt = h.marathon || {};
  const ms = h.mesos || {};
  const marks = m.marks || [];
  byId('overview').replaceChildren(
    card('Marathon', [
      ['connected', yesNo(mt.connected)],
      ['URL', mt.url || '—'],
      ['leader', mt.leader],
      ['last event', since(mt.lastEventAt, now)],
      ['last sync', since(mt.lastSyncAt, now)],
      ['reconnects', mt.reconnects],
      ['last error', mt.lastError],
    ]),
    card('Mesos', ms.enabled ? [
      ['enabled', yesNo(true)],
      ['reachable', yesNo(ms.reachable)],
      ['leader', ms.leader || '—'],
      ['draining', el('span', ms.draining > 0 ? 'warn' : '', ms.draining)],
      ['down', el('span', ms.down > 0 ? 'bad' : '', ms.down)],
      ['last error', ms.lastError],
    ] : [['enabled', el('span', 'meta', 'no (not polled)')]]),
    card('Routing table', [
      ['version', r.version],
      ['age', age(r.ageMs)],
      ['HTTP routes', r.routes.length],
      ['TCP/UDP ports', r.ports.length],
      ['TLS routes', r.tls.length],
      ['routable backends', [...r.routes, ...r.ports, ...r.tls].reduce((n, x) => n + x.routable, 0)],
      ['disabled', el('span', r.disabled.length > 0 ? 'warn' : '', r.disabled.length)],
    ]),
    card('Maintenance', [
      ['marks', marks.length],
      ['out of service', el('span', (m.outOfService || []).length > 0 ? 'warn' : '', (m.outOfService || []).length)],
      ...marks.map((k) => ['mark ' + k.id, markText(k)]),
    ]),
  );
}
function markText(k) {
  const parts = [];
  for (const key of ['hosts', 'zones', 'apps', 'tasks']) if (k[key]) parts.push(key + ' ' + k[key].join(', '));
  if (k.note) parts.push('"' + k.note + '"');
  parts.push(k.expiresAt ? 'until ' + new Date(k.expiresAt).toLocaleString() : 'until deleted');
  return parts.join('; ');
}

function backendRow(b) {
  const maint = !b.routable && typeof b.why === 'string' && b.why.startsWith('maintenance');
  const state = b.routable ? el('span', 'good', 'routable')
    : el('span', maint ? '' : 'bad', maint ? el('span', 'tag', 'MAINTENANCE') : '', maint ? ' ' : '', b.why || 'not routable');
  const health = el('span', b.health === 'healthy' || b.health === 'no-checks' ? '' : 'bad', b.health);
  const breaker = b.live ? el('span', b.live.breaker === 'closed' ? '' : 'bad', b.live.breaker) : '—';
  return el('tr', maint ? 'maint' : '', el('td', '', b.address), el('td', '', b.taskId), el('td', '', health), el('td', '', state),
    el('td', '', breaker), el('td', '', b.live ? b.live.inFlight : '—'));
}
function routeBlock(title, meta, backends, words) {
  const body = backends.length === 0 ? el('p', 'none', 'no tasks')
    : el('table', '', el('tr', '', ...['address', 'task', 'health', 'state', 'breaker', 'in flight'].map((c) => el('th', '', c))), ...backends.map(backendRow));
  const block = el('div', 'route', el('div', 'route-title', title), el('div', 'meta', meta), body);
  block.dataset.search = words.concat(backends.flatMap((b) => [b.address, b.taskId, b.health, b.why || ''])).join(' ').toLowerCase();
  return block;
}
function policyText(x) {
  return 'apps ' + x.apps.join(', ') + ' · ' + x.policy.balance + (x.policy.sticky ? ' sticky' : '') + ' · ' + x.routable + ' of ' + x.backends.length + ' routable';
}
function renderRoutes(r) {
  const blocks = [];
  for (const x of r.routes) {
    blocks.push(routeBlock(x.hosts.join(', ') + '  ' + x.path, 'HTTP · ' + policyText(x) + (x.redirectToHttps ? ' · redirects to https' : '') + (x.backendProtocol ? ' · ' + x.backendProtocol : ''),
      x.backends, [x.id, x.path, ...x.hosts, ...x.apps]));
  }
  for (const x of r.ports) {
    const listener = (r.listeners || []).find((l) => l.protocol === x.protocol && l.port === x.port);
    const listening = listener ? ' · listener ' + listener.state + (listener.error ? ': ' + listener.error : '') : '';
    blocks.push(routeBlock(x.protocol.toUpperCase() + ' port ' + x.port, policyText(x) + listening, x.backends, [x.id, x.protocol, String(x.port), ...x.apps]));
  }
  for (const x of r.tls) {
    blocks.push(routeBlock('TLS ' + x.hosts.join(', ') + ' → ' + (x.port === 'https' ? 'HTTPS entry point' : 'port ' + x.port), 'TLS passthrough · ' + policyText(x),
      x.backends, [x.id, 'tls', ...x.hosts, ...x.apps]));
  }
  byId('routes').replaceChildren(...(blocks.length > 0 ? blocks : [el('p', 'none', 'no routes')]));
  applyFilter();
  byId('disabled').replaceChildren(...(r.disabled.length > 0
    ? r.disabled.map((d) => el('li', '', el('strong', '', d.appId + ' port ' + d.portIndex), ': ', d.reason))
    : [el('li', 'none', 'none')]));
}
function applyFilter() {
  const words = byId('filter').value.trim().toLowerCase().split(' ').filter((w) => w);
  for (const block of byId('routes').querySelectorAll('.route')) block.hidden = !words.every((w) => block.dataset.search.includes(w));
}
function renderSwaps(swaps, now) {
  const list = (e) => (e.length > 0 ? e.join(', ') : '—');
  byId('swaps').replaceChildren(
    el('tr', '', ...['version', 'when', 'routes', 'backends', 'disabled', 'build', 'added', 'removed'].map((c) => el('th', '', c))),
    ...swaps.slice(0, 20).map((s) => el('tr', '', el('td', '', 'v' + s.version), el('td', '', new Date(s.at).toLocaleTimeString() + ' (' + since(s.at, now) + ')'),
      el('td', '', s.routes), el('td', '', s.backends), el('td', '', s.disabled), el('td', '', s.buildMs + ' ms'), el('td', '', list(s.added)), el('td', '', list(s.removed)))),
  );
  if (swaps.length === 0) byId('swaps').append(el('tr', '', el('td', 'none', 'no swaps yet')));
}

async function refresh() {
  try {
    const [health, routes, maintenance, swaps] = await Promise.all(['/health', '/routes', '/maintenance', '/swaps'].map(getJson));
    // Ages are measured on baton's clock, not the browser's: /routes says when it answered.
    const now = Date.parse(routes.builtAt) + routes.ageMs;
    renderOverview(health, routes, maintenance, now);
    renderRoutes(routes);
    renderSwaps(swaps.swaps, now);
    lastOkAt = Date.now();
    byId('banner').hidden = true;
    document.body.classList.remove('offline');
  } catch (err) {
    const banner = byId('banner');
    banner.textContent = 'The admin API is not answering (' + (err && err.message ? err.message : String(err)) + ')' +
      (lastOkAt ? '; what you see is from ' + age(Date.now() - lastOkAt) + ' ago.' : '.');
    banner.hidden = false;
    document.body.classList.add('offline');
  }
  byId('updated').textContent = lastOkAt ? 'last updated ' + new Date(lastOkAt).toLocaleTimeString() : 'not loaded yet';
  setTimeout(refresh, REFRESH_MS);
}

byId('filter').addEventListener('input', applyFilter);
refresh();
`;

export const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>baton status</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<header><h1>baton</h1><span id="status" class="badge">loading</span><span id="updated">not loaded yet</span></header>
<div id="banner" class="banner" role="alert" hidden></div>
<noscript><p class="banner">This page needs JavaScript. The same data is JSON at /health, /routes, /maintenance and /swaps.</p></noscript>
<main>
<section class="cards" id="overview"></section>
<h2>Routes</h2>
<input id="filter" type="search" placeholder="filter: host, app, task, address" aria-label="filter routes">
<section id="routes"></section>
<h2>Disabled routes</h2>
<ul id="disabled"></ul>
<h2>Recent table swaps</h2>
<table id="swaps"></table>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/**
 * Only the page's own inline script and style (by hash) run; fetches go to the admin API itself;
 * nothing else loads. `img-src data:` is the empty favicon, which keeps Chromium from asking for one.
 */
export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
