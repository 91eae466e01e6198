import { describe, expect, it } from 'vitest';
import { routeSpecs, type AppSpecs, type HttpSpec } from '../../../src/routing/route-spec.js';
import { appDef, DEFAULT_SPEC_POLICY } from './fixtures.js';

const specsOf = (labels: Record<string, string>, opts: { realm?: string; domain?: string } = {}, ports = 1) =>
  routeSpecs(appDef('/shop/web', { labels, ports }), opts);

/** The first spec, which these tests expect to be an http one. */
function httpOf(result: AppSpecs): HttpSpec | undefined {
  const spec = result.specs[0];
  if (spec !== undefined && spec.protocol !== 'http') throw new Error(`expected an http spec, got ${spec.protocol}`);
  return spec;
}

/** An http spec with the defaults for the options no label set. */
const http = (spec: Pick<HttpSpec, 'appId' | 'portIndex' | 'hosts' | 'paths'> & Partial<HttpSpec>): HttpSpec => ({
  protocol: 'http',
  redirectToHttps: false,
  hsts: false,
  backendProtocol: 'http1',
  ...DEFAULT_SPEC_POLICY,
  ...spec,
});

describe('routeSpecs: baton labels', () => {
  it('reads hosts (comma list, lower-cased) and paths (space list) for each port', () => {
    const { specs, disabled } = specsOf(
      { BATON_0_VHOST: ' Shop.Example.com , *.shop.example.com', BATON_0_PATH: '/api  /v2', BATON_1_VHOST: 'admin.*' },
      {},
      2,
    );
    expect(disabled).toEqual([]);
    expect(specs).toEqual([
      http({ appId: '/shop/web', portIndex: 0, hosts: ['shop.example.com', '*.shop.example.com'], paths: ['/api', '/v2'] }),
      http({ appId: '/shop/web', portIndex: 1, hosts: ['admin.*'], paths: ['/'] }),
    ]);
  });

  it('keeps a non-http spec with its protocol', () => {
    const { specs } = specsOf({ BATON_0_PROTOCOL: 'TLS', BATON_0_VHOST: 'db.example.com' });
    expect(specs).toEqual([{ appId: '/shop/web', portIndex: 0, protocol: 'tls', hosts: ['db.example.com'], ...DEFAULT_SPEC_POLICY }]);
  });
});

