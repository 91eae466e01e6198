import type { AppDef, AppPort } from '../state/model.js';
import type { BackendPolicy, DisabledRoute } from './types.js';
import { DEFAULT_WEIGHT, type AppWeight } from './labels/balance.js';
import { batonPort, batonPortLabels } from './labels/baton.js';
import { dialectsOf, type Dialects } from './labels/dialects.js';
import { haproxyPort, haproxyPortLabels } from './labels/haproxy.js';
import { nixyPort, nixyPortLabels } from './labels/nixy.js';
import { traefikPort, traefikPortLabels } from './labels/traefik.js';
import { isHostName, type BackendProtocol, type PortLabel, type PortReading } from './labels/values.js';

export type { BackendProtocol, Protocol } from './labels/values.js';

export type { AppWeight } from './labels/balance.js';

interface SpecBase {
  readonly appId: string;
  readonly portIndex: number;
  /** `BATON_{n}_SSL_CERT` / `HAPROXY_{n}_SSL_CERT`, whatever the protocol. */
  readonly certificate?: string;
  /** Balancing, stickiness (HTTP only), breaker and timeout overrides; frozen. */
  readonly policy: BackendPolicy;
  /** The app's weight on routes it shares: `BATON_WEIGHT`, `traefik.weight`, else 1 for the app. */
  readonly weight: AppWeight;
}

export interface HttpSpec extends SpecBase {
  readonly protocol: 'http';
  /** Lower-case host patterns: the labels' or the app's default hosts. */
  readonly hosts: readonly string[];
  /** Path prefixes; `/` without path labels. */
  readonly paths: readonly string[];
  readonly redirectToHttps: boolean;
  readonly hsts: boolean;
  readonly backendProtocol: BackendProtocol;
}

export interface PortSpec extends SpecBase {
  readonly protocol: 'tcp' | 'udp';
  /** The port label's, else the app port's service port. */
  readonly port: number;
}

export interface TlsSpec extends SpecBase {
  readonly protocol: 'tls';
  /** Lower-case host patterns from host labels (never defaults). */
  readonly hosts: readonly string[];
  /** Own listening port from a port label; absent = the HTTPS entry point. */
  readonly port?: number;
}

/** What one app port asks for, whatever label dialect said it. */
export type RouteSpec = HttpSpec | PortSpec | TlsSpec;

export interface RouteSpecOptions {
  /** Serve only ports of this realm (`BATON_REALM`, `NIXY_REALM`, `HAPROXY_GROUP`...). */
  readonly realm?: string;
  /** Default hosts also get `<reversed id>.<domain>`. */
  readonly domain?: string;
}

export interface AppSpecs {
  readonly specs: RouteSpec[];
  readonly disabled: DisabledRoute[];
}

/**
 * The routes one app asks for. Per port, baton's labels win, then what apps already carry for
 * nixy, marathon-lb and traefik, so an app moves over without relabelling. A bad label disables
 * only its own port.
 */
export function routeSpecs(app: AppDef, opts: RouteSpecOptions): AppSpecs {
  const specs: RouteSpec[] = [];
  const disabled: DisabledRoute[] = [];
  const dialects = dialectsOf(app.labels);
  for (let n = 0; n < app.ports.length; n++) {
    const result = portSpec(app, n, app.ports[n]!, opts, dialects);
    if (result === undefined) continue;
    if ('reason' in result) disabled.push(result);
    else specs.push(result);
  }
  for (const missing of missingPorts(app, dialects)) {
    const reading = readPort(app, missing.index, dialects);
    if (!reading.excluded && inRealm(reading.realms, opts.realm)) {
      const count = app.ports.length;
      disabled.push({
        appId: app.id,
        portIndex: missing.index,
        reason: `label ${missing.label}=${JSON.stringify(app.labels[missing.label])} names port ${missing.index}, but the app has ${count} port${count === 1 ? '' : 's'}: expected a port index below ${count}`,
      });
    }
  }
  return { specs, disabled };
}

/** What a dialect the app has no label of says about any port. */
const NOTHING: PortReading = Object.freeze({});

