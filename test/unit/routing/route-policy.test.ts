import { describe, expect, it } from 'vitest';
import { routeSpecs, type RouteSpec } from '../../../src/routing/route-spec.js';
import type { AppPort } from '../../../src/state/model.js';
import { appDef } from './fixtures.js';

const specsOf = (labels: Record<string, string>, ports: number | Array<Partial<AppPort>> = 1) => routeSpecs(appDef('/shop/web', { labels, ports }), {});

/** The one spec these labels give (none disabled). */
function only(labels: Record<string, string>, ports: number | Array<Partial<AppPort>> = 1): RouteSpec {
  const { specs, disabled } = specsOf(labels, ports);
  expect(disabled).toEqual([]);
  expect(specs).toHaveLength(1);
  return specs[0]!;
}

/** The reason that disables the only port. */
function reasonOf(labels: Record<string, string>): string {
  const { specs, disabled } = specsOf(labels);
  expect(specs).toEqual([]);
  expect(disabled).toHaveLength(1);
  return disabled[0]!.reason;
}

const policyOf = (labels: Record<string, string>, ports?: number | Array<Partial<AppPort>>) => only(labels, ports).policy;
const RULE = 'traefik.frontend.rule';

describe('balance labels', () => {
  it('defaults to roundrobin, not sticky, no breaker or timeout overrides', () => {
    expect(policyOf({})).toEqual({ balance: 'roundrobin', sticky: false });
  });

  it.each([
    ['roundrobin', 'roundrobin'],
    ['leastconn', 'leastconn'],
    ['p2c', 'p2c'],
    ['random', 'random'],
    ['source', 'source'],
    ['hash', 'source'],
    [' LeastConn ', 'leastconn'],
  ])('BATON_0_BALANCE=%j is %s', (value, balance) => {
    expect(policyOf({ BATON_0_BALANCE: value }).balance).toBe(balance);
  });

  it.each([
    ['roundrobin', 'roundrobin'],
    ['leastconn', 'leastconn'],
    ['source', 'source'],
    ['static-rr', 'roundrobin'],
    ['first', 'roundrobin'],
    ['random', 'random'],
  ])('HAPROXY_0_BALANCE=%j (marathon-lb) is %s', (value, balance) => {
    expect(policyOf({ HAPROXY_0_BALANCE: value }).balance).toBe(balance);
  });

  it.each([
    ['wrr', 'roundrobin'],
    ['drr', 'leastconn'],
    ['DRR', 'leastconn'],
  ])('traefik.backend.loadbalancer.method=%j is %s', (value, balance) => {
    expect(policyOf({ 'traefik.backend.loadbalancer.method': value }).balance).toBe(balance);
    expect(policyOf({ [RULE]: 'Host:a.com', 'traefik.backend.loadbalancer.method': value }).balance).toBe(balance);
  });

  it('precedence: baton, then marathon-lb, then traefik', () => {
    const all = { BATON_0_BALANCE: 'p2c', HAPROXY_0_BALANCE: 'source', 'traefik.backend.loadbalancer.method': 'drr' };
    expect(policyOf(all).balance).toBe('p2c');
    const { BATON_0_BALANCE: _b, ...noBaton } = all;
    expect(policyOf(noBaton).balance).toBe('source');
    const { HAPROXY_0_BALANCE: _h, ...traefikOnly } = noBaton;
    expect(policyOf(traefikOnly).balance).toBe('leastconn');
  });

  it('applies to tcp, udp and tls ports as well', () => {
    expect(policyOf({ BATON_0_PROTOCOL: 'tcp', BATON_0_BALANCE: 'source' }).balance).toBe('source');
    expect(policyOf({ BATON_0_PROTOCOL: 'udp', HAPROXY_0_BALANCE: 'leastconn' }).balance).toBe('leastconn');
    expect(policyOf({ BATON_0_PROTOCOL: 'tls', BATON_0_VHOST: 'v.com', BATON_0_BALANCE: 'random' }).balance).toBe('random');
  });

  it.each(['uri', 'hdr(host)', '', 'round robin'])('a bad value %j disables the port, in every dialect', (value) => {
    expect(reasonOf({ BATON_0_BALANCE: value })).toBe(
      `label BATON_0_BALANCE=${JSON.stringify(value)}: expected roundrobin, leastconn, p2c, random, source or hash (marathon-lb's static-rr and first are read as roundrobin)`,
    );
    expect(reasonOf({ HAPROXY_0_BALANCE: value })).toContain(`label HAPROXY_0_BALANCE=${JSON.stringify(value)}: expected roundrobin`);
    expect(reasonOf({ 'traefik.backend.loadbalancer.method': value })).toBe(
      `label traefik.backend.loadbalancer.method=${JSON.stringify(value)}: expected wrr or drr`,
    );
  });

  it('traefik speaks only its own names; a bad label under a good one of a higher dialect is not read', () => {
    expect(reasonOf({ 'traefik.backend.loadbalancer.method': 'leastconn' })).toContain('expected wrr or drr');
    expect(policyOf({ BATON_0_BALANCE: 'leastconn', HAPROXY_0_BALANCE: 'uri' }).balance).toBe('leastconn');
  });

  it('a bad balance disables only its port', () => {
    const { specs, disabled } = specsOf({ BATON_1_VHOST: 'one.com', BATON_1_BALANCE: 'fastest' }, 2);
    expect(specs.map((s) => s.portIndex)).toEqual([0]);
    expect(disabled).toEqual([{ appId: '/shop/web', portIndex: 1, reason: expect.stringContaining('label BATON_1_BALANCE="fastest"') }]);
  });

  it('a balance label for a port the app does not have is reported', () => {
    const { disabled } = specsOf({ HAPROXY_2_BALANCE: 'leastconn' });
    expect(disabled).toEqual([{ appId: '/shop/web', portIndex: 2, reason: expect.stringContaining('label HAPROXY_2_BALANCE="leastconn" names port 2') }]);
    expect(specsOf({ BATON_1_TIMEOUT_CONNECT: '1s' }).disabled[0]?.reason).toContain('label BATON_1_TIMEOUT_CONNECT="1s" names port 1');
  });
});