describe('routeSpecs: precedence (first dialect that sets a thing wins)', () => {
  it('hosts: baton, then HAPROXY_n_VHOST, then nixy subdomain, then traefik Host', () => {
    const all = { BATON_0_VHOST: 'baton.com', HAPROXY_0_VHOST: 'haproxy.com', subdomain: 'nixy', 'traefik.frontend.rule': 'Host:traefik.com' };
    expect(httpOf(specsOf(all))?.hosts).toEqual(['baton.com']);
    const { BATON_0_VHOST: _b, ...noBaton } = all;
    expect(httpOf(specsOf(noBaton))?.hosts).toEqual(['haproxy.com']);
    const { HAPROXY_0_VHOST: _h, ...nixyAndTraefik } = noBaton;
    expect(httpOf(specsOf(nixyAndTraefik))?.hosts).toEqual(['nixy', 'nixy.*']);
    const { subdomain: _s, ...traefikOnly } = nixyAndTraefik;
    expect(httpOf(specsOf(traefikOnly))?.hosts).toEqual(['traefik.com']);
  });

  it('paths: baton, then HAPROXY_n_PATH, then traefik PathPrefix', () => {
    const rule = 'PathPrefix:/traefik';
    expect(httpOf(specsOf({ BATON_0_PATH: '/baton', HAPROXY_0_PATH: '/haproxy', 'traefik.frontend.rule': rule }))?.paths).toEqual(['/baton']);
    expect(httpOf(specsOf({ HAPROXY_0_PATH: '/haproxy', 'traefik.frontend.rule': rule }))?.paths).toEqual(['/haproxy']);
    expect(httpOf(specsOf({ 'traefik.frontend.rule': rule }))?.paths).toEqual(['/traefik']);
  });

  it('protocol: BATON_n_PROTOCOL, then NIXY_PROTOCOL, then HAPROXY_n_MODE, then udp ports, then http', () => {
    expect(specsOf({ BATON_0_PROTOCOL: 'http', NIXY_PROTOCOL: 'tcp', HAPROXY_0_MODE: 'tcp' }).specs[0]?.protocol).toBe('http');
    expect(specsOf({ NIXY_PROTOCOL: 'udp', HAPROXY_0_MODE: 'http' }).specs[0]?.protocol).toBe('udp');
    expect(specsOf({ HAPROXY_0_MODE: 'tcp' }).specs[0]?.protocol).toBe('tcp');
    expect(routeSpecs(appDef('/dns', { ports: [{ protocol: 'udp' }] }), {}).specs[0]?.protocol).toBe('udp');
    expect(routeSpecs(appDef('/dns', { ports: [{ protocol: 'udp,tcp' }] }), {}).specs[0]?.protocol).toBe('http');
    expect(specsOf({}).specs[0]?.protocol).toBe('http');
  });

  it('realm: BATON_REALM, then NIXY_REALM, then HAPROXY_n_GROUP, then HAPROXY_GROUP', () => {
    const served = (labels: Record<string, string>) => specsOf(labels, { realm: 'edge' }).specs.length === 1;
    expect(served({ BATON_REALM: 'edge', NIXY_REALM: 'other', HAPROXY_0_GROUP: 'other', HAPROXY_GROUP: 'other' })).toBe(true);
    expect(served({ BATON_REALM: 'other', NIXY_REALM: 'edge' })).toBe(false);
    expect(served({ NIXY_REALM: 'edge', HAPROXY_0_GROUP: 'other' })).toBe(true);
    expect(served({ HAPROXY_0_GROUP: 'edge', HAPROXY_GROUP: 'other' })).toBe(true);
    expect(served({ HAPROXY_0_GROUP: 'other', HAPROXY_GROUP: 'edge' })).toBe(false);
    expect(served({ HAPROXY_GROUP: 'internal, edge' })).toBe(true);
  });

  it('a bad label that a higher dialect overrides is not read', () => {
    const { specs, disabled } = specsOf({ BATON_0_VHOST: 'good.example.com', HAPROXY_0_VHOST: 'bad host', HAPROXY_0_MODE: 'quic', BATON_0_PROTOCOL: 'http' });
    expect(disabled).toEqual([]);
    expect(httpOf({ specs, disabled })?.hosts).toEqual(['good.example.com']);
  });
});

describe('routeSpecs: realms', () => {
  it('serves everything without a configured realm', () => {
    expect(specsOf({ BATON_REALM: 'anything' }).specs).toHaveLength(1);
    expect(specsOf({}).specs).toHaveLength(1);
  });

  it('with a realm, serves ports of that realm or *, silently skips the rest and unlabelled ones', () => {
    expect(specsOf({ BATON_REALM: ' internal , edge ' }, { realm: 'edge' }).specs).toHaveLength(1);
    expect(specsOf({ NIXY_REALM: '*' }, { realm: 'edge' }).specs).toHaveLength(1);
    for (const labels of [{ BATON_REALM: 'internal' }, {}] as Record<string, string>[]) {
      const { specs, disabled } = specsOf(labels, { realm: 'edge' });
      expect(specs).toEqual([]);
      expect(disabled).toEqual([]);
    }
  });

  it('filters per port with HAPROXY_n_GROUP', () => {
    const { specs } = specsOf({ HAPROXY_0_GROUP: 'edge', HAPROXY_1_GROUP: 'internal', HAPROXY_1_VHOST: 'one.example.com' }, { realm: 'internal' }, 2);
    expect(specs.map((s) => s.portIndex)).toEqual([1]);
  });

  it('does not report bad labels of ports in another realm', () => {
    const { disabled } = specsOf({ BATON_REALM: 'other', BATON_0_VHOST: 'bad host', HAPROXY_5_VHOST: 'x.com' }, { realm: 'edge' });
    expect(disabled).toEqual([]);
  });
});

