import {
  commaList,
  hostsSetting,
  pathsSetting,
  portLabelsMatching,
  protocolSetting,
  spaceList,
  type Labels,
  type PortLabel,
  type PortReading,
} from './values.js';

/** baton's own labels: `BATON_REALM`, `BATON_{n}_PROTOCOL`, `BATON_{n}_VHOST`, `BATON_{n}_PATH`. */
export function batonPort(labels: Labels, n: number): PortReading {
  const realm = labels.BATON_REALM;
  const protocolLabel = `BATON_${n}_PROTOCOL`;
  const protocol = labels[protocolLabel];
  const vhostLabel = `BATON_${n}_VHOST`;
  const vhost = labels[vhostLabel];
  const pathLabel = `BATON_${n}_PATH`;
  const path = labels[pathLabel];
  return {
    realms: realm === undefined ? undefined : commaList(realm),
    protocol: protocol === undefined ? undefined : protocolSetting(protocolLabel, protocol, ['http', 'tcp', 'udp', 'tls']),
    hosts: vhost === undefined ? undefined : hostsSetting(vhostLabel, vhost, commaList(vhost)),
    paths: path === undefined ? undefined : pathsSetting(pathLabel, path, spaceList(path)),
  };
}

const PORT_LABEL = /^BATON_(\d+)_(?:PROTOCOL|VHOST|PATH)$/;

export function batonPortLabels(labels: Labels): PortLabel[] {
  return portLabelsMatching(labels, PORT_LABEL);
}
