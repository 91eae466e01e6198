import { traefikMethodSetting, traefikWeightSetting } from './balance.js';
import { traefikBreakerSetting } from './breaker.js';
import {
  badLabel,
  booleanSetting,
  commaList,
  hostsSetting,
  isFalse,
  pathsSetting,
  portIndexOf,
  readSetting,
  type Labels,
  type PortLabel,
  type PortReading,
  type Setting,
} from './values.js';

const RULE = 'traefik.frontend.rule';
const PORT_INDEX = 'traefik.portIndex';
const RULE_EXPECTED = 'Host:a.example.com,b.example.com and/or PathPrefix:/x, joined by ;';
const METHOD = 'traefik.backend.loadbalancer.method';
/** `sticky` is traefik 1.x's older spelling of `stickiness`; the newer one wins. */
const STICKY_LABELS = ['traefik.backend.loadbalancer.stickiness', 'traefik.backend.loadbalancer.sticky'];
const WEIGHT = 'traefik.weight';
const BREAKER = 'traefik.backend.circuitbreaker.expression';
const BACKEND_LABELS = [METHOD, ...STICKY_LABELS, WEIGHT, BREAKER];

/**
 * traefik 1.x labels: `traefik.enable=false` switches the app off; `traefik.frontend.rule`
 * (`Host:` and `PathPrefix:` matchers, `PathPrefixStrip:` read as `PathPrefix:`) and the backend
 * labels (`traefik.backend.loadbalancer.method`, `.stickiness` / `.sticky`, `traefik.weight`,
 * `traefik.backend.circuitbreaker.expression`) apply to the port `traefik.portIndex` names
 * (default 0).
 */
export function traefikPort(labels: Labels, n: number): PortReading {
  const enable = labels['traefik.enable'];
  const excluded = enable !== undefined && isFalse(enable);
  const named = namedLabel(labels);
  if (named === undefined) return { excluded };
  const rule = labels[RULE];
  const target = targetPort(labels, named);
  if (target.error !== undefined) {
    // The labels' port is unknown: it would have been port 0 without the bad index.
    if (n !== 0) return { excluded };
    const bad = { label: target.label, error: target.error };
    return rule === undefined ? { excluded, balance: bad } : { excluded, hosts: bad, paths: bad };
  }
  if (target.value !== n) return { excluded };
  const stickyLabel = STICKY_LABELS.find((label) => labels[label] !== undefined);
  return {
    excluded,
    ...(rule !== undefined && parseRule(rule)),
    balance: readSetting(labels, METHOD, traefikMethodSetting),
    sticky: stickyLabel === undefined ? undefined : readSetting(labels, stickyLabel, booleanSetting),
    weight: readSetting(labels, WEIGHT, traefikWeightSetting),
    breaker: readSetting(labels, BREAKER, traefikBreakerSetting),
  };
}

export function traefikPortLabels(labels: Labels): PortLabel[] {
  const named = namedLabel(labels);
  if (named === undefined) return [];
  const target = targetPort(labels, named);
  if (target.error !== undefined) return [];
  return [{ index: target.value, label: target.label }];
}

/** The label that gives the app a traefik port to configure: the rule, else a backend label. */
function namedLabel(labels: Labels): string | undefined {
  return labels[RULE] !== undefined ? RULE : BACKEND_LABELS.find((label) => labels[label] !== undefined);
}

function targetPort(labels: Labels, named: string): Setting<number> {
  const value = labels[PORT_INDEX];
  if (value === undefined) return { label: named, value: 0 };
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