describe('routeSpecs: exclusion', () => {
  it('traefik.enable=false excludes the whole app silently', () => {
    expect(specsOf({ 'traefik.enable': 'false', BATON_0_VHOST: 'a.com', HAPROXY_4_VHOST: 'bad host' })).toEqual({ specs: [], disabled: [] });
    expect(specsOf({ 'traefik.enable': 'true' }).specs).toHaveLength(1);
  });

  it('HAPROXY_n_ENABLED=false excludes only port n', () => {
    const { specs, disabled } = specsOf({ HAPROXY_0_ENABLED: 'False', BATON_1_VHOST: 'one.com' }, {}, 2);
    expect(specs.map((s) => s.portIndex)).toEqual([1]);
    expect(disabled).toEqual([]);
  });
});

describe('routeSpecs: nixy', () => {
  it('subdomain names S and S.* for port 0 only', () => {
    const { specs } = specsOf({ subdomain: 'shop  API.v2' }, {}, 2);
    expect(specs).toEqual([http({ appId: '/shop/web', portIndex: 0, hosts: ['shop', 'shop.*', 'api.v2', 'api.v2.*'], paths: ['/'] })]);
  });
});

describe('routeSpecs: traefik', () => {
  it('reads Host and PathPrefix (and PathPrefixStrip) from the frontend rule', () => {
    expect(specsOf({ 'traefik.frontend.rule': 'Host: a.example.com, B.example.com ; PathPrefix:/api,/v2' }).specs[0]).toMatchObject({
      hosts: ['a.example.com', 'b.example.com'],
      paths: ['/api', '/v2'],
    });
    expect(specsOf({ 'traefik.frontend.rule': 'PathPrefixStrip:/strip' }).specs[0]).toMatchObject({ hosts: ['web.shop'], paths: ['/strip'] });
  });

  it('applies the rule to the port traefik.portIndex names; port 0 keeps its default host', () => {
    const { specs } = specsOf({ 'traefik.frontend.rule': 'Host:one.example.com', 'traefik.portIndex': '1' }, {}, 2);
    expect(specs).toEqual([
      http({ appId: '/shop/web', portIndex: 0, hosts: ['web.shop'], paths: ['/'] }),
      http({ appId: '/shop/web', portIndex: 1, hosts: ['one.example.com'], paths: ['/'] }),
    ]);
  });

  it.each([
    ['Host', 'not a Host'],
    ['Host:a.com;Method:GET', 'Method is not supported'],
    ['Host:a.com;Host:b.com', 'one Host matcher'],
    ['HostRegexp:{sub:[a-z]+}.a.com', 'HostRegexp is not supported'],
    ['Host:{sub:[a-z]+}.a.com', 'expected'],
    ['', 'expected'],
  ])('disables the port on an unusable rule %j', (rule, hint) => {
    const { specs, disabled } = specsOf({ 'traefik.frontend.rule': rule });
    expect(specs).toEqual([]);
    expect(disabled).toHaveLength(1);
    expect(disabled[0]?.reason).toContain('traefik.frontend.rule');
    expect(disabled[0]?.reason).toContain(hint === 'not a Host' ? 'expected Host:' : hint);
  });

  it('disables port 0 on a bad traefik.portIndex', () => {
    const { disabled } = specsOf({ 'traefik.frontend.rule': 'Host:a.com', 'traefik.portIndex': 'one' });
    expect(disabled).toEqual([{ appId: '/shop/web', portIndex: 0, reason: expect.stringContaining('traefik.portIndex="one"') }]);
  });
});

describe('routeSpecs: default hosts', () => {
  it('port 0 without host labels is reachable at the reversed app id', () => {
    expect(httpOf(routeSpecs(appDef('/shop/web'), {}))?.hosts).toEqual(['web.shop']);
    expect(httpOf(routeSpecs(appDef('/Prod/Shop/Web'), {}))?.hosts).toEqual(['web.shop.prod']);
  });

  it('also at <reversed id>.<domain> with a domain', () => {
    expect(httpOf(routeSpecs(appDef('/shop/web'), { domain: 'Example.com' }))?.hosts).toEqual(['web.shop', 'web.shop.example.com']);
  });

  it('ports above 0 need a host or path label; a path alone uses the default host', () => {
    expect(specsOf({}, {}, 3).specs.map((s) => s.portIndex)).toEqual([0]);
    const { specs } = specsOf({ BATON_2_PATH: '/admin' }, {}, 3);
    expect(specs[1]).toEqual(http({ appId: '/shop/web', portIndex: 2, hosts: ['web.shop'], paths: ['/admin'] }));
  });

  it('an app without ports asks for nothing', () => {
    expect(routeSpecs(appDef('/worker', { ports: 0 }), {})).toEqual({ specs: [], disabled: [] });
  });
});

