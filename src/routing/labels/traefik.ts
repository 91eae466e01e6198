import {
  badLabel,
  commaList,
  hostsSetting,
  isFalse,
  pathsSetting,
  portIndexOf,
  type Labels,
  type PortLabel,
  type PortReading,
  type Setting,
} from './values.js';

const RULE = 'traefik.frontend.rule';
const PORT_INDEX = 'traefik.portIndex';
const RULE_EXPECTED = 'Host:a.example.com,b.example.com and/or PathPrefix:/x, joined by ;';

/**
 * traefik 1.x labels: `traefik.enable=false` switches the app off; `traefik.frontend.rule`
 * (`Host:` and `PathPrefix:` matchers, `PathPrefixStrip:` read as `PathPrefix:`) applies to the
 * port `traefik.portIndex` names (default 0).
 */
export function traefikPort(labels: Labels, n: number): PortReading {
  const enable = labels['traefik.enable'];
  const excluded = enable !== undefined && isFalse(enable);
  const rule = labels[RULE];
  if (rule === undefined) return { excluded };
  const target = rulePort(labels);
  if (target.error !== undefined) {
    // The rule's port is unknown: it would have been port 0 without the bad index.
    return n === 0 ? { excluded, hosts: target, paths: target } : { excluded };
  }
  if (target.value !== n) return { excluded };
  return { excluded, ...parseRule(rule) };
}

export function traefikPortLabels(labels: Labels): PortLabel[] {
  if (labels[RULE] === undefined) return [];
  const target = rulePort(labels);
  if (target.error !== undefined) return [];
  return [{ index: target.value, label: target.label }];
}

function rulePort(labels: Labels): Setting<number> {
  const value = labels[PORT_INDEX];
  if (value === undefined) return { label: RULE, value: 0 };
  const index = portIndexOf(value.trim());
  if (index === undefined) return { label: PORT_INDEX, error: badLabel(PORT_INDEX, value, 'a port index: 0, 1, ...') };
  return { label: PORT_INDEX, value: index };
}

type RuleReading = Pick<PortReading, 'hosts' | 'paths'>;

function parseRule(rule: string): RuleReading {
  const fail = (expected: string): RuleReading => {
    const error = { label: RULE, error: badLabel(RULE, rule, expected) };
    return { hosts: error, paths: error };
  };
  let hosts: string[] | undefined;
  let paths: string[] | undefined;
  for (const part of rule.split(';')) {
    if (part.trim() === '') continue;
    const colon = part.indexOf(':');
    if (colon < 0) return fail(RULE_EXPECTED);
    const name = part.slice(0, colon).trim();
    const values = commaList(part.slice(colon + 1));
    switch (name.toLowerCase()) {
      case 'host':
        if (hosts !== undefined) return fail(`${RULE_EXPECTED} (one Host matcher)`);
        hosts = values;
        break;
      case 'pathprefix':
      case 'pathprefixstrip':
        if (paths !== undefined) return fail(`${RULE_EXPECTED} (one PathPrefix matcher)`);
        paths = values;
        break;
      default:
        return fail(`${RULE_EXPECTED} (${name} is not supported)`);
    }
  }
  if (hosts === undefined && paths === undefined) return fail(RULE_EXPECTED);
  return {
    hosts: hosts === undefined ? undefined : hostsSetting(RULE, rule, hosts),
    paths: paths === undefined ? undefined : pathsSetting(RULE, rule, paths),
  };
}
