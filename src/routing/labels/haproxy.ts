import { balanceSetting } from './balance.js';
import {
  booleanSetting,
  certificateSetting,
  commaList,
  hostsSetting,
  isFalse,
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
 * marathon-lb's labels: `HAPROXY_GROUP`, and per port n `HAPROXY_{n}_GROUP`, `_ENABLED`, `_MODE`,
 * `_VHOST`, `_PATH`, `_PORT`, `_SSL_CERT`, `_REDIRECT_TO_HTTPS`, `_USE_HSTS`, `_BALANCE`, `_STICKY`.
 * The others (templates, `_BIND_ADDR`, ...) are not read. `_BACKEND_WEIGHT` is not a traffic
 * weight: marathon-lb sorts the `use_backend` lines of apps sharing a host or path by it, which
 * baton's longest-path-first lookup does without it.
 */
export function haproxyPort(labels: Labels, n: number): PortReading {
  const group = labels[`HAPROXY_${n}_GROUP`] ?? labels.HAPROXY_GROUP;
  const enabled = labels[`HAPROXY_${n}_ENABLED`];
  const vhostLabel = `HAPROXY_${n}_VHOST`;
  const vhost = labels[vhostLabel];
  const pathLabel = `HAPROXY_${n}_PATH`;
  const path = labels[pathLabel];
  return {
    realms: group === undefined ? undefined : commaList(group),
    excluded: enabled !== undefined && isFalse(enabled),
    protocol: readSetting(labels, `HAPROXY_${n}_MODE`, (label, value) => protocolSetting(label, value, ['http', 'tcp'])),
    hosts: vhost === undefined ? undefined : hostsSetting(vhostLabel, vhost, commaList(vhost)),
    paths: path === undefined ? undefined : pathsSetting(pathLabel, path, spaceList(path)),
    port: readSetting(labels, `HAPROXY_${n}_PORT`, portSetting),
    certificate: readSetting(labels, `HAPROXY_${n}_SSL_CERT`, certificateSetting),
    redirectToHttps: readSetting(labels, `HAPROXY_${n}_REDIRECT_TO_HTTPS`, booleanSetting),
    hsts: readSetting(labels, `HAPROXY_${n}_USE_HSTS`, booleanSetting),
    balance: readSetting(labels, `HAPROXY_${n}_BALANCE`, balanceSetting),
    sticky: readSetting(labels, `HAPROXY_${n}_STICKY`, booleanSetting),
  };
}

/** Only the labels baton reads count: `HAPROXY_3_BIND_ADDR` on a 1-port app is marathon-lb's business. */
const PORT_LABEL = /^HAPROXY_(\d+)_(?:MODE|VHOST|PATH|PORT|SSL_CERT|REDIRECT_TO_HTTPS|USE_HSTS|BALANCE|STICKY)$/;

export function haproxyPortLabels(labels: Labels): PortLabel[] {
  return portLabelsMatching(labels, PORT_LABEL);
}