describe('routeSpecs: bad labels disable only their port', () => {
  it.each(['a b.com', 'a.*.b', '*', 'a!.com', '', 'a.com:80', '*.*.com', 'a..com', 'münchen.de'])('bad host %j', (host) => {
    const { specs, disabled } = specsOf({ BATON_0_VHOST: host, BATON_1_VHOST: 'fine.example.com' }, {}, 2);
    expect(specs.map((s) => s.portIndex)).toEqual([1]);
    expect(disabled).toEqual([{ appId: '/shop/web', portIndex: 0, reason: expect.stringContaining(`BATON_0_VHOST=${JSON.stringify(host)}`) }]);
    expect(disabled[0]?.reason).toContain('expected host names');
  });

  it.each(['api', '/a?b', '/a#b', ''])('bad path %j', (path) => {
    const { specs, disabled } = specsOf({ HAPROXY_0_PATH: path });
    expect(specs).toEqual([]);
    expect(disabled[0]?.reason).toContain(`HAPROXY_0_PATH=${JSON.stringify(path)}: expected path prefixes starting with /`);
  });

  it('bad protocols, per dialect', () => {
    expect(specsOf({ BATON_0_PROTOCOL: 'quic' }).disabled[0]?.reason).toBe('label BATON_0_PROTOCOL="quic": expected http, tcp, udp, tls');
    expect(specsOf({ HAPROXY_0_MODE: 'udp' }).disabled[0]?.reason).toBe('label HAPROXY_0_MODE="udp": expected http, tcp');
    expect(specsOf({ NIXY_PROTOCOL: 'tls' }).disabled[0]?.reason).toBe('label NIXY_PROTOCOL="tls": expected http, tcp, udp');
  });

  it('bad subdomain', () => {
    expect(specsOf({ subdomain: '*.shop' }).disabled[0]?.reason).toContain('label subdomain="*.shop"');
  });

  it('reports every bad label of a port in one reason', () => {
    const reason = specsOf({ BATON_0_VHOST: 'a b', BATON_0_PATH: 'x' }).disabled[0]?.reason;
    expect(reason).toContain('BATON_0_VHOST');
    expect(reason).toContain('BATON_0_PATH');
  });

  it('a label for a port the app does not have disables that port only', () => {
    const { specs, disabled } = specsOf({ HAPROXY_3_VHOST: 'three.example.com', HAPROXY_3_BIND_ADDR: '10.0.0.42' });
    expect(specs).toEqual([http({ appId: '/shop/web', portIndex: 0, hosts: ['web.shop'], paths: ['/'] })]);
    expect(disabled).toEqual([
      { appId: '/shop/web', portIndex: 3, reason: 'label HAPROXY_3_VHOST="three.example.com" names port 3, but the app has 1 port: expected a port index below 1' },
    ]);
  });

  it('out-of-range ports from baton, traefik and nixy labels too', () => {
    const { disabled } = routeSpecs(appDef('/w', { ports: 0, labels: { BATON_1_PATH: '/x', subdomain: 'w' } }), {});
    expect(disabled.map((d) => [d.portIndex, /^label ([^=]+)=/.exec(d.reason)?.[1]])).toEqual([[0, 'subdomain'], [1, 'BATON_1_PATH']]);
    const traefik = specsOf({ 'traefik.frontend.rule': 'Host:a.com', 'traefik.portIndex': '2' });
    expect(traefik.disabled).toEqual([{ appId: '/shop/web', portIndex: 2, reason: expect.stringContaining('traefik.portIndex="2" names port 2') }]);
  });

  it('HAPROXY_n_ENABLED=false also silences a label for a missing port n', () => {
    expect(specsOf({ HAPROXY_3_VHOST: 'x.com', HAPROXY_3_ENABLED: 'false' }).disabled).toEqual([]);
  });

  it('reads labels named with a canonical port number only', () => {
    expect(specsOf({ HAPROXY_00_VHOST: 'x.com' })).toEqual(specsOf({}));
  });
});