describe('sticky labels', () => {
  it.each([
    [{ BATON_0_STICKY: 'true' }, true],
    [{ BATON_0_STICKY: ' TRUE ' }, true],
    [{ HAPROXY_0_STICKY: 'true' }, true],
    [{ 'traefik.backend.loadbalancer.stickiness': 'true' }, true],
    [{ 'traefik.backend.loadbalancer.sticky': 'true' }, true],
    [{ BATON_0_STICKY: 'false', HAPROXY_0_STICKY: 'true' }, false],
    [{ HAPROXY_0_STICKY: 'false', 'traefik.backend.loadbalancer.stickiness': 'true' }, false],
    [{ 'traefik.backend.loadbalancer.stickiness': 'false', 'traefik.backend.loadbalancer.sticky': 'true' }, false],
  ])('%j: sticky %s', (labels, sticky) => {
    expect(policyOf(labels).sticky).toBe(sticky);
  });

  it('only http routes are sticky: a cookie means nothing to tcp, udp or tls passthrough', () => {
    expect(policyOf({ BATON_0_PROTOCOL: 'tcp', BATON_0_STICKY: 'true' }).sticky).toBe(false);
    expect(policyOf({ HAPROXY_0_MODE: 'tcp', HAPROXY_0_STICKY: 'true' }).sticky).toBe(false);
    expect(policyOf({ BATON_0_PROTOCOL: 'udp', BATON_0_STICKY: 'true' }).sticky).toBe(false);
    expect(policyOf({ BATON_0_PROTOCOL: 'tls', BATON_0_VHOST: 'v.com', BATON_0_STICKY: 'true' }).sticky).toBe(false);
  });

  it.each(['yes', '1', ''])('a bad value %j disables the port', (value) => {
    expect(reasonOf({ BATON_0_STICKY: value })).toBe(`label BATON_0_STICKY=${JSON.stringify(value)}: expected true or false`);
    expect(reasonOf({ HAPROXY_0_STICKY: value })).toBe(`label HAPROXY_0_STICKY=${JSON.stringify(value)}: expected true or false`);
    expect(reasonOf({ 'traefik.backend.loadbalancer.stickiness': value })).toContain('expected true or false');
  });
});

