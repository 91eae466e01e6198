import type { AppDef } from '../state/model.js';
import type { DisabledRoute } from './types.js';
import { batonPort, batonPortLabels } from './labels/baton.js';
import { haproxyPort, haproxyPortLabels } from './labels/haproxy.js';
import { nixyPort, nixyPortLabels } from './labels/nixy.js';
import { traefikPort, traefikPortLabels } from './labels/traefik.js';
import { isHostName, type PortLabel, type Protocol } from './labels/values.js';

export type { Protocol } from './labels/values.js';

/** What one app port asks for, whatever label dialect said it. */
export interface RouteSpec {
  readonly appId: string;
  readonly portIndex: number;
  readonly protocol: Protocol;
  /** Lower-case host patterns; empty for a non-http port without host labels. */
  readonly hosts: readonly string[];
  /** Path prefixes; `/` for an http port without path labels, empty for other protocols. */
  readonly paths: readonly string[];
}

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
  for (const [n, port] of app.ports.entries()) {
    const result = portSpec(app, n, port.protocol, opts);
    if (result === undefined) continue;
    if ('reason' in result) disabled.push(result);
    else specs.push(result);
  }
  for (const missing of missingPorts(app)) {
    const reading = readPort(app, missing.index);
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

/** The dialects merged for port n, first dialect to set a field wins. */
function readPort(app: AppDef, n: number) {
  const labels = app.labels;
  const baton = batonPort(labels, n);
  const haproxy = haproxyPort(labels, n);
  const nixy = nixyPort(labels, n);
  const traefik = traefikPort(labels, n);
  return {
    excluded: haproxy.excluded === true || traefik.excluded === true,
    realms: baton.realms ?? nixy.realms ?? haproxy.realms,
    protocol: baton.protocol ?? nixy.protocol ?? haproxy.protocol,
    /** A per-port protocol label: it makes a port n > 0 a route on its own. */
    portProtocol: baton.protocol ?? haproxy.protocol,
    hosts: baton.hosts ?? haproxy.hosts ?? nixy.hosts ?? traefik.hosts,
    paths: baton.paths ?? haproxy.paths ?? traefik.paths,
  };
}

function portSpec(app: AppDef, n: number, portProtocol: string, opts: RouteSpecOptions): RouteSpec | DisabledRoute | undefined {
  const reading = readPort(app, n);
  // Excluded or in another realm: another balancer's business, so silently not served.
  if (reading.excluded || !inRealm(reading.realms, opts.realm)) return undefined;
  const errors = [reading.protocol?.error, reading.hosts?.error, reading.paths?.error].filter((e) => e !== undefined);
  if (errors.length > 0) return { appId: app.id, portIndex: n, reason: errors.join('; ') };
  const labelled = reading.hosts !== undefined || reading.paths !== undefined || reading.portProtocol !== undefined;
  if (n > 0 && !labelled) return undefined;

  const protocol = reading.protocol?.value ?? (portProtocol.trim().toLowerCase() === 'udp' ? 'udp' : 'http');
  if (protocol !== 'http') {
    return { appId: app.id, portIndex: n, protocol, hosts: reading.hosts?.value ?? [], paths: reading.paths?.value ?? [] };
  }
  let hosts = reading.hosts?.value;
  if (hosts === undefined) {
    hosts = defaultHosts(app.id, opts.domain);
    if (hosts === undefined) {
      return { appId: app.id, portIndex: n, reason: `app id ${JSON.stringify(app.id)} gives no valid default host: expected a host label such as BATON_${n}_VHOST` };
    }
  }
  return { appId: app.id, portIndex: n, protocol, hosts, paths: reading.paths?.value ?? ['/'] };
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
function missingPorts(app: AppDef): PortLabel[] {
  const labels = app.labels;
  const byIndex = new Map<number, PortLabel>();
  const all = [...batonPortLabels(labels), ...haproxyPortLabels(labels), ...nixyPortLabels(labels), ...traefikPortLabels(labels)];
  for (const found of all) {
    if (found.index < app.ports.length) continue;
    const seen = byIndex.get(found.index);
    if (seen === undefined || found.label < seen.label) byIndex.set(found.index, found);
  }
  return [...byIndex.values()].sort((a, b) => a.index - b.index);
}
