import { badLabel, commaList, isHostName, protocolSetting, spaceList, type Labels, type PortLabel, type PortReading, type Setting } from './values.js';

/**
 * nixy's labels: `NIXY_REALM`, `NIXY_PROTOCOL` (app-wide) and `subdomain` (port 0 only): each
 * space-separated name S serves `S` and `S.*`.
 */
export function nixyPort(labels: Labels, n: number): PortReading {
  const realm = labels.NIXY_REALM;
  const protocol = labels.NIXY_PROTOCOL;
  const subdomain = n === 0 ? labels.subdomain : undefined;
  return {
    realms: realm === undefined ? undefined : commaList(realm),
    protocol: protocol === undefined ? undefined : protocolSetting('NIXY_PROTOCOL', protocol, ['http', 'tcp', 'udp']),
    hosts: subdomain === undefined ? undefined : subdomainHosts(subdomain),
  };
}

function subdomainHosts(value: string): Setting<readonly string[]> {
  const names = [...new Set(spaceList(value.toLowerCase()))];
  if (names.length === 0 || !names.every(isHostName)) {
    return { label: 'subdomain', error: badLabel('subdomain', value, 'space-separated host names like shop or api.shop') };
  }
  return { label: 'subdomain', value: names.flatMap((s) => [s, `${s}.*`]) };
}

export function nixyPortLabels(labels: Labels): PortLabel[] {
  return labels.subdomain === undefined ? [] : [{ index: 0, label: 'subdomain' }];
}