describe('weight labels', () => {
  it('default: weight 1 for the app, spread over its backends', () => {
    expect(only({}).weight).toEqual({ value: 1, perBackend: false });
  });

  it('BATON_WEIGHT is the app share on every port; traefik.weight is every backend own weight', () => {
    const { specs } = specsOf({ BATON_WEIGHT: '9', BATON_1_VHOST: 'one.com' }, 2);
    expect(specs.map((s) => s.weight)).toEqual([
      { value: 9, perBackend: false },
      { value: 9, perBackend: false },
    ]);
    expect(only({ 'traefik.weight': '5' }).weight).toEqual({ value: 5, perBackend: true });
    expect(only({ BATON_WEIGHT: '0' }).weight).toEqual({ value: 0, perBackend: false });
  });

  it('traefik reads weight 0 as its default weight 1', () => {
    expect(only({ 'traefik.weight': '0' }).weight).toEqual({ value: 1, perBackend: true });
  });

  it('BATON_WEIGHT wins over traefik.weight', () => {
    expect(only({ BATON_WEIGHT: '3', 'traefik.weight': '5' }).weight).toEqual({ value: 3, perBackend: false });
  });

  it('a bad BATON_WEIGHT is reported on the ports baton serves only', () => {
    expect(specsOf({ BATON_WEIGHT: 'x' }, 3).disabled.map((d) => d.portIndex)).toEqual([0]);
  });

  it('HAPROXY_n_BACKEND_WEIGHT is not a traffic weight (marathon-lb orders its ACLs by it) and is not read', () => {
    expect(only({ HAPROXY_0_BACKEND_WEIGHT: '5' }).weight).toEqual({ value: 1, perBackend: false });
    expect(only({ HAPROXY_0_BACKEND_WEIGHT: 'bad' }).weight).toEqual({ value: 1, perBackend: false });
  });

  it.each(['-1', '1.5', 'heavy', '10001', ''])('a bad weight %j disables every port it applies to', (value) => {
    const { specs, disabled } = specsOf({ BATON_WEIGHT: value, BATON_1_VHOST: 'one.com' }, 2);
    expect(specs).toEqual([]);
    const reason = `label BATON_WEIGHT=${JSON.stringify(value)}: expected an integer from 0 to 10000`;
    expect(disabled).toEqual([
      { appId: '/shop/web', portIndex: 0, reason },
      { appId: '/shop/web', portIndex: 1, reason },
    ]);
    expect(reasonOf({ 'traefik.weight': value })).toBe(`label traefik.weight=${JSON.stringify(value)}: expected an integer from 0 to 10000`);
  });
});

describe('traefik backend labels follow traefik.portIndex', () => {
  it('apply to the port traefik.portIndex names, not to the others', () => {
    const labels = { BATON_1_VHOST: 'one.com', 'traefik.portIndex': '1', 'traefik.backend.loadbalancer.method': 'drr', 'traefik.weight': '4' };
    const { specs } = specsOf(labels, 2);
    expect(specs.map((s) => [s.portIndex, s.policy.balance, s.weight.value])).toEqual([
      [0, 'roundrobin', 1],
      [1, 'leastconn', 4],
    ]);
  });

  it('with a bad traefik.portIndex, port 0 is disabled as for the rule', () => {
    expect(reasonOf({ 'traefik.portIndex': 'one', 'traefik.backend.loadbalancer.method': 'drr' })).toContain('traefik.portIndex="one"');
  });

  it('naming a port the app does not have is reported', () => {
    const { specs, disabled } = specsOf({ 'traefik.portIndex': '3', 'traefik.backend.loadbalancer.method': 'drr' });
    expect(specs.map((s) => s.policy.balance)).toEqual(['roundrobin']);
    expect(disabled).toEqual([{ appId: '/shop/web', portIndex: 3, reason: expect.stringContaining('traefik.portIndex="3" names port 3') }]);
  });
});