/** The dialects merged for port n, first dialect to set a field wins. */
function readPort(app: AppDef, n: number, dialects: Dialects) {
  const labels = app.labels;
  const baton = dialects.baton ? batonPort(labels, n, dialects) : NOTHING;
  const haproxy = dialects.haproxy ? haproxyPort(labels, n) : NOTHING;
  const nixy = dialects.nixy ? nixyPort(labels, n) : NOTHING;
  const traefik = dialects.traefik ? traefikPort(labels, n) : NOTHING;
  return {
    excluded: haproxy.excluded === true || traefik.excluded === true,
    realms: baton.realms ?? nixy.realms ?? haproxy.realms,
    protocol: baton.protocol ?? nixy.protocol ?? haproxy.protocol,
    /** A per-port protocol label: it makes a port n > 0 a route on its own. */
    portProtocol: baton.protocol ?? haproxy.protocol,
    hosts: baton.hosts ?? haproxy.hosts ?? nixy.hosts ?? traefik.hosts,
    paths: baton.paths ?? haproxy.paths ?? traefik.paths,
    port: baton.port ?? haproxy.port,
    certificate: baton.certificate ?? haproxy.certificate,
    redirectToHttps: baton.redirectToHttps ?? haproxy.redirectToHttps,
    hsts: baton.hsts ?? haproxy.hsts,
    backendProtocol: baton.backendProtocol,
    balance: baton.balance ?? haproxy.balance ?? traefik.balance,
    sticky: baton.sticky ?? haproxy.sticky ?? traefik.sticky,
    // marathon-lb has no traffic weight (see labels/haproxy.ts).
    weight: baton.weight ?? traefik.weight,
    breaker: baton.breaker ?? traefik.breaker,
    timeouts: baton.timeouts,
  };
}

type Reading = ReturnType<typeof readPort>;

/** The reasons of the port's bad settings, joined; undefined when none is bad. */
function settingErrors(reading: Reading, weight: Reading['weight']): string | undefined {
  let errors: string | undefined;
  // In this order: the reason lists them so.
  for (const setting of [
    reading.protocol,
    reading.hosts,
    reading.paths,
    reading.port,
    reading.certificate,
    reading.redirectToHttps,
    reading.hsts,
    reading.backendProtocol,
    reading.balance,
    reading.sticky,
    weight,
    reading.breaker,
    reading.timeouts,
  ]) {
    const error = setting?.error;
    if (error !== undefined) errors = errors === undefined ? error : `${errors}; ${error}`;
  }
  return errors;
}

function portSpec(app: AppDef, n: number, appPort: AppPort, opts: RouteSpecOptions, dialects: Dialects): RouteSpec | DisabledRoute | undefined {
  const reading = readPort(app, n, dialects);
  // Excluded or in another realm: another balancer's business, so silently not served.
  if (reading.excluded || !inRealm(reading.realms, opts.realm)) return undefined;
  const labelled = reading.hosts !== undefined || reading.paths !== undefined || reading.portProtocol !== undefined;
  // BATON_WEIGHT is app-wide: a bad one is reported on the ports baton serves, not on every port.
  const weight = n > 0 && !labelled && reading.weight?.label === 'BATON_WEIGHT' ? undefined : reading.weight;
  const errors = settingErrors(reading, weight);
  if (errors !== undefined) return { appId: app.id, portIndex: n, reason: errors };
  if (n > 0 && !labelled) return undefined;

  const protocol = reading.protocol?.value ?? (appPort.protocol.trim().toLowerCase() === 'udp' ? 'udp' : 'http');
  const certificate = reading.certificate?.value;
  const policy = portPolicy(reading, protocol === 'http');
  const appWeight = weight?.value ?? DEFAULT_WEIGHT;
  if (protocol === 'tcp' || protocol === 'udp') {
    // Host and path labels mean nothing to a whole port; marathon-lb ignored them too.
    const port = reading.port?.value ?? validServicePort(appPort.servicePort);
    if (port === undefined) {
      return { appId: app.id, portIndex: n, reason: `no service port: expected a servicePort on app port ${n} or a BATON_${n}_PORT label` };
    }
    const spec: PortSpec = { appId: app.id, portIndex: n, policy, weight: appWeight, protocol, port };
    return certificate === undefined ? spec : { ...spec, certificate };
  }
  if (protocol === 'tls') {
    const hosts = reading.hosts?.value;
    if (hosts === undefined) return { appId: app.id, portIndex: n, reason: `tls passthrough needs a host: set BATON_${n}_VHOST` };
    const spec: TlsSpec = { appId: app.id, portIndex: n, policy, weight: appWeight, protocol, hosts };
    return reading.port === undefined && certificate === undefined
      ? spec
      : { ...spec, ...(certificate !== undefined && { certificate }), ...(reading.port !== undefined && { port: reading.port.value }) };
  }
  let hosts = reading.hosts?.value;
  if (hosts === undefined) {
    hosts = defaultHosts(app.id, opts.domain);
    if (hosts === undefined) {
      return { appId: app.id, portIndex: n, reason: `app id ${JSON.stringify(app.id)} gives no valid default host: expected a host label such as BATON_${n}_VHOST` };
    }
  }
  // A port label on an http port is left unread: http routes live on the HTTP entry points.
  const spec: HttpSpec = {
    appId: app.id,
    portIndex: n,
    policy,
    weight: appWeight,
    protocol,
    hosts,
    paths: reading.paths?.value ?? ROOT_PATH,
    redirectToHttps: reading.redirectToHttps?.value ?? false,
    hsts: reading.hsts?.value ?? false,
    backendProtocol: reading.backendProtocol?.value ?? 'http1',
  };
  return certificate === undefined ? spec : { ...spec, certificate };
}

