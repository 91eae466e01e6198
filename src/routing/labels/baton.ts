import { balanceSetting, batonWeightSetting } from './balance.js';
import { batonBreaker, BREAKER_SUFFIXES } from './breaker.js';
import type { Dialects } from './dialects.js';
import { batonTimeouts, TIMEOUT_SUFFIXES } from './timeouts.js';
import {
  backendProtocolSetting,
  booleanSetting,
  certificateSetting,
  commaList,
  hostsSetting,
  pathsSetting,
  portLabelsMatching,
  portSetting,
  protocolSetting,
  readSetting,
  spaceList,
  type Labels,
  type PortLabel,
  type PortReading,
} from './values.js';

/**
 * baton's own labels: `BATON_REALM`, `BATON_WEIGHT` (the app's share of routes it shares), and
 * per port n `BATON_{n}_PROTOCOL`, `_VHOST`, `_PATH`, `_PORT`, `_SSL_CERT`, `_REDIRECT_TO_HTTPS`,
 * `_USE_HSTS`, `_BACKEND_PROTOCOL`, `_BALANCE`, `_STICKY`, `_BREAKER_*` and `_TIMEOUT_*`.
 */
export function batonPort(labels: Labels, n: number, dialects?: Pick<Dialects, 'batonBreaker' | 'batonTimeouts'>): PortReading {
  const realm = labels.BATON_REALM;
  const vhostLabel = `BATON_${n}_VHOST`;
  const vhost = labels[vhostLabel];
  const pathLabel = `BATON_${n}_PATH`;
  const path = labels[pathLabel];
  return {
    realms: realm === undefined ? undefined : commaList(realm),
    protocol: readSetting(labels, `BATON_${n}_PROTOCOL`, (label, value) => protocolSetting(label, value, ['http', 'tcp', 'udp', 'tls'])),
    hosts: vhost === undefined ? undefined : hostsSetting(vhostLabel, vhost, commaList(vhost)),
    paths: path === undefined ? undefined : pathsSetting(pathLabel, path, spaceList(path)),
    port: readSetting(labels, `BATON_${n}_PORT`, portSetting),
    certificate: readSetting(labels, `BATON_${n}_SSL_CERT`, certificateSetting),
    redirectToHttps: readSetting(labels, `BATON_${n}_REDIRECT_TO_HTTPS`, booleanSetting),
    hsts: readSetting(labels, `BATON_${n}_USE_HSTS`, booleanSetting),
    backendProtocol: readSetting(labels, `BATON_${n}_BACKEND_PROTOCOL`, backendProtocolSetting),
    balance: readSetting(labels, `BATON_${n}_BALANCE`, balanceSetting),
    sticky: readSetting(labels, `BATON_${n}_STICKY`, booleanSetting),
    weight: readSetting(labels, 'BATON_WEIGHT', batonWeightSetting),
    // Skipped when no label could set them (see dialects.ts).
    breaker: dialects?.batonBreaker === false ? undefined : batonBreaker(labels, n),
    timeouts: dialects?.batonTimeouts === false ? undefined : batonTimeouts(labels, n),
  };
}

const PORT_SUFFIXES = ['PROTOCOL', 'VHOST', 'PATH', 'PORT', 'SSL_CERT', 'REDIRECT_TO_HTTPS', 'USE_HSTS', 'BACKEND_PROTOCOL', 'BALANCE', 'STICKY', ...BREAKER_SUFFIXES, ...TIMEOUT_SUFFIXES];
const PORT_LABEL = new RegExp(`^BATON_(\\d+)_(?:${PORT_SUFFIXES.join('|')})$`);

export function batonPortLabels(labels: Labels): PortLabel[] {
  return portLabelsMatching(labels, PORT_LABEL);
}