describe('breaker labels', () => {
  it('BATON_n_BREAKER_* set the fields they name; the others come from the config', () => {
    const labels = { BATON_0_BREAKER_ERROR_PERCENT: '25', BATON_0_BREAKER_VOLUME: '40', BATON_0_BREAKER_RESET_MS: '15000', BATON_0_BREAKER_5XX: 'true' };
    expect(policyOf(labels).breaker).toEqual({ errorThresholdPercentage: 25, volumeThreshold: 40, resetTimeoutMs: 15_000, failOn5xx: true });
    expect(policyOf({ BATON_0_BREAKER_VOLUME: '5' }).breaker).toEqual({ volumeThreshold: 5 });
    expect(policyOf({ BATON_0_BREAKER_ERROR_PERCENT: '12.5', BATON_0_BREAKER_RESET_MS: '30s' }).breaker).toEqual({
      errorThresholdPercentage: 12.5,
      resetTimeoutMs: 30_000,
    });
  });

  it.each([
    ['BATON_0_BREAKER_ERROR_PERCENT', '0', 'a percentage from 1 to 100'],
    ['BATON_0_BREAKER_ERROR_PERCENT', '101', 'a percentage from 1 to 100'],
    ['BATON_0_BREAKER_ERROR_PERCENT', '50%', 'a percentage from 1 to 100'],
    ['BATON_0_BREAKER_VOLUME', '0', 'a whole number of requests, at least 1'],
    ['BATON_0_BREAKER_VOLUME', '2.5', 'a whole number of requests, at least 1'],
    ['BATON_0_BREAKER_RESET_MS', '0', 'milliseconds'],
    ['BATON_0_BREAKER_5XX', 'yes', 'true or false'],
  ])('%s=%j disables the port', (label, value, expected) => {
    expect(reasonOf({ [label]: value })).toContain(`label ${label}=${JSON.stringify(value)}: expected ${expected}`);
  });

  it('every bad breaker label is in the one reason', () => {
    const reason = reasonOf({ BATON_0_BREAKER_VOLUME: 'x', BATON_0_BREAKER_5XX: 'x', BATON_0_BREAKER_RESET_MS: '1000' });
    expect(reason).toContain('BATON_0_BREAKER_VOLUME');
    expect(reason).toContain('BATON_0_BREAKER_5XX');
    expect(reason).not.toContain('BATON_0_BREAKER_RESET_MS');
  });

  const EXPRESSION = 'traefik.backend.circuitbreaker.expression';

  it.each([
    ['NetworkErrorRatio() > 0.5', { errorThresholdPercentage: 50, failOn5xx: false }],
    ['NetworkErrorRatio()>=0.25', { errorThresholdPercentage: 25, failOn5xx: false }],
    ['ResponseCodeRatio(500, 600, 0, 600) > 0.5', { errorThresholdPercentage: 50, responseCodeRatio: [500, 600, 0, 600], failOn5xx: true }],
    ['ResponseCodeRatio(502, 505, 0, 600) > 0.3', { errorThresholdPercentage: 30, responseCodeRatio: [502, 505, 0, 600], failOn5xx: false }],
    [
      'NetworkErrorRatio() > 0.5 || ResponseCodeRatio(500, 600, 0, 600) > 0.3',
      { errorThresholdPercentage: 30, responseCodeRatio: [500, 600, 0, 600], failOn5xx: true },
    ],
    ['NetworkErrorRatio() > 0.2 || NetworkErrorRatio() > 0.4', { errorThresholdPercentage: 20, failOn5xx: false }],
    ['NetworkErrorRatio() > 1', { errorThresholdPercentage: 100, failOn5xx: false }],
    ['NetworkErrorRatio() > .05', { errorThresholdPercentage: 5, failOn5xx: false }],
  ])('traefik expression %j', (expression, breaker) => {
    expect(policyOf({ [EXPRESSION]: expression }).breaker).toEqual(breaker);
  });

  it.each([
    'LatencyAtQuantileMS(50.0) > 50',
    'NetworkErrorRatio() > 0.5 && ResponseCodeRatio(500, 600, 0, 600) > 0.5',
    '(NetworkErrorRatio() > 0.5)',
    'NetworkErrorRatio() < 0.5',
    'NetworkErrorRatio() > 0',
    'NetworkErrorRatio() > 1.5',
    'ResponseCodeRatio(600, 500, 0, 600) > 0.5',
    'ResponseCodeRatio(500, 600) > 0.5',
    'ResponseCodeRatio(500, 600, 0, 600) > 0.5 || ResponseCodeRatio(400, 500, 0, 600) > 0.5',
    'NetworkErrorRatio() > 0.5 ||',
    '',
  ])('an expression baton cannot honour (%j) disables the port', (expression) => {
    expect(reasonOf({ [EXPRESSION]: expression })).toContain(`label ${EXPRESSION}=${JSON.stringify(expression)}: expected NetworkErrorRatio() > X`);
  });

  it('baton breaker labels replace traefik expression as a whole, even a bad one', () => {
    expect(policyOf({ BATON_0_BREAKER_VOLUME: '7', [EXPRESSION]: 'NetworkErrorRatio() > 0.5' }).breaker).toEqual({ volumeThreshold: 7 });
    expect(policyOf({ BATON_0_BREAKER_VOLUME: '7', [EXPRESSION]: 'LatencyAtQuantileMS(50.0) > 50' }).breaker).toEqual({ volumeThreshold: 7 });
  });

  it('apply to tcp routes too', () => {
    expect(policyOf({ BATON_0_PROTOCOL: 'tcp', BATON_0_BREAKER_ERROR_PERCENT: '10' }).breaker).toEqual({ errorThresholdPercentage: 10 });
  });
});