const ROOT_PATH: readonly string[] = Object.freeze(['/']);

/** The policies of ports without a balance, sticky, breaker or timeout label: one object each, shared. */
const DEFAULT_POLICY: BackendPolicy = Object.freeze({ balance: 'roundrobin', sticky: false });

/**
 * The port's backend policy. Stickiness is a cookie, so only HTTP routes can keep it; on a tcp,
 * udp or tls port a sticky label has no effect (`BATON_{n}_BALANCE=source` keeps clients there).
 */
function portPolicy(reading: Reading, http: boolean): BackendPolicy {
  const breaker = reading.breaker?.value;
  const timeouts = reading.timeouts?.value;
  const balance = reading.balance?.value ?? 'roundrobin';
  const sticky = http && reading.sticky?.value === true;
  if (balance === 'roundrobin' && !sticky && breaker === undefined && timeouts === undefined) return DEFAULT_POLICY;
  return Object.freeze({
    balance,
    sticky,
    ...(breaker !== undefined && { breaker }),
    ...(timeouts !== undefined && { timeouts }),
  });
}

function validServicePort(port: number | undefined): number | undefined {
  return port !== undefined && Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined;
}

/** `/shop/web` -> `web.shop` (and `web.shop.<domain>`), nixy's default. */
function defaultHosts(appId: string, domain: string | undefined): string[] | undefined {
  const host = appId.toLowerCase().split('/').filter((s) => s.length > 0).reverse().join('.');
  if (!isHostName(host)) return undefined;
  return domain === undefined || domain === '' ? [host] : [host, `${host}.${domain.toLowerCase()}`];
}

/** Without a configured realm everything is served; with one, only ports that name it (or `*`). */
function inRealm(realms: readonly string[] | undefined, realm: string | undefined): boolean {
  if (!realm) return true;
  return realms !== undefined && (realms.includes(realm) || realms.includes('*'));
}

/** Per-port labels naming ports the app does not have, one (the first by name) per port. */
function missingPorts(app: AppDef, dialects: Dialects): PortLabel[] {
  const labels = app.labels;
  const byIndex = new Map<number, PortLabel>();
  const all = [
    ...(dialects.baton ? batonPortLabels(labels) : []),
    ...(dialects.haproxy ? haproxyPortLabels(labels) : []),
    ...(dialects.nixy ? nixyPortLabels(labels) : []),
    ...(dialects.traefik ? traefikPortLabels(labels) : []),
  ];
  if (all.length === 0) return [];
  for (const found of all) {
    if (found.index < app.ports.length) continue;
    const seen = byIndex.get(found.index);
    if (seen === undefined || found.label < seen.label) byIndex.set(found.index, found);
  }
  return [...byIndex.values()].sort((a, b) => a.index - b.index);
}
