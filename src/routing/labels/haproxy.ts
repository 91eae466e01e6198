import {
  commaList,
  hostsSetting,
  isFalse,
  pathsSetting,
  portLabelsMatching,
  protocolSetting,
  spaceList,
  type Labels,
  type PortLabel,
  type PortReading,
} from './values.js';

/**
 * marathon-lb's labels: `HAPROXY_GROUP`, and per port n `HAPROXY_{n}_GROUP`, `_ENABLED`, `_MODE`,
 * `_VHOST`, `_PATH`. The others (`_BALANCE`, `_STICKY`, ...) are not read.
 */
export function haproxyPort(labels: Labels, n: number): PortReading {
  const group = labels[`HAPROXY_${n}_GROUP`] ?? labels.HAPROXY_GROUP;
  const enabled = labels[`HAPROXY_${n}_ENABLED`];
  const modeLabel = `HAPROXY_${n}_MODE`;
  const mode = labels[modeLabel];
  const vhostLabel = `HAPROXY_${n}_VHOST`;
  const vhost = labels[vhostLabel];
  const pathLabel = `HAPROXY_${n}_PATH`;
  const path = labels[pathLabel];
  return {
    realms: group === undefined ? undefined : commaList(group),
    excluded: enabled !== undefined && isFalse(enabled),
    protocol: mode === undefined ? undefined : protocolSetting(modeLabel, mode, ['http', 'tcp']),
    hosts: vhost === undefined ? undefined : hostsSetting(vhostLabel, vhost, commaList(vhost)),
    paths: path === undefined ? undefined : pathsSetting(pathLabel, path, spaceList(path)),
  };
}

/** Only the labels baton reads count: `HAPROXY_3_BALANCE` on a 1-port app is marathon-lb's business. */
const PORT_LABEL = /^HAPROXY_(\d+)_(?:MODE|VHOST|PATH)$/;

export function haproxyPortLabels(labels: Labels): PortLabel[] {
  return portLabelsMatching(labels, PORT_LABEL);
}