describe('timeout labels', () => {
  it('each BATON_n_TIMEOUT_* sets its field, in milliseconds', () => {
    const labels = {
      BATON_0_TIMEOUT_CONNECT: '3000',
      BATON_0_TIMEOUT_HEADERS: '30s',
      BATON_0_TIMEOUT_BODY: '1.5m',
      BATON_0_TIMEOUT_TOTAL: '2m',
      BATON_0_TIMEOUT_TUNNEL: '1h',
    };
    expect(policyOf(labels).timeouts).toEqual({ connectMs: 3000, headersMs: 30_000, bodyMs: 90_000, totalMs: 120_000, tunnelIdleMs: 3_600_000 });
    expect(policyOf({ BATON_0_TIMEOUT_CONNECT: ' 250ms ' }).timeouts).toEqual({ connectMs: 250 });
    expect(policyOf({ BATON_0_TIMEOUT_TUNNEL: '596h' }).timeouts).toEqual({ tunnelIdleMs: 596 * 3_600_000 });
    expect(policyOf({ BATON_0_TIMEOUT_TOTAL: '10 S' }).timeouts).toEqual({ totalMs: 10_000 });
  });

  it.each(['0', '0s', '1.5', '-5s', '5 seconds', '1d', '597h', '', 's'])('a bad duration %j disables the port', (value) => {
    expect(reasonOf({ BATON_0_TIMEOUT_CONNECT: value })).toBe(
      `label BATON_0_TIMEOUT_CONNECT=${JSON.stringify(value)}: expected milliseconds, or a number with a unit ms, s, m or h (5000, 30s, 1.5m, 1h), from 1 ms to 596 h`,
    );
  });

  it('every bad timeout label is in the one reason', () => {
    const reason = reasonOf({ BATON_0_TIMEOUT_CONNECT: 'soon', BATON_0_TIMEOUT_TOTAL: 'later', BATON_0_TIMEOUT_BODY: '5s' });
    expect(reason).toContain('BATON_0_TIMEOUT_CONNECT="soon"');
    expect(reason).toContain('BATON_0_TIMEOUT_TOTAL="later"');
  });
});
